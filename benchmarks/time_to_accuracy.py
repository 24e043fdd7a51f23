"""Time to accuracy on recorded events: test accuracy and wall time of ``spikestack train``.

``python benchmarks/time_to_accuracy.py [--root ../shared/data/nmnist_small]
[--seeds 0 1 2 3] [--settings default "ce, 12 epochs" …] [--plot PNG] [--json FILE]``

Each setting is the default command (``spikestack train --data folder --root ROOT``:
TET, 20 epochs, ``--optimize`` on the CPU) plus its own options, run once per seed in a
process of its own, so the wall time is what a user waits for, start-up and JIT
compilation included. Each seed draws its own train/validation/test split, and the split
moves the test accuracy by several points, so settings are compared on the same seeds.
It prints one row per setting (test accuracy per seed, their mean, mean wall time) and
plots the validation accuracy against training time, averaged over the seeds (the
per-epoch times the runs log in ``metrics.jsonl``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS: dict[str, list[str]] = {  # the rows of docs/training.md's tables
    "default": [],
    "tet, 12 epochs": ["--epochs", "12"],
    "ce, 12 epochs": ["--loss", "ce", "--epochs", "12"],
    "tet, 15 epochs": ["--epochs", "15"],
    "tet, 16 epochs": ["--epochs", "16"],
    "tet, 12 epochs, lr 0.01": ["--epochs", "12", "--lr", "0.01"],
    "tet, 12 epochs, plif": ["--epochs", "12", "--neuron", "plif"],
    "tet, 12 epochs, bfloat16 membrane": ["--epochs", "12", "--saved-membrane", "bfloat16"],
    "ce, 12 epochs, affine": ["--loss", "ce", "--epochs", "12", "--augment", "affine"],
}


def run(root: str, seed: int, options: list[str], out: Path) -> dict:
    command = [
        sys.executable, "-m", "spikestack", "train", "--data", "folder", "--root", root,
        "--seed", str(seed), "--no-progress", "--out", str(out), *options,
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    final = json.loads((out / "final.json").read_text())
    epochs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return {"test_accuracy": final["test_accuracy"], "wall": wall, "epochs": epochs}


def curve(runs: list[dict]) -> tuple[list[float], list[float]]:
    """Mean cumulative training seconds and mean validation accuracy after each epoch."""
    count = min(len(r["epochs"]) for r in runs)
    seconds, accuracy = [], []
    for e in range(count):
        seconds.append(
            sum(sum(x["seconds"] for x in r["epochs"][: e + 1]) for r in runs) / len(runs)
        )
        accuracy.append(sum(r["epochs"][e]["val_acc"] for r in runs) / len(runs))
    return seconds, accuracy


def plot(results: dict[str, list[dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, runs in results.items():
        seconds, accuracy = curve(runs)
        ax.plot(seconds, accuracy, marker="o", markersize=3, label=name)
    ax.set_xlabel("training time, s (mean over seeds)")
    ax.set_ylabel("validation accuracy (mean over seeds)")
    ax.set_ylim(0.5, 1.0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="../shared/data/nmnist_small")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument(
        "--settings",
        nargs="+",
        default=["default", "tet, 12 epochs", "ce, 12 epochs"],
        choices=list(SETTINGS),
    )
    parser.add_argument("--plot", type=Path, default=None, help="PNG of the curves")
    parser.add_argument("--json", type=Path, default=None, help="write every run's numbers")
    args = parser.parse_args(argv)
    if not Path(args.root).is_dir():
        raise SystemExit(f"--root {args.root}: no such folder (N-MNIST .bs2/.bin samples)")

    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.settings:
            results[name] = [
                run(args.root, seed, SETTINGS[name], Path(tmp) / f"{name}_{seed}")
                for seed in args.seeds
            ]
            runs = results[name]
            accuracies = " / ".join(f"{r['test_accuracy']:.3f}" for r in runs)
            mean = sum(r["test_accuracy"] for r in runs) / len(runs)
            wall = sum(r["wall"] for r in runs) / len(runs)
            print(f"{name:>16}: test {accuracies}  mean {mean:.4f}  wall {wall:.0f} s", flush=True)
    if args.plot is not None:
        plot(results, args.plot)
        print(f"plot: {args.plot}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
