"""Pruned against dense on digits: density, accuracy and the synaptic operations saved.
``python benchmarks/prune.py [--epochs 12] [--target-density 0.1]``.

Each row trains the default model (``digits_csnn``) with ``spikestack train`` options:
dense, Grad R, and LATS in its three modes (sparsify during training, early pruning over
the first half of the epochs, pruning at initialisation). ``SOP`` is the synaptic
operations per test sample counted on the test data with the pruned synapses skipped
(``estimate_energy(..., skip_zero_weights=True)``), and its share of the dense network's.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from spikestack.deploy import estimate_energy
from spikestack.train import TrainConfig
from spikestack.train.run import load_run, run_training

METHODS = {
    "dense": {},
    "gradr": {"prune": "gradr"},
    "lats (during)": {"prune": "lats", "prune_mode": "during"},
    "lats (early)": {"prune": "lats", "prune_mode": "early"},
    "lats (init)": {"prune": "lats", "prune_mode": "init"},
}


def train(method: str, options: dict, args: argparse.Namespace, out: Path) -> dict:
    optim = {**options, "target_density": args.target_density} if options else {}
    config = TrainConfig.from_dict(
        {
            "optim": optim,
            "run": {"epochs": args.epochs, "progress": False, "out": str(out), "seed": args.seed},
        }
    )
    return run_training(config, log=lambda *a: None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--target-density", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"{'method':14} {'density':>8} {'test acc':>8} {'SOP/sample':>11} {'of dense':>8}")
    dense_sop = None
    with tempfile.TemporaryDirectory() as tmp:
        for method, options in METHODS.items():
            out = Path(tmp) / method.replace(" ", "_").strip("()")
            result = train(method, options, args, out)
            run = load_run(out)
            report = estimate_energy(
                run.network, run.inputs(), steps_per_sample=run.data.T,
                skip_zero_weights=True,
            )  # fmt: skip
            sop = report.totals["sop"]
            dense_sop = sop if dense_sop is None else dense_sop
            share = sop / dense_sop if dense_sop else float("nan")
            print(
                f"{method:14} {result.get('density', 1.0):8.4f} {result['test_accuracy']:8.4f} "
                f"{sop:11.4g} {share:8.3f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
