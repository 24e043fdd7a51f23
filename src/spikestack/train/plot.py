"""Learning curves and per-layer firing rates of a run folder, drawn to PNG (matplotlib, Agg)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"no metrics.jsonl in {run_dir}")
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number} is not valid JSON: {error}") from error
    return rows


def plot_run(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Draw loss/accuracy curves and the last epoch's per-layer firing rates; returns the PNG path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(run_dir)
    if not rows:
        raise ValueError(f"{run_dir}/metrics.jsonl holds no epochs yet")
    out = Path(out) if out is not None else Path(run_dir) / "learning_curves.png"
    epochs = [r["epoch"] for r in rows]
    rates = rows[-1].get("layer_firing_rates") or {}
    timed = all("seconds" in r for r in rows)
    panels = 2 + bool(rates) + timed
    fig, axes = plt.subplots(1, panels, figsize=(4.4 * panels, 3.6))
    axes[0].plot(epochs, [r["train_loss"] for r in rows], label="train")
    if "val_loss" in rows[0]:
        axes[0].plot(epochs, [r.get("val_loss") for r in rows], label="val")
    axes[0].set(xlabel="epoch", ylabel="loss", title="loss")
    axes[1].plot(epochs, [r["train_acc"] for r in rows], label="train")
    if "val_acc" in rows[0]:
        axes[1].plot(epochs, [r.get("val_acc") for r in rows], label="val")
    axes[1].set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1.01))
    for ax in axes[:2]:
        ax.legend()
        ax.grid(alpha=0.3)
    if timed:  # time to accuracy: the wall clock of training, epoch by epoch
        wall = list(itertools.accumulate(r["seconds"] for r in rows))
        key = "val_acc" if "val_acc" in rows[0] else "train_acc"
        axes[2].plot(wall, [r.get(key) for r in rows], marker=".")
        axes[2].set(xlabel="training time (s)", ylabel=key.replace("_", " "),
                    title="accuracy against time", ylim=(0, 1.01))  # fmt: skip
        axes[2].grid(alpha=0.3)
    if rates:
        ax = axes[-1]
        names = list(rates)
        ax.barh(range(len(names)), [rates[n] for n in names])
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.set(xlabel="spikes / neuron / step", title=f"firing rates (epoch {epochs[-1]})")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
