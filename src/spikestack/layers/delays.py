"""DelayedConv1d / DelayedLinear: synapses with learnable delays (Hammouamri et al., ICLR 2024);
math in :mod:`spikestack.functional.delays`."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from spikestack.functional import delays as F
from spikestack.neurons.base import StatefulModule

__all__ = ["DelayedConv1d", "DelayedLinear", "DelaySigmaSchedule", "sigma_at"]


class DelayedConv1d(StatefulModule):
    """A temporal convolution where each synapse has a weight and a learnable real delay.

    ``[T, B, in_channels] -> [T, B, out_channels]``. Delays live in [0, max_delay]
    (initialised uniformly); the kernel is a Gaussian bump of width :attr:`sigma` at
    each delay (anneal sigma with :class:`DelaySigmaSchedule`). After training call
    :meth:`round_delays`: delays become integers and the layer runs exact shifts.
    ``groups`` splits channels as in ``nn.Conv1d`` (groups = channels: one delay per
    channel). Streams with :meth:`step`, keeping the last max_delay inputs as state.
    """

    carried_state = "history"

    sigma: Tensor
    rounded: Tensor

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        max_delay: int,
        groups: int = 1,
        bias: bool = False,
        sigma: float | None = None,
        stateful: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(max_delay, int) or max_delay < 0:
            raise ValueError(f"max_delay must be an int >= 0 (in time steps); got {max_delay!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"in_channels ({in_channels}) and out_channels ({out_channels}) must divide by groups ({groups})"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.max_delay, self.groups, self.stateful = max_delay, groups, bool(stateful)
        fan_in = in_channels // groups
        self.weight = nn.Parameter(torch.empty(out_channels, fan_in))
        self.delay = nn.Parameter(torch.empty(out_channels, fan_in))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.register_buffer(
            "sigma", torch.tensor(float(sigma if sigma is not None else max(max_delay / 2, 0.5)))
        )
        self.register_buffer("rounded", torch.tensor(False))
        self.history: Tensor | None = None
        bound = 1 / math.sqrt(fan_in)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.delay, 0.0, float(max_delay))

    def set_sigma(self, sigma: float) -> None:
        if not sigma > 0:
            raise ValueError(f"sigma must be > 0; got {sigma}")
        self.sigma.fill_(float(sigma))

    def kernel(self) -> Tensor:
        """``[out, in/groups, max_delay + 1]``: Gaussian bumps, or one-hot once rounded."""
        if bool(self.rounded):
            return F.integer_delay_kernel(self.weight, self.delay, max_delay=self.max_delay)
        return F.gaussian_delay_kernel(
            self.weight, self.delay, max_delay=self.max_delay, sigma=float(self.sigma)
        )

    @torch.no_grad()
    def round_delays(self) -> Tensor:
        """Round delays to integers in [0, max_delay]; from now on the layer shifts exactly."""
        self.delay.copy_(self.delay.clamp(0, self.max_delay).round())
        self.rounded.fill_(True)
        return self.integer_delays()

    def integer_delays(self) -> Tensor:
        return self.delay.detach().clamp(0, self.max_delay).round().long()

    def forward(self, x: Tensor) -> Tensor:
        history = self.history if self.stateful else None
        if history is not None and history.shape[1:] != x.shape[1:]:
            raise ValueError(
                "stateful delayed layer got a new input shape; call spikestack.reset(model)"
            )
        y, new_history = F.delayed_conv(
            x, self.kernel(), bias=self.bias, groups=self.groups, history=history
        )
        if self.stateful:
            self.history = new_history
        return y

    def step(self, x_t: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """One step ``x_t [B, C]``; ``state`` = the last max_delay inputs (None = rest)."""
        y, history = F.delayed_conv(
            x_t.unsqueeze(0), self.kernel(), bias=self.bias, groups=self.groups, history=state
        )
        return y[0], history

    def reset(self) -> None:
        self.history = None

    def detach_state(self) -> None:
        if self.history is not None:
            self.history = self.history.detach()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["history"] = None
        return state

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, max_delay={self.max_delay}, groups={self.groups}, "
            f"sigma={float(self.sigma):.3g}, rounded={bool(self.rounded)}"
        )


class DelayedLinear(DelayedConv1d):
    """A dense layer with one learnable delay per synapse: ``[T, B, in] -> [T, B, out]``."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        max_delay: int,
        bias: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(in_features, out_features, max_delay=max_delay, bias=bias, **kwargs)


def sigma_at(step: int, *, total_steps: int, start: float, end: float = 0.5) -> float:
    """Exponential annealing: sigma = start (end / start)^(step / total_steps), held at ``end`` after."""
    if total_steps < 1 or start <= 0 or end <= 0:
        raise ValueError(
            f"need total_steps >= 1 and positive start/end; got {total_steps}, {start}, {end}"
        )
    return start * (end / start) ** (min(step, total_steps) / total_steps)


class DelaySigmaSchedule:
    """Anneal sigma of every delayed layer in ``model`` from max_delay/2 (or ``start``) to ``end``.

    Call :meth:`step` once per epoch (or optimiser step) over ``total_steps``.
    """

    def __init__(
        self, model: nn.Module, *, total_steps: int, start: float | None = None, end: float = 0.5
    ) -> None:
        self.layers = [m for m in model.modules() if isinstance(m, DelayedConv1d)]
        if not self.layers:
            raise ValueError("DelaySigmaSchedule: the model contains no delayed layer")
        self.starts = [
            start if start is not None else max(m.max_delay / 2, end) for m in self.layers
        ]
        self.total_steps, self.end, self.steps_taken = total_steps, end, 0
        sigma_at(0, total_steps=total_steps, start=self.starts[0], end=end)
        self._apply()

    def _apply(self) -> None:
        for layer, start in zip(self.layers, self.starts, strict=True):
            layer.set_sigma(
                sigma_at(self.steps_taken, total_steps=self.total_steps, start=start, end=self.end)
            )

    def step(self) -> None:
        self.steps_taken += 1
        self._apply()
