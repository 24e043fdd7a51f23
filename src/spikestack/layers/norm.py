"""Batch normalisation for spiking sequences ``[T, B, C, ...]``: tdBN, BNTT and TEBN.

All three normalise each channel; they differ in which samples share statistics and
how the result is scaled:

- :class:`TDBatchNorm` (threshold-dependent BN, Zheng et al., "Going Deeper With
  Directly-Trained Larger Spiking Neural Networks", AAAI 2021): statistics over time,
  batch and space together; y = λ · α V_th · (x - μ) / sqrt(σ² + ε) + β, so the
  pre-activations are scaled to the threshold (α = 1, or 1/sqrt(2) before a residual
  add). λ (the ``weight``, initialised to 1) and β are learnable.
- :class:`BNTT` (BN through time, Kim & Panda, "Revisiting Batch Normalization for
  Training Low-Latency Deep Spiking Neural Networks From Scratch", Front. Neurosci. 2021):
  one BN per time step, with its own statistics and its own γ_t, β_t; the sequence
  length is fixed at construction.
- :class:`TEBN` (temporal effective BN, Duan et al., "Temporal Effective Batch
  Normalization in Spiking Neural Networks", NeurIPS 2022): statistics over time and
  batch as tdBN, then each step's output scaled by its own learnable p_t:
  y_t = p_t (γ x̂_t + β), p initialised to 1.

Running statistics follow ``torch.nn.BatchNorm`` (momentum, eval mode uses them).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from spikestack.validation import check_int, check_positive, check_sequence

__all__ = ["BNTT", "TDBatchNorm", "TEBN"]


def _check_input(module: nn.Module, x: Tensor, num_features: int) -> None:
    check_sequence(x)
    if x.dim() < 3 or x.shape[2] != num_features:
        raise ValueError(
            f"{type(module).__name__}({num_features}) expects [T, B, {num_features}, ...]; "
            f"got shape {tuple(x.shape)}"
        )


class _SequenceBatchNorm(nn.Module):
    """BN with statistics over T, B and space: the body of tdBN and TEBN."""

    def __init__(self, num_features: int, eps: float, momentum: float) -> None:
        super().__init__()
        self.num_features = check_int("num_features", num_features)
        self.eps = check_positive("eps", eps)
        self.momentum = float(momentum)
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def _normalise(self, x: Tensor, weight: Tensor) -> Tensor:
        _check_input(self, x, self.num_features)
        y = F.batch_norm(
            x.flatten(0, 1), self.running_mean, self.running_var, weight, self.bias,
            self.training, self.momentum, self.eps,
        )  # fmt: skip
        return y.unflatten(0, x.shape[:2])


class TDBatchNorm(_SequenceBatchNorm):
    """Threshold-dependent BN (see the module docstring): ``[T, B, C, ...]`` normalised
    per channel over T, B and space, scaled by ``alpha · v_threshold``."""

    def __init__(
        self,
        num_features: int,
        *,
        alpha: float = 1.0,
        v_threshold: float = 1.0,
        eps: float = 1e-5,
        momentum: float = 0.1,
    ) -> None:
        super().__init__(num_features, eps, momentum)
        self.alpha = check_positive("alpha", alpha)
        self.v_threshold = check_positive("v_threshold", v_threshold)

    def forward(self, x: Tensor) -> Tensor:
        return self._normalise(x, self.weight * (self.alpha * self.v_threshold))

    def extra_repr(self) -> str:
        return f"{self.num_features}, alpha={self.alpha}, v_threshold={self.v_threshold}"


class TEBN(_SequenceBatchNorm):
    """Temporal effective BN (see the module docstring): BN over T, B and space, then each
    step's output times its learnable scale ``p[t]``; the sequence length is ``T``."""

    def __init__(
        self, num_features: int, T: int, *, eps: float = 1e-5, momentum: float = 0.1
    ) -> None:
        super().__init__(num_features, eps, momentum)
        self.T = check_int("T", T)
        self.p = nn.Parameter(torch.ones(T))

    def forward(self, x: Tensor) -> Tensor:
        _check_steps(self, x, self.T)
        y = self._normalise(x, self.weight)
        return y * self.p.view(-1, *([1] * (y.dim() - 1)))

    def extra_repr(self) -> str:
        return f"{self.num_features}, T={self.T}"


class BNTT(nn.Module):
    """BN through time (see the module docstring): step t of ``[T, B, C, ...]`` is
    normalised with its own statistics and its own ``weight[t]``, ``bias[t]``."""

    def __init__(
        self, num_features: int, T: int, *, eps: float = 1e-5, momentum: float = 0.1
    ) -> None:
        super().__init__()
        self.num_features = check_int("num_features", num_features)
        self.T = check_int("T", T)
        self.eps = check_positive("eps", eps)
        self.momentum = float(momentum)
        self.weight = nn.Parameter(torch.ones(T, num_features))
        self.bias = nn.Parameter(torch.zeros(T, num_features))
        self.register_buffer("running_mean", torch.zeros(T, num_features))
        self.register_buffer("running_var", torch.ones(T, num_features))

    def forward(self, x: Tensor) -> Tensor:
        _check_input(self, x, self.num_features)
        _check_steps(self, x, self.T)
        steps = [
            F.batch_norm(
                x_t,
                self.running_mean[t],
                self.running_var[t],
                self.weight[t],
                self.bias[t],
                self.training,
                self.momentum,
                self.eps,
            )  # fmt: skip
            for t, x_t in enumerate(x.unbind(0))
        ]
        return torch.stack(steps)

    def extra_repr(self) -> str:
        return f"{self.num_features}, T={self.T}"


def _check_steps(module: nn.Module, x: Tensor, T: int) -> None:
    if x.shape[0] != T:
        raise ValueError(
            f"{type(module).__name__} was built for T={T} steps (one scale or statistics per "
            f"step); got a sequence of {x.shape[0]}"
        )
