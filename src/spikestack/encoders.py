"""Encoders turning static inputs ``[B, ...]`` into spike or current sequences ``[T, B, ...]``.

Encoders are frozen dataclasses; randomness comes from an explicit
``torch.Generator`` passed at call time, so results are reproducible. :class:`Delta`
is the exception to the static input: it encodes a sequence ``[T, B, ...]`` by its
changes from step to step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from spikestack.functional.neurons import lif
from spikestack.validation import check_int, check_positive, check_tau

__all__ = ["Delta", "Direct", "LIF", "Latency", "Poisson", "Population", "SignedPoisson"]


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


@dataclass(frozen=True)
class SignedPoisson(Poisson):
    """Signed rate coding for x in [-1, 1]: at each step a neuron emits sign(x) with
    probability ``gain · |x|`` (values in {-1, 0, 1}); the mean over T estimates gain · x."""

    def __call__(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        x = _check_input(x)
        if x.numel() and x.abs().max() > 1:
            raise ValueError(
                f"x must lie in [-1, 1] (scale inputs first); got range "
                f"[{float(x.min())}, {float(x.max())}]"
            )
        u = torch.rand((self.T, *x.shape), generator=generator, device=x.device, dtype=x.dtype)
        return (u < self.gain * x.abs()).to(x.dtype) * torch.sign(x)


@dataclass(frozen=True)
class Population:
    """Population coding with Gaussian receptive fields: each input becomes ``n`` neurons
    whose centres c_k are spread evenly over ``[low, high]``; neuron k responds with
    r_k = exp(-(x - c_k)^2 / (2 sigma^2)), sigma defaulting to the centres' spacing.

    ``spikes=True`` (default): at each step neuron k fires with probability r_k;
    ``spikes=False``: the responses r_k as a constant current at every step.
    ``[B, ...] -> [T, B, ..., n]``; inputs outside the range are clamped to it.
    """

    T: int
    n: int
    low: float = 0.0
    high: float = 1.0
    sigma: float | None = None
    spikes: bool = True

    def __post_init__(self) -> None:
        check_int("T", self.T)
        check_int("n", self.n)
        if self.n < 2:
            raise ValueError(f"n must be >= 2 receptive fields; got {self.n}")
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
            raise ValueError(f"need finite low < high; got low={self.low!r}, high={self.high!r}")
        if self.sigma is not None:
            check_positive("sigma", self.sigma)

    def centres(self, *, dtype: torch.dtype = torch.float32, device: object = None) -> Tensor:
        """The ``n`` receptive-field centres."""
        return torch.linspace(self.low, self.high, self.n, dtype=dtype, device=device)

    def responses(self, x: Tensor) -> Tensor:
        """``[B, ...] -> [B, ..., n]``: each receptive field's response in [0, 1]."""
        x = _check_input(x)
        c = self.centres(dtype=x.dtype, device=x.device)
        sigma = self.sigma if self.sigma is not None else (self.high - self.low) / (self.n - 1)
        d = x.clamp(self.low, self.high).unsqueeze(-1) - c
        return torch.exp(-d.square() / (2 * sigma * sigma))

    def __call__(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        r = self.responses(x)
        if not self.spikes:
            return r.unsqueeze(0).expand(self.T, *r.shape)
        u = torch.rand((self.T, *r.shape), generator=generator, device=r.device, dtype=r.dtype)
        return (u < r).to(r.dtype)


@dataclass(frozen=True)
class LIF:
    """Current coding through a LIF neuron per input: ``gain · x`` is held as a constant
    current for T steps into a LIF (``tau``, ``v_threshold``, hard reset to 0, decay of
    the input as :class:`spikestack.neurons.LIF`'s default), so stronger inputs fire
    sooner and more often (Norse's ``ConstantCurrentLIFEncoder``). An input of
    ``gain · x <= v_threshold`` never fires. Deterministic (the generator is unused).
    """

    T: int
    tau: float = 2.0
    v_threshold: float = 1.0
    gain: float = 1.0

    def __post_init__(self) -> None:
        check_int("T", self.T)
        check_tau(self.tau)
        check_positive("v_threshold", self.v_threshold)
        check_positive("gain", self.gain)

    def __call__(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        x = _check_input(x)
        current = (self.gain * x).unsqueeze(0).expand(self.T, *x.shape)
        return lif(current, tau=self.tau, v_threshold=self.v_threshold, v_reset=0.0)  # type: ignore[return-value]


@dataclass(frozen=True)
class Delta:
    """Delta coding of a sequence ``x [T, B, ...]`` (snnTorch's ``spikegen.delta``):
    +1 where x[t] - x[t-1] >= threshold, and with ``off_spike`` -1 where the change is
    <= -threshold. The first step compares with 0, or with ``padding=True`` with itself
    (no spike). One spike per step at most; for multi-level send-on-delta of audio
    features see :class:`spikestack.data.audio.SendOnDelta`. Deterministic.
    """

    threshold: float = 0.1
    off_spike: bool = False
    padding: bool = False

    def __post_init__(self) -> None:
        check_positive("threshold", self.threshold)

    def __call__(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        x = _check_input(x)
        if x.dim() < 1 or x.shape[0] == 0:
            raise ValueError(
                f"Delta encodes a sequence x [T, ...] with T >= 1; got shape {tuple(x.shape)}"
            )
        first = x[:1] if self.padding else torch.zeros_like(x[:1])
        change = x - torch.cat([first, x[:-1]])
        out = (change >= self.threshold).to(x.dtype)
        if self.off_spike:
            out = out - (change <= -self.threshold).to(x.dtype)
        return out
