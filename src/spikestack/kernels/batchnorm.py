"""Training-mode batch normalisation on the CPU with numba kernels.

``torch.nn.functional.batch_norm`` in training mode is a large share of a spiking CNN's
step on the CPU (in ``benchmarks/train_step.py`` channels-last: about 30 of 107 ms,
most of it in the backward). :func:`batch_norm_train` computes the same thing in four
passes over memory — statistics, normalise; in backward gradient sums, input
gradient — on activations stored channels innermost (channels-last), without copying
(see :mod:`spikestack.kernels.batchnorm_kernels`). Results equal torch's to float rounding
(tests compare values, gradients and running statistics in float32 and float64).
"""

from __future__ import annotations

from functools import cache
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from spikestack.kernels._buffers import POOL

__all__ = ["batch_norm_train", "gradients", "moments", "rows", "statistics", "supports"]

_DTYPES = (torch.float32, torch.float64)


def supports(x: Tensor) -> bool:
    """CPU float32/float64 ``[N, C, ...]`` with more than one value per channel, stored
    with channels innermost: a contiguous ``[N, C]`` or a channels-last ``[N, C, H, W]``
    (any other layout runs faster on torch's kernel than these)."""
    return (
        x.device.type == "cpu"
        and x.dtype in _DTYPES
        and x.dim() >= 2
        and x.numel() > x.shape[1]
        and x.movedim(1, -1).is_contiguous()
    )


@cache
def _kernels() -> ModuleType:
    from spikestack.kernels import batchnorm_kernels

    return batchnorm_kernels


def _blocks(rows: int) -> int:
    import numba

    return max(1, min(rows, 8 * int(numba.get_num_threads())))


def rows(t: Tensor) -> np.ndarray:
    """``t [N, C, ...]`` as a ``[M, C]`` array (a view when channels are innermost)."""
    return t.movedim(1, -1).contiguous().reshape(-1, t.shape[1]).numpy()


def _empty_like(x: Tensor) -> tuple[Tensor, np.ndarray]:
    """An uninitialised tensor with x's shape and channels-innermost strides, and its rows
    (recycled memory: fresh pages cost more than the pass that fills them)."""
    out = POOL.empty_channels_last(tuple(x.shape), x.dtype)
    return out, rows(out)


def statistics(
    xa: np.ndarray, weight: Tensor | None, bias: Tensor | None, eps: float
) -> tuple[np.ndarray, ...]:
    """Per channel of ``xa [M, C]``: (mean, biased var, 1/std, gamma, a, b) in float64
    but ``a = gamma / std`` and ``b = beta - mean · a`` in xa's dtype (y = a · x + b)."""
    count, channels = xa.shape
    shift = xa[0].astype(np.float64)
    sh = shift.astype(xa.dtype)
    s, q = _kernels().rows_sums(xa, sh, xa, sh, _blocks(count))
    d_mean = s / count
    mean = shift + d_mean
    var = np.maximum(q / count - d_mean * d_mean, 0.0)
    invstd = 1.0 / np.sqrt(var + eps)
    gamma = np.ones(channels) if weight is None else weight.detach().double().numpy()
    beta = np.zeros(channels) if bias is None else bias.detach().double().numpy()
    a = (gamma * invstd).astype(xa.dtype)
    b = (beta - mean * gamma * invstd).astype(xa.dtype)
    return mean, var, invstd, gamma, a, b


def gradients(
    ga: np.ndarray, xa: np.ndarray, mean: np.ndarray, invstd: np.ndarray, gamma: np.ndarray,
    x_like: Tensor | None,
) -> tuple[Tensor | None, np.ndarray, np.ndarray]:  # fmt: skip
    """(dL/dx with ``x_like``'s shape and channels-innermost strides, or None when
    ``x_like`` is None; dL/dgamma; dL/dbeta) from dL/dy ``ga`` and x ``xa``, both
    ``[M, C]``."""
    k = _kernels()
    count = xa.shape[0]
    blocks = _blocks(count)
    zero = np.zeros(xa.shape[1], dtype=xa.dtype)
    gs, gq = k.rows_sums(ga, zero, xa, mean.astype(xa.dtype), blocks)
    dgamma = gq * invstd  # sum(dy * xhat)
    k1 = gamma * invstd
    k2 = -k1 * invstd * dgamma / count
    k3 = -k1 * gs / count - k2 * mean
    dx = None
    if x_like is not None:
        dx, oa = _empty_like(x_like)
        k.rows_input_grad(ga, xa, *(c.astype(xa.dtype) for c in (k1, k2, k3)), oa, blocks)
    return dx, dgamma, gs


def moments(mean: np.ndarray, var: np.ndarray, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """The batch mean and biased variance as tensors, for the running statistics."""
    return torch.from_numpy(mean).to(dtype), torch.from_numpy(var).to(dtype)


class _BatchNorm(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, x: Tensor, weight: Tensor | None, bias: Tensor | None, eps: float
    ) -> tuple[Tensor, Tensor, Tensor]:
        x = x.detach()
        xa = rows(x)
        mean, var, invstd, gamma, a, b = statistics(xa, weight, bias, eps)
        y, ya = _empty_like(x)
        _kernels().rows_affine(xa, a, b, ya, _blocks(xa.shape[0]))
        ctx.save_for_backward(x)
        ctx.stats = (mean, invstd, gamma)
        ctx.has = (weight is not None, bias is not None)
        mean_t, var_t = moments(mean, var, x.dtype)
        ctx.mark_non_differentiable(mean_t, var_t)
        return y, mean_t, var_t

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, dy: Tensor, _dmean: Any, _dvar: Any) -> tuple[Any, ...]:
        (x,) = ctx.saved_tensors
        dx, dgamma, dbeta = gradients(
            rows(dy), rows(x), *ctx.stats, x if ctx.needs_input_grad[0] else None
        )
        return dx, *parameter_grads(ctx, dgamma, dbeta, x.dtype, first=1), None


def parameter_grads(
    ctx: Any, dgamma: np.ndarray, dbeta: np.ndarray, dtype: torch.dtype, first: int
) -> tuple[Tensor | None, Tensor | None]:
    """dL/dweight and dL/dbias as tensors where the layer has them and they are needed
    (``ctx.needs_input_grad[first]`` and ``[first + 1]``), else None."""
    has_w, has_b = ctx.has
    need = ctx.needs_input_grad
    dw = torch.from_numpy(dgamma).to(dtype) if has_w and need[first] else None
    db = torch.from_numpy(dbeta).to(dtype) if has_b and need[first + 1] else None
    return dw, db


def batch_norm_train(
    x: Tensor, weight: Tensor | None, bias: Tensor | None, eps: float
) -> tuple[Tensor, Tensor, Tensor]:
    """``(y, mean, var)``: ``x [N, C, ...]`` normalised with its own per-channel statistics
    (biased variance, as in training) then scaled by ``weight`` and shifted by ``bias``;
    ``mean`` and the biased ``var`` for the caller's running statistics."""
    if not supports(x):
        raise ValueError(
            "batch_norm_train takes a CPU float32/float64 tensor [N, C, ...] stored with "
            "channels innermost ([N, C] or channels-last) and more than one value per "
            f"channel; got {x.dtype} {tuple(x.shape)} with strides {x.stride()} on {x.device}"
        )
    return _BatchNorm.apply(x, weight, bias, float(eps))
