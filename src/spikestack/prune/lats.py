"""LATS: soft-threshold pruning with a learning-rate-adapted threshold scheduler
(Chen, Yu, Huang, Tian; "A Unified Framework for Soft Threshold Pruning", ICLR 2023).

Each prunable weight is w = sign(θ) · ReLU(|θ| − D_t): a soft threshold D_t of a hidden θ.
Seen as ISTA (a gradient step on θ, then the proximal step of an L1 penalty λ‖w‖₁), each
iteration's threshold is λ η_t, so the threshold reached at step t is λ Σ_{k<t} η_k: it
grows with the accumulated learning rate, which keeps the L1 coefficient λ the same
whatever the schedule does (the paper's LATS; with a cosine schedule the fraction reached
is x + sin(πx)/π at x = t/N). The gradient passes the threshold straight through
(∂L/∂θ := ∂L/∂w), so a pruned weight can come back.

Thresholds: ``final_threshold=D`` is the paper's setting (D_t = D · F(t), F the fraction
of the learning rate accumulated); ``target_density=d`` instead takes D as the (1 − d)
quantile of |θ| over all prunable weights, re-estimated every ``refresh`` steps, so the
last step leaves exactly the fraction d. Modes (the paper's three uses of one framework):
``"during"`` (sparsify during training: F over all ``total_steps``), ``"early"`` (F over
the first ``prune_steps``, then the full threshold), ``"init"`` (pruning at
initialisation: the full threshold from the first step on; with ``final_threshold`` it
is fixed, with ``target_density`` it is the quantile re-taken as the weights move).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from spikestack.prune.base import Prunable, Pruner
from spikestack.validation import check_int, check_positive

__all__ = ["LATS", "soft_threshold"]

MODES = ("during", "early", "init")


def soft_threshold(theta: Tensor, threshold: float) -> Tensor:
    """sign(θ) · max(|θ| − D, 0)."""
    return torch.sign(theta) * (theta.abs() - threshold).clamp(min=0.0)


class LATS(Pruner):
    """Soft-threshold pruning around ``optimizer`` (see the module docstring).

    ``lr_at(k)`` gives the learning rate of step k (default: the optimiser's current one
    for every step, a constant schedule) so the threshold can follow the accumulated
    learning rate before it has been spent.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        *,
        total_steps: int,
        target_density: float | None = None,
        final_threshold: float | None = None,
        mode: str = "during",
        prune_steps: int | None = None,
        lr_at: Callable[[int], float] | None = None,
        refresh: int = 20,
        prunable: Prunable = None,
    ) -> None:
        super().__init__(model, optimizer, prunable=prunable)
        if (target_density is None) == (final_threshold is None):
            raise ValueError("LATS takes one of target_density and final_threshold")
        if target_density is not None and not 0 < target_density < 1:
            raise ValueError(f"target_density must be in (0, 1); got {target_density!r}")
        if final_threshold is not None:
            check_positive("final_threshold", final_threshold)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
        self.total_steps = check_int("total_steps", total_steps, minimum=1)
        if mode == "early":
            if prune_steps is None:
                raise ValueError("mode='early' needs prune_steps (when the threshold is full)")
            check_int("prune_steps", prune_steps, minimum=1)
        self.mode = mode
        self.span = {"during": self.total_steps, "early": prune_steps, "init": 0}[mode]
        self.target_density = target_density
        self.final = final_threshold
        self.refresh = check_int("refresh", refresh, minimum=1)
        base_lr = float(optimizer.param_groups[0]["lr"])
        lrs = [float(lr_at(k)) if lr_at is not None else base_lr for k in range(max(self.span, 1))]
        if any(lr < 0 for lr in lrs) or (self.span and sum(lrs) <= 0):
            raise ValueError("lr_at must give learning rates >= 0 that do not all vanish")
        total = sum(lrs)
        running, self.fraction = 0.0, []
        for lr in lrs:  # F(t): the share of the learning rate spent after step t
            running += lr
            self.fraction.append(running / total if total else 1.0)
        self.theta = {name: p.detach().clone() for name, p in self.weights.items()}
        self.full = self._full_threshold()
        self.threshold = self.full if mode == "init" else 0.0
        self._apply()

    def _full_threshold(self) -> float:
        if self.final is not None:
            return self.final
        magnitudes = torch.cat([t.abs().flatten() for t in self.theta.values()])
        k = int(round((1 - self.target_density) * magnitudes.numel()))
        if k <= 0:
            return 0.0
        return float(torch.kthvalue(magnitudes.double(), k).values)

    def progress(self, step: int) -> float:
        """F: the fraction of the full threshold in force after ``step`` steps."""
        if step >= self.span:
            return 1.0
        return self.fraction[step - 1] if step > 0 else 0.0

    @torch.no_grad()
    def _apply(self) -> None:
        for name, p in self.weights.items():
            p.copy_(soft_threshold(self.theta[name], self.threshold))

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        for name, p in self.weights.items():
            p.copy_(self.theta[name])  # the gradient passes the threshold straight through
        loss = self.optimizer.step(closure)
        for name, p in self.weights.items():
            self.theta[name] = p.detach().clone()
        self.steps += 1
        due = self.steps % self.refresh == 0 or self.steps in (self.span, self.total_steps)
        if self.target_density is not None and due:
            self.full = self._full_threshold()  # weights drift: the quantile is re-taken
        self.threshold = self.full * self.progress(self.steps)
        self._apply()
        return loss

    def _state(self) -> dict[str, Any]:
        return {"theta": dict(self.theta), "full": self.full, "threshold": self.threshold}

    def _load(self, state: dict[str, Any]) -> None:
        if set(state["theta"]) != set(self.weights):
            raise ValueError(
                f"LATS state holds {sorted(state['theta'])}, the model prunes {sorted(self.weights)}"
            )
        self.theta = {k: v.to(self.weights[k]) for k, v in state["theta"].items()}
        self.full, self.threshold = float(state["full"]), float(state["threshold"])
        self._apply()
