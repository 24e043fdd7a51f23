"""The neuron registry: ``create_neuron("lif", tau=2.0)``, ``list_neurons()``.

Models take ``neuron="lif" | "plif" | "if" | ...`` plus keyword arguments and build
every spiking layer through :func:`create_neuron`, so any registered neuron can be
swapped in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from spikestack.registry import Registry

NEURONS: Registry[Callable[..., nn.Module]] = Registry("neuron")
register_neuron = NEURONS.register


def create_neuron(name: str | Callable[..., nn.Module], **kwargs: Any) -> nn.Module:
    """A neuron module by registry name (or a callable returning one) and its keyword arguments."""
    factory = NEURONS.get(name) if isinstance(name, str) else name
    return factory(**kwargs)


def list_neurons() -> list[str]:
    return NEURONS.names()
