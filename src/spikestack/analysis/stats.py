"""Firing statistics of spike tensors ``[T, B, N]`` (steps, trials or samples, neurons;
``[T, N]`` is one trial): rate, ISI coefficient of variation, Fano factor and pairwise
synchrony. A Poisson (Bernoulli per step) train has CV and Fano near 1, a regular one 0.
"""

from __future__ import annotations

import torch
from torch import Tensor

from spikestack.validation import check_int

__all__ = ["fano_factor", "firing_rate", "isi_cv", "synchrony"]


def _trials(spikes: Tensor) -> Tensor:
    if not isinstance(spikes, Tensor) or spikes.dim() not in (2, 3):
        raise ValueError(
            f"spikes must be a tensor [T, B, N] or [T, N]; got {getattr(spikes, 'shape', spikes)}"
        )
    spikes = spikes if spikes.dim() == 3 else spikes.unsqueeze(1)
    return (spikes != 0).to(torch.float64)


def firing_rate(spikes: Tensor) -> Tensor:
    """Spikes per step of each neuron, averaged over steps and trials: ``[N]``."""
    return _trials(spikes).mean((0, 1))


def isi_cv(spikes: Tensor) -> Tensor:
    """Per neuron, std / mean of its inter-spike intervals (in steps) pooled over trials;
    NaN where a neuron has fewer than two intervals."""
    s = _trials(spikes)
    steps, trials, neurons = s.shape
    out = torch.full((neurons,), float("nan"), dtype=torch.float64)
    for n in range(neurons):
        gaps = []
        for b in range(trials):
            times = torch.nonzero(s[:, b, n]).flatten()
            if times.numel() > 1:
                gaps.append(torch.diff(times).to(torch.float64))
        if gaps:
            isi = torch.cat(gaps)
            if isi.numel() > 1:
                out[n] = isi.std(unbiased=False) / isi.mean()
    return out


def _counts(spikes: Tensor, window: int | None) -> Tensor:
    """Spike counts ``[windows × trials, N]`` over windows of ``window`` steps (whole T)."""
    s = _trials(spikes)
    steps = s.shape[0]
    window = steps if window is None else check_int("window", window)
    usable = steps // window * window
    if usable == 0:
        raise ValueError(f"window {window} is longer than the {steps} steps")
    counts = s[:usable].unflatten(0, (usable // window, window)).sum(1)  # [W, B, N]
    return counts.flatten(0, 1)


def fano_factor(spikes: Tensor, *, window: int | None = None) -> Tensor:
    """Per neuron, variance / mean of spike counts over trials (and windows of ``window``
    steps); NaN for a neuron that never fires."""
    counts = _counts(spikes, window)
    mean = counts.mean(0)
    return torch.where(mean > 0, counts.var(0, unbiased=True) / mean, torch.nan)


def synchrony(spikes: Tensor, *, window: int | None = None) -> float:
    """The mean pairwise Pearson correlation of spike counts (over trials and windows)
    between neurons that fire and vary: 0 for independent trains, 1 for copies."""
    counts = _counts(spikes, window)
    varying = counts.std(0) > 0
    if int(varying.sum()) < 2:
        raise ValueError("synchrony needs at least two neurons whose counts vary")
    corr = torch.corrcoef(counts[:, varying].T)
    n = corr.shape[0]
    return float((corr.sum() - corr.diagonal().sum()) / (n * (n - 1)))
