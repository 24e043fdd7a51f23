"""Kernel sharing: tie the weights of convolution (or linear) layers of equal shape.

Layers that apply the same kind of filter at different depths can share one kernel;
the shared tensor is a single ``nn.Parameter`` (gradients from every user add up,
and one optimiser update moves all of them). :func:`share_kernels` ties the weights
and reports the parameter saving.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from torch import nn

from spikestack.layers.time_distributed import TimeDistributed

__all__ = ["SharingReport", "count_parameters", "share_kernels"]


@dataclass(frozen=True)
class SharingReport:
    """Parameters of the tied layers before and after sharing (unique tensors, elements)."""

    layers: int
    parameters_before: int
    parameters_after: int

    @property
    def saved(self) -> int:
        return self.parameters_before - self.parameters_after

    @property
    def saved_fraction(self) -> float:
        return self.saved / self.parameters_before if self.parameters_before else 0.0

    def __str__(self) -> str:
        return (
            f"shared {self.layers} layers: {self.parameters_before} -> {self.parameters_after} parameters "
            f"({self.saved} saved, {100 * self.saved_fraction:.1f}%)"
        )


def count_parameters(
    modules: nn.Module | Iterable[nn.Module], *, trainable_only: bool = False
) -> int:
    """Number of parameter elements, counting a tensor shared by several layers once
    (``trainable_only``: only those with ``requires_grad``)."""
    modules = [modules] if isinstance(modules, nn.Module) else list(modules)
    seen: dict[int, int] = {}
    for module in modules:
        for p in module.parameters():
            if p.requires_grad or not trainable_only:
                seen[id(p)] = p.numel()
    return sum(seen.values())


def _unwrap(layer: nn.Module) -> nn.Module:
    return layer.module if isinstance(layer, TimeDistributed) else layer


def share_kernels(layers: Sequence[nn.Module], *, share_bias: bool = False) -> SharingReport:
    """Make every layer in ``layers`` use the weight (and with ``share_bias`` the bias) of the first.

    The layers (``nn.Conv*``, ``nn.Linear``, DCLS or delayed layers, optionally inside
    :class:`TimeDistributed`) must be of the same type with equal weight shapes.
    """
    units = [_unwrap(layer) for layer in layers]
    if len(units) < 2:
        raise ValueError(f"share_kernels needs at least two layers; got {len(units)}")
    first = units[0]
    if not isinstance(getattr(first, "weight", None), nn.Parameter):
        raise TypeError(f"share_kernels: {type(first).__name__} has no weight parameter")
    for unit in units[1:]:
        if type(unit) is not type(first):
            raise TypeError(
                f"share_kernels: layers must be of one type; got {type(first).__name__} and {type(unit).__name__}"
            )
        if unit.weight.shape != first.weight.shape:
            raise ValueError(
                f"share_kernels: weights must have equal shapes; got {tuple(first.weight.shape)} "
                f"and {tuple(unit.weight.shape)}"
            )
    before = count_parameters(units)
    for unit in units[1:]:
        unit.weight = first.weight
        if (
            share_bias
            and getattr(first, "bias", None) is not None
            and getattr(unit, "bias", None) is not None
        ):
            if unit.bias.shape != first.bias.shape:
                raise ValueError("share_kernels: biases must have equal shapes to share them")
            unit.bias = first.bias
    return SharingReport(
        layers=len(units), parameters_before=before, parameters_after=count_parameters(units)
    )
