"""The layer registry: ``create_layer("temporal_attention", T=8)``, ``list_layers()``.

Mirrors the neuron registry, so models and configs can name layers as strings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from spikestack.registry import Registry

__all__ = ["LAYERS", "create_layer", "list_layers", "register_layer"]

LAYERS: Registry[Callable[..., nn.Module]] = Registry("layer")
register_layer = LAYERS.register


def create_layer(name: str | Callable[..., nn.Module], /, *args: Any, **kwargs: Any) -> nn.Module:
    """A layer by registry name (or a callable returning one) and its arguments."""
    factory = LAYERS.get(name) if isinstance(name, str) else name
    return factory(*args, **kwargs)


def list_layers() -> list[str]:
    """Registered layer names, sorted."""
    return LAYERS.names()
