"""``spikestack convert RUN_DIR``: an ANN run (trained with ``--neuron relu``, the model's
ANN twin) converted to an SNN (:func:`spikestack.convert.ann_to_snn`), its accuracy and
agreement with the ANN tabulated against T, and the SNN written as a run folder that
``spikestack eval`` (and export, energy, analyse) read.

The run folder of a converted SNN holds ``conversion.json`` (the source run, the method,
T and every neuron's threshold) and the source's ``config.json`` with T set: loading it
rebuilds the SNN from the source run's newest checkpoint and those thresholds, so no
calibration data is needed again. Lives on train's side because it reads run folders.
"""

from __future__ import annotations

import argparse
import json
from itertools import islice
from pathlib import Path
from typing import Any

import torch
from torch import nn

from spikestack.argtypes import positive_int
from spikestack.atomic import atomic_write
from spikestack.train.run import CONVERSION, load_run


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert an ANN run (trained with --neuron relu) into an SNN; accuracy against T",
        description="Convert the ANN twin trained in RUN_DIR (spikestack train --neuron relu, "
        'average pooling: --model-kwargs \'{"pool": "avg"}\') into an IF-neuron SNN, print '
        "its test accuracy and agreement with the ANN for each of --steps, and write the SNN "
        "with --T steps as a run folder for spikestack eval.",
    )
    parser.add_argument("run_dir", help="the ANN's run folder")
    parser.add_argument(
        "--T", type=positive_int, default=32, help="steps of the SNN written to --out"
    )
    parser.add_argument(
        "--steps", default="8,16,32,64", help="the T values to tabulate (comma-separated)"
    )
    parser.add_argument("--method", choices=("max", "percentile", "qcfs"), default="max",
                        help="threshold of each neuron: the activation's maximum, 99.9th "
                        "percentile on the calibration data, or the QCFS clip level")  # fmt: skip
    parser.add_argument("--calib-batches", type=positive_int, default=10,
                        help="training batches for the thresholds")  # fmt: skip
    parser.add_argument(
        "--out", default=None, help="the SNN's run folder (default RUN_DIR/snn-T{T})"
    )
    parser.set_defaults(func=run)


def _steps(text: str) -> list[int]:
    try:
        steps = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise ValueError(f"--steps must be comma-separated whole numbers; got {text!r}") from None
    if not steps or steps[0] < 1:
        raise ValueError(f"--steps must name steps >= 1; got {text!r}")
    return steps


def _static(batch: torch.Tensor, transform: Any) -> torch.Tensor:
    """One step of the encoded input, which is the same at every step (checked)."""
    seq = transform(batch, None)
    if not torch.equal(seq[0], seq[-1]):
        raise ValueError(
            "conversion runs a static input for T steps, but this run's input changes from "
            "step to step (event frames or a spike encoding); train the ANN with --encoding direct"
        )
    return seq[0]


def convert_run(
    run_dir: str | Path,
    *,
    T: int = 32,
    steps: list[int] | None = None,
    method: str = "max",
    calib_batches: int = 10,
    out: str | Path | None = None,
    log: Any = print,
) -> dict[str, Any]:
    """Convert, tabulate and write (see the module docstring); returns the table."""
    from spikestack.convert import ann_to_snn, static_network

    source = load_run(run_dir)
    if source.config.model.neuron.lower() != "relu":
        raise ValueError(
            f"{run_dir} trained a spiking network (--neuron {source.config.model.neuron}); "
            "convert an ANN twin trained with --neuron relu"
        )
    ann = static_network(source.network).eval()
    transform = source.engine.input_transform
    train = source.loaders["train"] or source.eval_loader()
    device = source.engine.device
    calibration = [_static(x.to(device), transform) for x, _ in islice(train, calib_batches)]
    test = [(_static(x.to(device), transform), y.to(device)) for x, y in source.eval_loader()]
    with torch.no_grad():
        ann_pred = [ann(x).argmax(-1) for x, _ in test]
    labels = torch.cat([y for _, y in test])
    ann_pred_all = torch.cat(ann_pred)
    table = [
        {"T": "ANN", "accuracy": float((ann_pred_all == labels).float().mean()), "agreement": 1.0}
    ]
    log(
        f"converted {source.checkpoint.name} of {run_dir} ({method} thresholds, {calib_batches} calibration batches)"
    )
    log(f"{'T':>6}  accuracy  agreement with the ANN")
    log(f"{'ANN':>6}  {table[0]['accuracy']:.4f}")
    snn: nn.Module | None = None
    for steps_t in sorted(set(steps or [8, 16, 32, 64]) | {T}):
        snn_t = ann_to_snn(ann, calibration, method=method, T=steps_t)
        with torch.no_grad():
            pred = torch.cat([snn_t(x).mean(0).argmax(-1) for x, _ in test])
        row = {
            "T": steps_t,
            "accuracy": float((pred == labels).float().mean()),
            "agreement": float((pred == ann_pred_all).float().mean()),
        }
        table.append(row)
        if steps_t == T:
            snn = snn_t
        if steps is None or steps_t in steps:
            log(f"{steps_t:>6}  {row['accuracy']:.4f}    {row['agreement']:.4f}")
    assert isinstance(snn, nn.Module)
    folder = Path(out) if out is not None else Path(run_dir) / f"snn-T{T}"
    folder.mkdir(parents=True, exist_ok=True)
    config = source.config.to_dict()
    config["data"]["T"] = T
    record = {
        "source": str(Path(run_dir).resolve()),
        "checkpoint": source.checkpoint.name,
        "method": method,
        "T": T,
        "sample_dims": snn.sample_dims,  # type: ignore[union-attr]
        "thresholds": snn.thresholds,  # type: ignore[union-attr]
        "table": table,
    }
    final = next(r for r in table if r["T"] == T)
    for name, value in (
        (CONVERSION, record),
        ("config.json", config),
        (
            "final.json",
            {"test_accuracy": final["accuracy"], "agreement": final["agreement"], "T": T},
        ),
    ):
        text = json.dumps(value, indent=2)
        atomic_write(folder / name, lambda f, text=text: f.write(text.encode()))
    log(f"wrote the SNN (T={T}) to {folder}: spikestack eval {folder}")
    return {"table": table, "out": str(folder)}


def run(args: argparse.Namespace) -> int:
    convert_run(
        args.run_dir, T=args.T, steps=_steps(args.steps), method=args.method,
        calib_batches=args.calib_batches, out=args.out,
    )  # fmt: skip
    return 0
