"""Encoders turning static inputs ``[B, ...]`` into spike or current sequences ``[T, B, ...]``.

Encoders are frozen dataclasses; randomness comes from an explicit
``torch.Generator`` passed at call time, so results are reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from spikestack.validation import check_int

__all__ = ["Direct", "Latency", "Poisson"]


def _check_input(x: object) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor [B, ...]; got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"x must be floating point; got dtype {x.dtype}")
    return x


def _check_unit_range(x: Tensor) -> None:
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError(
            f"x must lie in [0, 1] (scale inputs first); got range [{float(x.min())}, {float(x.max())}]"
        )


@dataclass(frozen=True)
class Direct:
    """Repeat the analog input at every step (direct / constant-current encoding)."""

    T: int

    def __post_init__(self) -> None:
        check_int("T", self.T)

    def __call__(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        x = _check_input(x)
        return x.unsqueeze(0).expand(self.T, *x.shape)


@dataclass(frozen=True)
class Poisson:
    """Rate coding: at each step a neuron spikes with probability ``gain · x`` (x in [0, 1])."""

    T: int
    gain: float = 1.0

    def __post_init__(self) -> None:
        check_int("T", self.T)
        if not 0 < self.gain <= 1:
            raise ValueError(f"gain must be in (0, 1]; got {self.gain!r}")

    def __call__(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        x = _check_input(x)
        _check_unit_range(x)
        u = torch.rand((self.T, *x.shape), generator=generator, device=x.device, dtype=x.dtype)
        return (u < self.gain * x).to(x.dtype)


@dataclass(frozen=True)
class Latency:
    """Time-to-first-spike coding: each input fires once, stronger inputs earlier.

    ``linear=True``: t = round((1 - x) · (T - 1)).
    ``linear=False``: the RC-charging time t = tau · ln(x / (x - threshold)), normalised so
    that x = 1 fires at 0 and clipped to the last step (snnTorch-style).
    Inputs ``x <= threshold`` never fire. Deterministic (the generator is unused).
    """

    T: int
    threshold: float = 0.0
    linear: bool = True
    tau: float = 1.0

    def __post_init__(self) -> None:
        check_int("T", self.T)
        if not 0 <= self.threshold < 1:
            raise ValueError(f"threshold must be in [0, 1); got {self.threshold!r}")
        if self.tau <= 0:
            raise ValueError(f"tau must be > 0; got {self.tau!r}")

    def spike_times(self, x: Tensor) -> Tensor:
        """Integer firing step of every input; ``T`` marks inputs that never fire."""
        x = _check_input(x)
        _check_unit_range(x)
        last = self.T - 1
        fires = x > self.threshold
        if self.linear:
            t = torch.round((1 - x) * last)
        else:
            safe = torch.where(fires, x, torch.ones_like(x))
            raw = self.tau * torch.log(safe / (safe - self.threshold).clamp_min(1e-12))
            at_one = self.tau * math.log(1 / (1 - self.threshold)) if self.threshold > 0 else 0.0
            t = torch.clamp(torch.round(raw - at_one), 0, last)
        return torch.where(fires, t, torch.full_like(t, self.T)).long()

    def __call__(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        times = self.spike_times(x)
        steps = torch.arange(self.T, device=x.device).view(-1, *([1] * x.dim()))
        return (steps == times.unsqueeze(0)).to(x.dtype)
