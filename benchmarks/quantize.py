"""Accuracy of fixed-point training against float, and the integer twin's agreement:
``python benchmarks/quantize.py [--data digits|folder --root DIR] [--epochs 3] [--specs ...]``.

For each spec (float, w8v16, w4v16, w2v16, w8v8, w4v8, w2v8 by default; vB means B bits
with half of them fractional) the default model is trained on the data with
``spikestack train --quantize SPEC``; the table gives the test accuracy and, for the
quantized runs, the accuracy of :class:`spikestack.deploy.IntegerNetwork` (int64 only) on
the same test data and how many of its outputs differ from the float model's (0: exact).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from spikestack.deploy import IntegerNetwork
from spikestack.train import TrainConfig
from spikestack.train.run import load_run, run_training

SPECS = ["float", "w8v16", "w4v16", "w2v16", "w8v8", "w4v8", "w2v8"]


def integer_check(run_dir: Path) -> tuple[float, int]:
    """(accuracy of the integer twin, outputs that differ from the float model's)."""
    run = load_run(run_dir)
    model = run.engine.model.eval()
    net = IntegerNetwork(model)
    grid = 2.0**net.config.v_frac_bits
    correct = count = differ = 0
    with torch.no_grad():
        for x, y in run.eval_loader():
            inputs = run.engine.input_transform(x, None)
            units = net(inputs)
            differ += int((units.double() != model(inputs).double() * grid).sum())
            correct += int((units.double().mean(0).argmax(-1) == y).sum())
            count += y.shape[0]
    return correct / count, differ


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits")
    parser.add_argument("--root", default=None)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--specs", nargs="+", default=SPECS)
    args = parser.parse_args(argv)
    print(f"{'spec':8} {'test acc':>8} {'integer acc':>11} {'outputs differing':>17}")
    with tempfile.TemporaryDirectory() as tmp:
        for spec in args.specs:
            quant = None if spec == "float" else spec
            config = TrainConfig.from_dict(
                {
                    "data": {"name": args.data, "root": args.root},
                    "model": {"quantize": quant},
                    "run": {"epochs": args.epochs, "progress": False, "out": f"{tmp}/{spec}"},
                }
            )
            result = run_training(config, log=lambda *a: None)
            row = f"{spec:8} {result['test_accuracy']:8.4f}"
            if quant is not None:
                acc, differ = integer_check(Path(tmp) / spec)
                row += f" {acc:11.4f} {differ:17d}"
            print(row, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
