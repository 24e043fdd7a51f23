"""``spikestack train | eval | resume | plot``.

Every option of :class:`~spikestack.train.config.TrainConfig`'s sections is a flag
(``--batch-size 64``, ``--no-amp``/``--amp``, ``--model-kwargs '{"channels": 16}'``);
``--config FILE.toml`` loads a file first and flags override it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from typing import Any

from spikestack.argtypes import positive_int

_HELP = {
    ("data", "name"): "the data set: digits (embedded, the default), folder (event files under "
    "--root), or another recipe (`spikestack recipes` lists them)",
    ("data", "root"): "folder holding the data set files",
    ("data", "batch_size"): "samples per batch (default: the data set's: 32 for event frames, "
    "64 otherwise)",
    ("data", "T"): "number of time steps: encoder steps for images, frames for event data "
    "(default: the data set's; --frames is the same option)",
    ("data", "encoding"): "encoder for static inputs: direct, poisson or latency",
    ("data", "max_samples"): "use at most this many samples in all (a per-class, seeded subset)",
    ("data", "augment"): "augment training batches: none, shift (up to 2 px), flip, "
    "shift+flip, nda (Li et al. 2022: roll, rotate, cutout, shear, flip), affine (rotate, "
    "scale, shift) or drop (event drop, counts kept with p = 0.9); auto: shift for "
    "event frames of at least 8x8 pixels, none otherwise",
    ("data", "eval_all"): "use every sample as test data",
    ("data", "audio_encoding"): "--data audio: mel (standardised log mel energies), delta "
    "(send-on-delta spikes, ON/OFF) or lif (a LIF cochlea's spikes)",
    ("data", "n_mels"): "--data audio: mel bands",
    ("data", "hop_ms"): "--data audio: mel frame hop in ms",
    ("model", "name"): "model name (see `spikestack models`); auto: the data set's default",
    ("model", "decoder"): "mean (average over time), max (maximum over time), last (last step) "
    "or temporal_weighting (learned weights per step, TTFS paper)",
    ("optim", "loss"): "ce, mse, l1, huber, count_mse, first_spike, van_rossum, tet, tcl, stcl "
    "(see docs/training.md); auto: the data set's (tet for event frames, ce otherwise)",
    ("optim", "rate_penalty"): "add this weight times the summed mean firing rates of the "
    "spiking layers to the loss (rate sparsity)",
    ("model", "quantize"): "train in fixed point: wBITSvBITS[.FRAC], e.g. w8v16 or w4v8.4 "
    "(weights, membrane[.fractional bits]; see docs/deploy.md)",
    ("optim", "prune"): "prune while training: gradr (gradient rewiring) or lats (soft "
    "threshold); see docs/training.md",
    ("optim", "target_density"): "fraction of conv/linear weights the pruner keeps",
    ("optim", "prune_prior"): "Grad R's prior strength alpha (higher: sparser)",
    ("optim", "prune_mode"): "LATS: during (the threshold grows over all epochs), early (over "
    "--prune-epochs, then fine-tuning) or init (pruning at initialisation)",
    ("optim", "prune_epochs"): "LATS early pruning: epochs the threshold grows over "
    "(default half of --epochs)",
    ("run", "optimize"): "before training, time and keep what makes this model faster here "
    "(spikestack.optimize on the first batch: fused backends, channels-last, fast BatchNorm; "
    "checked against the unchanged model; see docs/training.md; default: on for a folder of "
    "events on the CPU, off otherwise)",
    ("run", "epochs"): "epochs to train (default: the data set's: 20 for a folder of events, "
    "12 otherwise)",
    ("model", "init_from"): "start from the weights of this run folder or checkpoint, e.g. "
    "the ANN twin trained with --neuron relu (names and shapes that agree are copied)",
    ("model", "pretrain_ann"): "first train the model's ANN twin (ReLU for the neurons) this "
    "many epochs in RUN_DIR/ann, then start the SNN from it (pipeS)",
    ("optim", "checkpoint_steps"): "checkpointed BPTT: run in windows of K steps, keep only "
    "their inputs and recompute them in backward (same gradients, less memory)",
    ("optim", "tbptt"): "truncated BPTT: backpropagate within windows of this many steps, "
    "carrying the neuron state across them (memory bounded by one window)",
    ("optim", "online"): "online training through time, memory constant in T: ottt (Xiao "
    "et al. 2022) or eprop (Bellec et al. 2020); see docs/training.md",
    ("optim", "online_decay"): "leak of the online methods' eligibility traces, 1 - 1/tau",
    ("optim", "eprop_feedback"): "e-prop's learning signal: symmetric (the output weights) or "
    "random (a fixed random matrix)",
    ("run", "strict_health"): "stop with an error on a training-health problem (silent or "
    "saturated layer, exploding or vanishing values, non-finite loss) instead of warning",
    ("model", "pretrain_data"): "pretrain the ANN twin on this data set instead (pipeD: e.g. "
    "digits_odg, static images made events by ODG, before an event data set)",
    ("model", "pretrain_root"): "the folder of --pretrain-data, where it needs one",
    ("run", "out"): "run folder (default runs/MODEL-DATA-TIMESTAMP)",
    ("run", "amp"): "mixed precision (bfloat16 on CPU, float16/bfloat16 on CUDA)",
    ("run", "saved_membrane"): "float32 or bfloat16: the dtype the fused CPU neurons keep "
    "their membrane in for backward (bfloat16: half its bytes, spikes unchanged, gradients "
    "within about 0.5 %% for smooth surrogates)",
    ("run", "stop_after"): "stop after this many epochs (schedules still plan for --epochs); "
    "resume later",
}


def _field_type(cls: type, field: dataclasses.Field[Any]) -> Any:
    tp = typing.get_type_hints(cls)[field.name]
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 1:
        tp = args[0]
    return tp


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per option of every section (``--lr``, ``--data``, ``--T``/``--frames`` ...)."""
    from spikestack.train.config import SECTIONS, flags_of

    parser.add_argument("--config", help="TOML file with [data], [model], [optim] and [run] tables")
    for section, cls in SECTIONS.items():
        group = parser.add_argument_group(f"[{section}] options")
        for field in dataclasses.fields(cls):
            flags, dest = flags_of(section, field.name), f"{section}.{field.name}"
            tp = _field_type(cls, field)
            help_text = _HELP.get((section, field.name), field.name.replace("_", " "))
            default = (
                field.default_factory()
                if field.default_factory is not dataclasses.MISSING
                else field.default
            )
            if default not in (None, {}, ""):
                help_text += f" (default: {default})"
            if tp is bool:
                group.add_argument(
                    *flags, dest=dest, action=argparse.BooleanOptionalAction, default=None,
                    help=help_text,
                )  # fmt: skip
            elif typing.get_origin(tp) is dict:
                group.add_argument(
                    *flags, dest=dest, type=json.loads, default=None, metavar="JSON",
                    help=help_text + " (JSON)",
                )  # fmt: skip
            elif typing.get_origin(tp) is tuple:
                group.add_argument(
                    *flags, dest=dest, type=positive_int, nargs=3, default=None, metavar=("W", "H", "P"),
                    help=help_text,
                )  # fmt: skip
            else:
                kind = _checked(section, field.name, tp) if tp in (int, float) else tp
                group.add_argument(
                    *flags, dest=dest, type=kind, default=None, metavar=field.name.upper(),
                    help=help_text,
                )  # fmt: skip


def _checked(section: str, name: str, kind: type) -> Any:
    """argparse type for a numeric field: its type and range as TrainConfig.check has them,
    so ``--epochs -3`` or ``--lr x`` is a usage error."""
    from spikestack.train.config import check_value

    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = text
        why = check_value(section, name, value)
        if why is not None:
            raise argparse.ArgumentTypeError(why)
        return value

    return convert


def config_from_args(args: argparse.Namespace) -> Any:
    """The TOML file's configuration (if ``--config``), with every flag given on top."""
    from spikestack.train.config import SECTIONS, TrainConfig

    config = TrainConfig.from_toml(args.config) if getattr(args, "config", None) else TrainConfig()
    for section, cls in SECTIONS.items():
        values = {
            field.name: getattr(args, f"{section}.{field.name}")
            for field in dataclasses.fields(cls)
            if getattr(args, f"{section}.{field.name}", None) is not None
        }
        config.update(section, values)
    return config.check()


def _train(args: argparse.Namespace) -> int:
    from spikestack.train.run import run_training

    run_training(config_from_args(args))
    return 0


def _resume(args: argparse.Namespace) -> int:
    from spikestack.train.run import resume_training

    resume_training(args.run_dir, epochs=args.epochs)
    return 0


def _eval(args: argparse.Namespace) -> int:
    from spikestack.train.run import evaluate_run

    data = {
        key: getattr(args, key)
        for key in ("name", "root", "batch_size")
        if getattr(args, key) is not None
    }
    if "name" in data or "root" in data:
        data["eval_all"] = True
    run = {"device": args.device} if args.device is not None else {}
    evaluate_run(args.run_dir, overrides={"data": data, "run": run}, sparse=args.sparse)
    return 0


def _recipes(args: argparse.Namespace) -> int:
    from spikestack.train.recipes import RECIPES

    print(f"{'name':12} {'layout':9} {'T':>3} {'classes':>7} {'step shape':14} {'model':11} what")
    for name in RECIPES.names():
        r = RECIPES.get(name)
        shape = "from files" if r.input_shape is None else "x".join(map(str, r.input_shape))
        classes = "files" if r.num_classes is None else str(r.num_classes)
        model = r.default_model or "from shape"
        print(f"{name:12} {r.layout:9} {r.T:>3} {classes:>7} {shape:14} {model:11} {r.summary}")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from spikestack.train.plot import plot_run

    print(plot_run(args.run_dir, args.out))
    return 0


def register(subparsers: Any) -> None:
    train = subparsers.add_parser(
        "train", help="train a model (default: a spiking CNN on embedded digits)"
    )
    add_config_flags(train)
    train.set_defaults(func=_train)

    resume = subparsers.add_parser(
        "resume", help="continue a run from its newest readable checkpoint"
    )
    resume.add_argument("run_dir")
    resume.add_argument(
        "--epochs", type=positive_int, default=None, help="train up to this many epochs in total"
    )
    resume.set_defaults(func=_resume)

    evaluate = subparsers.add_parser(
        "eval", help="accuracy of a run's newest checkpoint on its test data or other data"
    )
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--data", dest="name", default=None, help="another data set")
    evaluate.add_argument("--root", default=None)
    evaluate.add_argument("--batch-size", dest="batch_size", type=positive_int, default=None)
    evaluate.add_argument("--device", default=None)
    evaluate.add_argument(
        "--sparse", nargs="?", const="auto", default=None, choices=("auto", "sparse", "dense"),
        help="event-driven inference of the synaptic layers whose input is spikes (auto: "
        "where faster, measured per layer; sparse: always; dense: never, for comparison); "
        "prints each layer's path, input rate and synaptic operations",
    )  # fmt: skip
    evaluate.set_defaults(func=_eval)

    recipes = subparsers.add_parser(
        "recipes", help="list the data sets `spikestack train --data` knows, with their defaults"
    )
    recipes.set_defaults(func=_recipes)

    plot = subparsers.add_parser(
        "plot", help="draw learning curves and firing rates of a run to PNG"
    )
    plot.add_argument("run_dir")
    plot.add_argument("--out", default=None, help="PNG path (default RUN_DIR/learning_curves.png)")
    plot.set_defaults(func=_plot)

    from spikestack.train import deploy_cli

    deploy_cli.register(subparsers)
    from spikestack.train import analyse_cli

    analyse_cli.register(subparsers)
    from spikestack.train import convert_cli

    convert_cli.register(subparsers)
