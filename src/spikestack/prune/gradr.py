"""Grad R: gradient rewiring (Chen, Yu, Fang, Huang, Tian; IJCAI 2021).

Each prunable weight is w = s · ReLU(θ) with a sign s fixed at the start and a synaptic
parameter θ (θ = |w| at the start). A synapse with θ ≤ 0 is pruned and regrows when θ
climbs back above 0: the gradient of θ is *redefined* as s · ∂L/∂w whether or not the
synapse is present (the ReLU's zero gradient is ignored), so pruned synapses keep
competing. A Laplace prior p(θ) ∝ exp(−α |θ − μ|) pulls θ down; its mass above zero,
½ exp(α μ), is the connectivity it favours, so μ = ln(2 d) / α for a target density
d ≤ ½. Each step: θ ← θ − (optimiser step on the redefined gradient) − α η sign(θ − μ).

Here the wrapped optimiser (any: SGD, Adam ...) takes its step on the hidden s·θ, so its
moments and weight decay act on θ; the prior term follows with the group's learning rate
η. The density reached depends on α and the data: α sets how hard the prior pulls.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from spikestack.prune.base import Prunable, Pruner
from spikestack.validation import check_positive

__all__ = ["GradR"]


class GradR(Pruner):
    """Gradient rewiring around ``optimizer`` (see the module docstring).

    ``target_density`` d in (0, 0.5] sets the prior's centre μ = ln(2d) / α; ``prior`` is α
    (default 0.45, which leaves about 10 % of the default digits CSNN: with Adam, whose
    steps are about η in size, a synapse survives where its gradient pushes it up more
    steadily than the prior pulls it down).
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        *,
        target_density: float = 0.1,
        prior: float = 0.45,
        prunable: Prunable = None,
    ) -> None:
        super().__init__(model, optimizer, prunable=prunable)
        if not isinstance(target_density, (int, float)) or not 0 < target_density <= 0.5:
            raise ValueError(
                "GradR's target_density must be in (0, 0.5] (the Laplace prior's centre "
                f"ln(2 d) / alpha is below zero only there); got {target_density!r}"
            )
        self.target_density = float(target_density)
        self.alpha = check_positive("prior", prior)
        self.mu = math.log(2 * self.target_density) / self.alpha
        self.signs: dict[str, Tensor] = {}
        self.theta: dict[str, Tensor] = {}
        with torch.no_grad():
            for name, p in self.weights.items():
                self.signs[name] = torch.where(p >= 0, 1.0, -1.0).to(p.dtype)
                self.theta[name] = p.detach().abs().clone()

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        for name, p in self.weights.items():
            p.copy_(self.signs[name] * self.theta[name])  # the hidden parameter s·θ
        loss = self.optimizer.step(closure)
        for name, p in self.weights.items():
            s = self.signs[name]
            theta = s * p
            theta -= self.alpha * self.lr_of(p) * torch.sign(theta - self.mu)
            self.theta[name] = theta
            p.copy_(s * theta.clamp(min=0.0))
        self.steps += 1
        return loss

    def _state(self) -> dict[str, Any]:
        return {"signs": dict(self.signs), "theta": dict(self.theta)}

    def _load(self, state: dict[str, Any]) -> None:
        for key in ("signs", "theta"):
            stored = state[key]
            if set(stored) != set(self.weights):
                raise ValueError(
                    f"GradR state holds {sorted(stored)}, the model prunes {sorted(self.weights)}"
                )
            for name, value in stored.items():
                getattr(self, key)[name] = value.to(self.weights[name])
