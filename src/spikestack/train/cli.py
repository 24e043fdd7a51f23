"""``spikestack train | eval | resume | plot``.

Every :class:`~spikestack.train.config.TrainConfig` field is a flag
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

_HELP = {
    "data": "digits (embedded), mnist, fashion_mnist, cifar10, folder, or an event data set name",
    "root": "folder holding the data set files",
    "model": "model name (see `spikestack models`); auto picks one for the data",
    "decoder": "mean (average over time) or temporal_weighting (learned weights per step, TTFS paper)",
    "T": "number of time steps for static inputs",
    "encoding": "encoder for static inputs: direct, poisson or latency",
    "frames": "frames per sample for event data",
    "out": "run folder (default runs/MODEL-DATA-TIMESTAMP)",
    "amp": "mixed precision (bfloat16 on CPU, float16/bfloat16 on CUDA)",
    "loss": "ce, mse, tet, ...",
    "stop_after": "stop after this many epochs (schedules still plan for --epochs); resume later",
}


def _field_type(field: dataclasses.Field[Any]) -> Any:
    from spikestack.train.config import TrainConfig

    hints = typing.get_type_hints(TrainConfig)
    tp = hints[field.name]
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 1:
        tp = args[0]
    return tp


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    from spikestack.train.config import TrainConfig

    parser.add_argument(
        "--config", help="TOML file with options (a [train] table or top-level keys)"
    )
    for field in dataclasses.fields(TrainConfig):
        flag = "--" + field.name.replace("_", "-")
        tp = _field_type(field)
        help_text = _HELP.get(field.name, field.name.replace("_", " "))
        default = (
            field.default_factory()
            if field.default_factory is not dataclasses.MISSING
            else field.default
        )
        if default not in (None, {}, ""):
            help_text += f" (default: {default})"
        if tp is bool:
            parser.add_argument(
                flag,
                dest=field.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
        elif typing.get_origin(tp) is dict:
            parser.add_argument(
                flag, dest=field.name, type=json.loads, default=None, help=help_text + " (JSON)"
            )
        elif typing.get_origin(tp) is tuple:
            parser.add_argument(
                flag,
                dest=field.name,
                type=int,
                nargs=3,
                default=None,
                metavar=("W", "H", "P"),
                help=help_text,
            )
        else:
            parser.add_argument(flag, dest=field.name, type=tp, default=None, help=help_text)


def config_from_args(args: argparse.Namespace) -> Any:
    from spikestack.train.config import TrainConfig

    config = TrainConfig.from_toml(args.config) if getattr(args, "config", None) else TrainConfig()
    for field in dataclasses.fields(TrainConfig):
        value = getattr(args, field.name, None)
        if value is not None:
            setattr(config, field.name, tuple(value) if field.name == "sensor_size" else value)
    return config


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

    overrides = {
        k: getattr(args, k)
        for k in ("data", "root", "batch_size", "device")
        if getattr(args, k) is not None
    }
    if args.data is not None or args.root is not None:
        overrides["eval_all"] = True
    evaluate_run(args.run_dir, overrides=overrides)
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
        "--epochs", type=int, default=None, help="train up to this many epochs in total"
    )
    resume.set_defaults(func=_resume)

    evaluate = subparsers.add_parser(
        "eval", help="accuracy of a run's newest checkpoint on its test data or other data"
    )
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--data", default=None)
    evaluate.add_argument("--root", default=None)
    evaluate.add_argument("--batch-size", dest="batch_size", type=int, default=None)
    evaluate.add_argument("--device", default=None)
    evaluate.set_defaults(func=_eval)

    plot = subparsers.add_parser(
        "plot", help="draw learning curves and firing rates of a run to PNG"
    )
    plot.add_argument("run_dir")
    plot.add_argument("--out", default=None, help="PNG path (default RUN_DIR/learning_curves.png)")
    plot.set_defaults(func=_plot)
