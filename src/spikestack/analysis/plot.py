"""Plots of spiking activity (matplotlib, imported lazily); each returns the Figure.

``raster(spikes)``: a dot per spike, neurons against steps; ``membrane(trace,
threshold=)``: membrane traces with the threshold; ``rate_histogram(rates)``: the
distribution of per-neuron rates; ``layer_rates(rates)``: a bar per layer (a Monitor's
``rates()``); ``animate(spikes, path)``: a GIF of a 2-D layer's spikes step by step. Spike tensors are ``[T, N]``, or ``[T, B, ...]`` with ``sample=`` choosing
one sample (the rest is flattened into neurons).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["animate", "layer_rates", "membrane", "rate_histogram", "raster"]


def _plt() -> Any:
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _neurons(values: Any, sample: int) -> np.ndarray:
    a = values.detach().cpu().numpy() if hasattr(values, "detach") else np.asarray(values)
    if a.ndim == 2:
        return a
    if a.ndim >= 3:
        return a[:, sample].reshape(a.shape[0], -1)
    raise ValueError(f"expected [T, N] or [T, B, ...]; got shape {a.shape}")


def raster(spikes: Any, *, sample: int = 0, title: str = "spikes") -> Any:
    """Spike raster of one sample: a dot at (step, neuron) for every spike."""
    s = _neurons(spikes, sample)
    steps, neurons = np.nonzero(s)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.scatter(steps, neurons, s=4, marker="|", color="black")
    ax.set(xlabel="step", ylabel="neuron", title=title, xlim=(-0.5, s.shape[0] - 0.5),
           ylim=(-0.5, s.shape[1] - 0.5))  # fmt: skip
    fig.tight_layout()
    return fig


def membrane(trace: Any, *, threshold: float | None = None, sample: int = 0,
             neurons: int = 5, title: str = "membrane") -> Any:  # fmt: skip
    """The first ``neurons`` membrane traces of one sample, with the threshold dashed."""
    v = _neurons(trace, sample)[:, :neurons]
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3))
    for i in range(v.shape[1]):
        ax.plot(v[:, i], lw=1, label=f"neuron {i}")
    if threshold is not None:
        ax.axhline(threshold, ls="--", color="gray", lw=1, label="threshold")
    ax.set(xlabel="step", ylabel="v", title=title)
    ax.legend(fontsize="small", ncol=2)
    fig.tight_layout()
    return fig


def rate_histogram(spikes: Any, *, bins: int = 20, title: str = "firing rates") -> Any:
    """Histogram of per-neuron firing rates (spikes per step, over steps and samples)."""
    a = spikes.detach().cpu().numpy() if hasattr(spikes, "detach") else np.asarray(spikes)
    rates = (a != 0).reshape(a.shape[0], -1).mean(0) if a.ndim == 2 else (
        (a != 0).reshape(a.shape[0], a.shape[1], -1).mean((0, 1))
    )  # fmt: skip
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.hist(rates, bins=bins, range=(0, 1), color="tab:blue")
    ax.set(xlabel="rate (spikes / step)", ylabel="neurons", title=title)
    fig.tight_layout()
    return fig


def layer_rates(rates: dict[str, float], *, title: str = "firing rate per layer") -> Any:
    """A horizontal bar per layer (e.g. ``Monitor.rates()``)."""
    if not rates:
        raise ValueError("no layer rates to plot")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 0.4 * len(rates) + 1))
    names = list(rates)
    ax.barh(names, [rates[n] for n in names], color="tab:orange")
    ax.invert_yaxis()
    ax.set(xlabel="spikes per neuron per step", title=title)
    fig.tight_layout()
    return fig


def animate(spikes: Any, path: Any, *, sample: int = 0, fps: float = 4.0) -> Any:
    """Write a GIF of a 2-D layer's spikes over time: ``[T, H, W]``, ``[T, C, H, W]`` or
    ``[T, B, C, H, W]`` (``sample`` chosen, channels summed); returns the path."""
    from pathlib import Path

    from matplotlib.animation import FuncAnimation, PillowWriter

    a = spikes.detach().cpu().numpy() if hasattr(spikes, "detach") else np.asarray(spikes)
    if a.ndim == 5:
        a = a[:, sample]
    if a.ndim == 4:
        a = (a != 0).sum(1)
    if a.ndim != 3:
        raise ValueError(f"animate takes [T, H, W], [T, C, H, W] or [T, B, C, H, W]; got {a.shape}")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(3, 3))
    ax.axis("off")
    top = max(float(a.max()), 1.0)
    shown = ax.imshow(a[0], cmap="inferno", vmin=0, vmax=top, interpolation="nearest")

    def update(t: int) -> list:
        shown.set_data(a[t])
        ax.set_title(f"step {t + 1} / {a.shape[0]}")
        return [shown]

    path = Path(path)
    FuncAnimation(fig, update, frames=a.shape[0]).save(path, writer=PillowWriter(fps=fps))
    plt.close(fig)
    return path
