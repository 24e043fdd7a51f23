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

:class:`FastBatchNorm1d` / :class:`FastBatchNorm2d` are torch's BatchNorm with the same
parameters, buffers and results, whose training mode runs on numba kernels on the CPU
(:mod:`spikestack.kernels.batchnorm`; 2x torch's forward+backward on channels-last
activations); :func:`batch_norm` is the functional form every BN here calls, and
:func:`fast_batchnorm` swaps them into a model in place (``spikestack.optimize`` does).
"""

from __future__ import annotations

import typing

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from spikestack.kernels import batchnorm as _kernel
from spikestack.validation import check_int, check_positive, check_sequence

__all__ = [
    "BNTT",
    "FastBatchNorm1d",
    "FastBatchNorm2d",
    "TDBatchNorm",
    "TEBN",
    "batch_norm",
    "fast_batchnorm",
]


def batch_norm(
    x: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None,
    bias: Tensor | None,
    training: bool,
    momentum: float,
    eps: float,
) -> Tensor:
    """``torch.nn.functional.batch_norm`` with the same arguments and results; in training
    mode on CPU float32/float64 inputs it runs the numba kernels and updates the running
    statistics itself (``momentum`` weighting the new batch, unbiased variance)."""
    if not training or not _kernel.supports(x):
        return F.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)
    y, mean, var = _kernel.batch_norm_train(x, weight, bias, eps)
    update_running(running_mean, running_var, mean, var, x.numel() // x.shape[1], momentum)
    return y


def update_running(
    running_mean: Tensor | None, running_var: Tensor | None, mean: Tensor, var: Tensor,
    count: int, momentum: float,
) -> None:  # fmt: skip
    """torch's running-statistics update from a batch's mean and biased variance over
    ``count`` values per channel (the variance kept unbiased)."""
    with torch.no_grad():
        if running_mean is not None:
            running_mean.lerp_(mean.to(running_mean.dtype), momentum)
        if running_var is not None:
            unbiased = var * (count / (count - 1))
            running_var.lerp_(unbiased.to(running_var.dtype), momentum)


def batch_schedule(bn: nn.modules.batchnorm._BatchNorm) -> tuple[float, bool, bool]:
    """What torch's BatchNorm forward does with this call: (momentum, whether it uses the
    batch's statistics, whether it reads/updates the running ones); counts the batch in
    ``num_batches_tracked`` as torch does."""
    momentum = 0.0 if bn.momentum is None else bn.momentum
    if bn.training and bn.track_running_stats and bn.num_batches_tracked is not None:
        bn.num_batches_tracked.add_(1)
        if bn.momentum is None:  # cumulative moving average
            momentum = 1.0 / float(bn.num_batches_tracked)
    training = bn.training or (bn.running_mean is None and bn.running_var is None)
    track = not bn.training or bn.track_running_stats
    return momentum, training, track


class _FastBatchNorm:
    """torch's ``_BatchNorm.forward`` with :func:`batch_norm` in place of F.batch_norm."""

    def forward(self, x: Tensor) -> Tensor:
        bn = typing.cast(nn.modules.batchnorm._BatchNorm, self)
        bn._check_input_dim(x)
        momentum, training, track = batch_schedule(bn)
        return batch_norm(
            x,
            bn.running_mean if track else None,
            bn.running_var if track else None,
            bn.weight,
            bn.bias,
            training,
            momentum,
            bn.eps,
        )


class FastBatchNorm1d(_FastBatchNorm, nn.BatchNorm1d):
    """``nn.BatchNorm1d`` whose training mode runs on the numba kernels on the CPU."""


class FastBatchNorm2d(_FastBatchNorm, nn.BatchNorm2d):
    """``nn.BatchNorm2d`` whose training mode runs on the numba kernels on the CPU."""


_FAST = {nn.BatchNorm1d: FastBatchNorm1d, nn.BatchNorm2d: FastBatchNorm2d}


def fast_batchnorm(model: nn.Module) -> int:
    """Turn every ``nn.BatchNorm1d``/``2d`` in ``model`` (exactly those classes, not
    subclasses) into its Fast twin, in place: same parameters and buffers (the same
    tensor objects, so an optimiser built before still holds them), same state_dict
    keys. Returns how many were turned."""
    turned = 0
    for module in model.modules():
        fast = _FAST.get(type(module))
        if fast is not None:
            module.__class__ = fast
            turned += 1
    return turned


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
        y = batch_norm(
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
            batch_norm(
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
