"""Losses on per-step outputs ``[T, B, classes]``.

Every loss takes the model's per-step output (a ``[B, classes]`` output counts as
T = 1) and integer targets ``[B]``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from spikestack.registry import Registry

Loss = Callable[[Tensor, Tensor], Tensor]
LOSSES: Registry[Callable[..., Loss]] = Registry("loss")


def as_sequence(output: Tensor) -> Tensor:
    """``[B, C] -> [1, B, C]``; ``[T, B, C]`` unchanged."""
    if output.dim() == 2:
        return output.unsqueeze(0)
    if output.dim() != 3:
        raise ValueError(
            f"expected model output [T, B, classes] or [B, classes]; got {tuple(output.shape)}"
        )
    return output


def _check_targets(output: Tensor, target: Tensor) -> None:
    if target.dim() != 1 or target.shape[0] != output.shape[1]:
        raise ValueError(
            f"targets must be [B] with B={output.shape[1]} to match the output {tuple(output.shape)}; "
            f"got {tuple(target.shape)}"
        )


@LOSSES.register("ce")
def mean_cross_entropy(*, label_smoothing: float = 0.0) -> Loss:
    """Cross-entropy of the output averaged over time: CE(mean_t O[t], y)."""

    def loss(output: Tensor, target: Tensor) -> Tensor:
        out = as_sequence(output)
        _check_targets(out, target)
        return F.cross_entropy(out.mean(0), target, label_smoothing=label_smoothing)

    return loss


@LOSSES.register("mse")
def rate_mse() -> Loss:
    """MSE between the firing rate (output averaged over time) and the one-hot target."""

    def loss(output: Tensor, target: Tensor) -> Tensor:
        out = as_sequence(output)
        _check_targets(out, target)
        onehot = F.one_hot(target, out.shape[-1]).to(out.dtype)
        return F.mse_loss(out.mean(0), onehot)

    return loss


@LOSSES.register("tet")
def tet(*, lam: float = 1e-3, phi: float = 1.0) -> Loss:
    """Temporal Efficient Training (Deng et al., ICLR 2022).

    L = (1 - lam) · (1/T) Σ_t CE(O[t], y) + lam · (1/T) Σ_t MSE(O[t], phi):
    the cross-entropy is taken at every step rather than on the mean, and a small
    MSE term pulls the outputs towards the constant ``phi``.
    """

    def loss(output: Tensor, target: Tensor) -> Tensor:
        out = as_sequence(output)
        _check_targets(out, target)
        t_steps = out.shape[0]
        ce = F.cross_entropy(out.flatten(0, 1), target.repeat(t_steps))
        if lam == 0:
            return ce
        mse = F.mse_loss(out, torch.full_like(out, phi))
        return (1 - lam) * ce + lam * mse

    return loss


def create_loss(name: str, **kwargs: float) -> Loss:
    return LOSSES.get(name)(**kwargs)


def list_losses() -> list[str]:
    return LOSSES.names()
