"""Optimisers and learning-rate schedules for the training CLI (torch's own, configured)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from spikestack.train.config import OptimConfig


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on weight matrices/kernels only: biases, norms, τ and thresholds are excluded."""
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (decay if p.dim() > 1 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def build_optimizer(model: nn.Module, config: OptimConfig) -> torch.optim.Optimizer:
    groups = param_groups(model, config.weight_decay)
    name = config.optimizer.lower()
    if name == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)
    if name == "adam":
        return torch.optim.Adam(groups, lr=config.lr)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr)
    raise ValueError(f"optimizer must be sgd, adam or adamw; got {config.optimizer!r}")


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: OptimConfig, *, epochs: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    name = config.scheduler.lower()
    if name not in ("none", "cosine", "step"):
        raise ValueError(f"scheduler must be none, cosine or step; got {config.scheduler!r}")
    warm, total = config.warmup_epochs, epochs

    def factor(epoch: int) -> float:
        """Linear warm-up, then constant, cosine to 0, or step decay."""
        if epoch < warm:
            return (epoch + 1) / (warm + 1)
        done = epoch - warm
        if name == "cosine":
            return 0.5 * (1 + math.cos(math.pi * min(done / max(total - warm, 1), 1.0)))
        if name == "step":
            return config.gamma ** (done // config.step_size)
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


PRUNERS = ("gradr", "lats")


def wrap_pruner(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    config: OptimConfig,
    *,
    epochs: int,
    steps_per_epoch: int,
) -> Any:
    """The optimiser wrapped in ``config.prune``'s pruner (or the optimiser itself)."""
    if config.prune is None:
        return optimizer
    name = str(config.prune).lower()
    if name not in PRUNERS:
        raise ValueError(f"prune must be one of {PRUNERS}; got {config.prune!r}")
    from spikestack.prune import LATS, GradR

    if name == "gradr":
        return GradR(
            model, optimizer, target_density=config.target_density, prior=config.prune_prior
        )
    factor = (
        scheduler.lr_lambdas[0]
        if isinstance(scheduler, torch.optim.lr_scheduler.LambdaLR)
        else None
    )  # type: ignore[attr-defined]

    def lr_at(step: int) -> float:
        epoch = step // max(steps_per_epoch, 1)
        return config.lr * (factor(epoch) if factor is not None else 1.0)

    prune_epochs = config.prune_epochs if config.prune_epochs is not None else max(epochs // 2, 1)
    return LATS(
        model, optimizer, total_steps=max(epochs * steps_per_epoch, 1),
        target_density=config.target_density, lr_at=lr_at, mode=config.prune_mode,
        prune_steps=max(prune_epochs * steps_per_epoch, 1),
    )  # fmt: skip
