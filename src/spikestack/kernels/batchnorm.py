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

__all__ = ["batch_norm_train", "supports"]

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


def _rows(t: Tensor) -> np.ndarray:
    """``t [N, C, ...]`` as a ``[M, C]`` array (a view when channels are innermost)."""
    return t.movedim(1, -1).contiguous().reshape(-1, t.shape[1]).numpy()


def _empty_like(x: Tensor) -> tuple[Tensor, np.ndarray]:
    """An uninitialised tensor with x's shape and channels-innermost strides, and its rows
    (recycled memory: fresh pages cost more than the pass that fills them)."""
    out = POOL.empty_channels_last(tuple(x.shape), x.dtype)
    return out, _rows(out)


class _BatchNorm(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, x: Tensor, weight: Tensor | None, bias: Tensor | None, eps: float
    ) -> tuple[Tensor, Tensor, Tensor]:
        k = _kernels()
        x = x.detach()
        xa = _rows(x)
        count, channels = xa.shape
        blocks = _blocks(count)
        shift = xa[0].astype(np.float64)
        sh = shift.astype(xa.dtype)
        s, q = k.rows_sums(xa, sh, xa, sh, blocks)
        d_mean = s / count
        mean = shift + d_mean
        var = np.maximum(q / count - d_mean * d_mean, 0.0)
        invstd = 1.0 / np.sqrt(var + eps)
        gamma = np.ones(channels) if weight is None else weight.detach().double().numpy()
        beta = np.zeros(channels) if bias is None else bias.detach().double().numpy()
        a = (gamma * invstd).astype(xa.dtype)
        b = (beta - mean * gamma * invstd).astype(xa.dtype)
        y, ya = _empty_like(x)
        k.rows_affine(xa, a, b, ya, blocks)
        ctx.save_for_backward(x)
        ctx.stats = (mean, invstd, gamma)
        ctx.has = (weight is not None, bias is not None)
        mean_t = torch.from_numpy(mean).to(x.dtype)
        var_t = torch.from_numpy(var).to(x.dtype)
        ctx.mark_non_differentiable(mean_t, var_t)
        return y, mean_t, var_t

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, dy: Tensor, _dmean: Any, _dvar: Any) -> tuple[Any, ...]:
        k = _kernels()
        (x,) = ctx.saved_tensors
        mean, invstd, gamma = ctx.stats
        xa = _rows(x)
        ga = _rows(dy)
        count = xa.shape[0]
        blocks = _blocks(count)
        zero = np.zeros(xa.shape[1], dtype=xa.dtype)
        gs, gq = k.rows_sums(ga, zero, xa, mean.astype(xa.dtype), blocks)
        dgamma = gq * invstd  # sum(dy * xhat)
        k1 = gamma * invstd
        k2 = -k1 * invstd * dgamma / count
        k3 = -k1 * gs / count - k2 * mean
        dx = None
        if ctx.needs_input_grad[0]:
            dx, oa = _empty_like(x)
            coef = [c.astype(xa.dtype) for c in (k1, k2, k3)]
            k.rows_input_grad(ga, xa, *coef, oa, blocks)
        has_w, has_b = ctx.has
        dw = torch.from_numpy(dgamma).to(x.dtype) if has_w and ctx.needs_input_grad[1] else None
        db = torch.from_numpy(gs).to(x.dtype) if has_b and ctx.needs_input_grad[2] else None
        return dx, dw, db, None


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
