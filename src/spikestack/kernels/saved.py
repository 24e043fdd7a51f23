"""The membrane trace the fused CPU neuron keeps for backward, in float32 or bfloat16.

The fused IF/LIF/PLIF kernel saves H (the membrane after charging, before reset) for the
backward pass, which recomputes the spikes from it (H >= v_threshold) and evaluates the
surrogate at H - v_threshold. :func:`saved_membrane` (a context manager) keeps H in
bfloat16 instead: half the bytes of that saved tensor. Rounding to bfloat16 (8 bits of
precision, round to nearest even) moves H by at most 2^-8 of its size, which changes the
surrogate's value a little, but it must not change a spike: where rounding would carry H
across the threshold, the stored value is the next bfloat16 on the spike's side (at most
2^-7 away), so the backward pass sees exactly the forward's spikes. The fused CPU kernel
writes these bfloat16 values itself and its backward decodes them row by row in cache
(no float32 H is written at all); with a custom surrogate, whose derivative torch
evaluates on the whole H, H is encoded by one numba pass (:func:`encode`) and decoded by
one torch conversion.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import cache
from typing import Any

import numpy as np
import torch
from torch import Tensor

from spikestack.kernels._buffers import POOL

__all__ = [
    "SAVED_DTYPES", "decode", "encode", "membrane_dtype", "saved_dtype", "saved_membrane",
    "threshold_key",
]  # fmt: skip

SAVED_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
_current: list[torch.dtype] = [torch.float32]


def saved_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """``dtype`` (a name or a torch dtype) as one of :data:`SAVED_DTYPES`, or a ValueError."""
    chosen = SAVED_DTYPES.get(dtype, dtype) if isinstance(dtype, str) else dtype
    if chosen not in SAVED_DTYPES.values():
        raise ValueError(f"saved_membrane takes {sorted(SAVED_DTYPES)}; got {dtype!r}")
    return chosen


@contextlib.contextmanager
def saved_membrane(dtype: str | torch.dtype) -> Iterator[None]:
    """Within the block, fused CPU neurons in float32 keep H for backward as ``dtype``
    ("float32", the default, or "bfloat16"); the dtype is read when the forward runs."""
    _current.append(saved_dtype(dtype))
    try:
        yield
    finally:
        _current.pop()


def membrane_dtype() -> torch.dtype:
    """The dtype H is saved in for the forward running now."""
    return _current[-1]


def threshold_key(v_threshold: float) -> np.int32:
    """The float32 threshold as the signed integer that orders floats as their values,
    -0 as +0 (:func:`spikestack.kernels.cpu_kernels.order_key`, which
    :func:`~spikestack.kernels.cpu_kernels.bf16_bits` compares H's against)."""
    b = int(np.array([v_threshold], dtype=np.float32).view(np.int32)[0])
    return np.int32(b if b >= 0 else -(2**31) - b)


@cache
def _kernel() -> Any:
    from numba import njit, prange

    from spikestack.kernels.cpu_kernels import bf16_bits

    @njit(parallel=True, cache=True, nogil=True)
    def encode_kernel(bits: Any, t_key: Any, out: Any) -> None:  # pragma: no cover - numba
        for i in prange(bits.shape[0]):
            out[i] = bf16_bits(bits[i], t_key)

    return encode_kernel


def encode(h: Tensor, v_threshold: float) -> Tensor:
    """``h`` (float32) as bfloat16, every value on the same side of ``v_threshold`` as
    before (``>=``), the others rounded to nearest even."""
    if h.dtype != torch.float32:
        raise ValueError(f"encode takes float32; got {h.dtype}")
    flat = h.reshape(-1)
    n = flat.numel()
    # recycled memory (a fresh tensor costs a page fault per page on first touch)
    out = POOL.empty(((n + 1) // 2,), torch.float32).view(torch.int16)[:n]
    _kernel()(flat.numpy().view(np.uint32), threshold_key(v_threshold), out.numpy().view(np.uint16))
    return out.view(torch.bfloat16).reshape(h.shape)


def decode(saved: Tensor, like: torch.dtype = torch.float32) -> Tensor:
    """The saved trace back in the kernel's dtype (exact: bfloat16 is float32's top half)."""
    return POOL.empty(tuple(saved.shape), like).copy_(saved)
