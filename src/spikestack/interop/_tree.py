"""Walk a peer's module tree: neurons converted, torch layers wrapped per time step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from spikestack.layers import TimeDistributed
from spikestack.neurons import Neuron

__all__ = ["convert_tree", "scalar", "unsupported"]


def unsupported(peer: str, module: nn.Module, what: str) -> ValueError:
    return ValueError(
        f"{peer} {type(module).__name__}: {what}; it has no exact spikestack equivalent"
    )


def scalar(peer: str, module: nn.Module, name: str, value: Any) -> float:
    """A parameter that must be one number (not per neuron, not learnable)."""
    if isinstance(value, nn.Parameter) and value.requires_grad:
        raise unsupported(peer, module, f"learnable {name}")
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise unsupported(peer, module, f"{name} with {value.numel()} values (one per neuron)")
        return float(value.detach().reshape(()))
    return float(value)


def convert_tree(
    module: nn.Module,
    convert_neuron: Callable[[nn.Module], nn.Module | None],
    *,
    peer: str,
    prefix: str = "",
) -> nn.Module:
    """``module`` with every peer neuron converted (``convert_neuron`` returns None for a
    module that is not one) and every torch leaf layer wrapped in TimeDistributed."""
    converted = convert_neuron(module)
    if converted is not None:
        return converted
    if isinstance(module, Neuron | TimeDistributed):
        return module
    if isinstance(module, nn.Sequential):
        return nn.Sequential(
            *(
                convert_tree(child, convert_neuron, peer=peer, prefix=f"{prefix}{name}.")
                for name, child in module.named_children()
            )
        )
    if next(module.children(), None) is None:
        return TimeDistributed(module)
    raise ValueError(
        f"{prefix or 'the model'} ({type(module).__name__}) is a module with its own forward; "
        f"from_{peer.lower()} converts a neuron or an nn.Sequential. Convert each neuron "
        f"(from_{peer.lower()}(neuron)) and call the results on [T, B, ...] sequences"
    )
