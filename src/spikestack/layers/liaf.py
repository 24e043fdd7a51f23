"""LIAF-Net layers (Wu et al., TNNLS 2021): a synapse (conv or dense, optionally with
BatchNorm) followed by a :class:`spikestack.neurons.LIAF` neuron, so analog values
f(U) flow between layers while the membrane keeps LIF dynamics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor, nn

from spikestack.neurons.base import StatefulModule
from spikestack.neurons.liaf import LIAF
from spikestack.validation import check_sequence

__all__ = ["LIAFConv2d", "LIAFLinear"]


class _LIAFLayer(StatefulModule):
    """I[t] = norm(synapse(X[t])); Y = LIAF(I). Subclasses build ``self.synapse``."""

    carried_state = None  # its neuron carries the membrane

    synapse: nn.Module
    norm: nn.Module

    def _current(self, x: Tensor) -> Tensor:
        return self.norm(self.synapse(x))

    def forward(self, x: Tensor) -> Tensor:
        check_sequence(x)
        t, b = x.shape[:2]
        current = self._current(x.flatten(0, 1)).unflatten(0, (t, b))
        return self.neuron(current)

    def step(self, x_t: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """One step: ``x_t [B, ...]`` and the membrane ``state``. With BatchNorm, streaming
        equals the multi-step call in eval mode (training mode normalises per call)."""
        return self.neuron.step(self._current(x_t), state)

    def reset(self) -> None:
        self.neuron.reset()

    def detach_state(self) -> None:
        self.neuron.detach_state()


class LIAFLinear(_LIAFLayer):
    """Dense LIAF layer: ``[T, B, in_features] -> [T, B, out_features]`` (analog outputs)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = True,
        norm: bool = False,
        tau: float = 2.0,
        v_threshold: float = 1.0,
        activation: str | Callable[[Tensor], Tensor] = "relu",
        stateful: bool = False,
        **neuron_kwargs: Any,
    ) -> None:
        super().__init__()
        self.synapse = nn.Linear(in_features, out_features, bias=bias)
        self.norm = nn.BatchNorm1d(out_features) if norm else nn.Identity()
        self.neuron = LIAF(
            tau, v_threshold, activation=activation, stateful=stateful, **neuron_kwargs
        )


class LIAFConv2d(_LIAFLayer):
    """Convolutional LIAF layer: ``[T, B, C, H, W] -> [T, B, C_out, H', W']``; conv -> BN -> LIAF
    as in LIAF-Net (``norm=False`` drops the BatchNorm)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        *,
        stride: int = 1,
        padding: int | str = 0,
        bias: bool = False,
        norm: bool = True,
        tau: float = 2.0,
        v_threshold: float = 1.0,
        activation: str | Callable[[Tensor], Tensor] = "relu",
        stateful: bool = False,
        **neuron_kwargs: Any,
    ) -> None:
        super().__init__()
        self.synapse = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias
        )
        self.norm = nn.BatchNorm2d(out_channels) if norm else nn.Identity()
        self.neuron = LIAF(
            tau, v_threshold, activation=activation, stateful=stateful, **neuron_kwargs
        )

    def forward(self, x: Tensor) -> Tensor:
        check_sequence(x)
        if x.dim() != 5:
            raise ValueError(f"LIAFConv2d expects x of shape [T, B, C, H, W]; got {tuple(x.shape)}")
        return super().forward(x)
