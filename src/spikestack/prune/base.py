"""What the pruners share: the prunable weights, density, masks and the optimiser wrapper.

A pruner wraps the optimiser that trains the model (``pruner.step()`` instead of
``optimizer.step()``; ``param_groups``, ``zero_grad``, ``state_dict`` and
``load_state_dict`` pass through, so the training engine and the learning-rate scheduler
see an optimiser). Prunable by default: the weights of Conv1d/Conv2d/Linear layers (not
biases, BatchNorm or neuron parameters); ``prunable=`` takes other module types or a
predicate ``(name, module) -> bool``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from spikestack.atomic import atomic_write

__all__ = [
    "Pruner",
    "density",
    "export_masks",
    "layer_densities",
    "masks",
    "prunable_weights",
    "remove",
]

PRUNABLE = (nn.Conv1d, nn.Conv2d, nn.Linear)

Prunable = Iterable[type[nn.Module]] | Callable[[str, nn.Module], bool] | None


def _selector(prunable: Prunable) -> Callable[[str, nn.Module], bool]:
    if prunable is None:
        return lambda name, m: isinstance(m, PRUNABLE)
    if callable(prunable) and not isinstance(prunable, type):
        return prunable  # type: ignore[return-value]
    kinds = tuple(prunable)  # type: ignore[arg-type]
    if not kinds or not all(isinstance(k, type) and issubclass(k, nn.Module) for k in kinds):
        raise TypeError(
            "prunable must be module types (e.g. (nn.Conv2d, nn.Linear)) or a predicate "
            f"(name, module) -> bool; got {prunable!r}"
        )
    return lambda name, m: isinstance(m, kinds)


def prunable_weights(model: nn.Module, prunable: Prunable = None) -> dict[str, nn.Parameter]:
    """``{"<module>.weight": parameter}`` of the prunable layers, in model order."""
    choose = _selector(prunable)
    found = {
        f"{name}.weight" if name else "weight": m.weight
        for name, m in model.named_modules()
        if choose(name, m) and isinstance(getattr(m, "weight", None), nn.Parameter)
    }
    if not found:
        raise ValueError(f"{type(model).__name__} has no prunable weight (conv or linear layers)")
    return found


def layer_densities(model: nn.Module, prunable: Prunable = None) -> dict[str, float]:
    """Per prunable weight, the fraction of its entries that are non-zero."""
    return {
        name: float((p.detach() != 0).sum()) / p.numel()
        for name, p in prunable_weights(model, prunable).items()
    }


def density(model: nn.Module, prunable: Prunable = None) -> float:
    """The fraction of non-zero entries over all prunable weights together."""
    weights = prunable_weights(model, prunable).values()
    nonzero = sum(float((p.detach() != 0).sum()) for p in weights)
    return nonzero / sum(p.numel() for p in weights)


def masks(model: nn.Module, prunable: Prunable = None) -> dict[str, Tensor]:
    """Per prunable weight, the boolean mask of its kept (non-zero) entries."""
    return {name: p.detach() != 0 for name, p in prunable_weights(model, prunable).items()}


def export_masks(model: nn.Module, path: str | os.PathLike[str], prunable: Prunable = None) -> Path:
    """Write :func:`masks` to ``path`` (``.npz``, one boolean array per weight name),
    atomically; ``numpy.load(path)[name]`` reads one back."""
    arrays = {name: m.cpu().numpy() for name, m in masks(model, prunable).items()}

    def write(f: Any) -> None:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        f.write(buffer.getvalue())

    return atomic_write(path, write)


def remove(model: nn.Module, prunable: Prunable = None) -> nn.Module:
    """Make the current sparsity permanent: every zero of a prunable weight stays zero
    under further training (its gradient is zeroed and the weight re-masked before each
    forward, whatever the optimiser's momentum or weight decay). Returns ``model``."""
    choose = _selector(prunable)
    for name, m in model.named_modules():
        weight = getattr(m, "weight", None)
        if not choose(name, m) or not isinstance(weight, nn.Parameter):
            continue
        mask = weight.detach() != 0
        if hasattr(m, "_spikestack_prune_mask"):
            m._spikestack_prune_mask.logical_and_(mask)
            continue
        m.register_buffer("_spikestack_prune_mask", mask, persistent=False)
        weight.register_hook(lambda grad, m=m: grad * m._spikestack_prune_mask)
        m.register_forward_pre_hook(_apply_mask)
    return model


def _apply_mask(module: nn.Module, args: Any) -> None:
    with torch.no_grad():
        module.weight.mul_(module._spikestack_prune_mask)


class Pruner:
    """Wraps ``optimizer``; subclasses change the prunable weights around its step."""

    def __init__(
        self, model: nn.Module, optimizer: torch.optim.Optimizer, *, prunable: Prunable = None
    ) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"a pruner wraps a torch optimiser; got {type(optimizer).__name__}")
        self.model = model
        self.optimizer = optimizer
        self.prunable = prunable
        self.weights = prunable_weights(model, prunable)
        self.steps = 0

    # -- the optimiser interface -------------------------------------------------------
    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.optimizer.param_groups

    @property
    def state(self) -> Any:
        return self.optimizer.state

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # pragma: no cover
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "pruner": self._state(),
            "steps": self.steps,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "pruner" not in state:
            raise ValueError(
                "this optimiser state was saved without a pruner; resume with the same --prune"
            )
        self.optimizer.load_state_dict(state["optimizer"])
        self.steps = int(state.get("steps", 0))
        self._load(state["pruner"])

    def _state(self) -> dict[str, Any]:
        return {}

    def _load(self, state: dict[str, Any]) -> None:
        return None

    # -- what they report -------------------------------------------------------------
    def density(self) -> float:
        """The fraction of non-zero prunable weights now."""
        return density(self.model, self.prunable)

    def layer_densities(self) -> dict[str, float]:
        return layer_densities(self.model, self.prunable)

    def lr_of(self, param: nn.Parameter) -> float:
        for group in self.optimizer.param_groups:
            if any(p is param for p in group["params"]):
                return float(group["lr"])
        raise ValueError("a prunable weight is not trained by the wrapped optimiser")
