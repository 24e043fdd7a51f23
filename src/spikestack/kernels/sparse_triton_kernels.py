"""Triton kernels of the event-driven synaptic layers (see :mod:`spikestack.kernels.sparse_triton`).

Gathers, not scatters: one program owns one output row (a sample-step of a linear
layer, or one output pixel of a convolution) and ``BLOCK_O`` output channels, walks the
list of non-zero inputs that reach it and adds their value times their weight row in
float32; no two programs write the same output, so no atomics are needed. Import
lazily: ``triton.jit`` reads ``TRITON_INTERPRET`` when it decorates.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def linear(
    starts, columns, values, weight_t, bias, out, n_out,
    HAS_BIAS: tl.constexpr, BLOCK_O: tl.constexpr,
):  # fmt: skip
    """``out[r, block] = bias + sum over the non-zeros (j, v) of row r of v · W^T[j, block]``
    for the row lists ``starts [N + 1]``, ``columns``, ``values`` and ``W^T [K, O]``."""
    row = tl.program_id(0)
    offs = tl.program_id(1) * BLOCK_O + tl.arange(0, BLOCK_O)
    mask = offs < n_out
    acc = tl.zeros([BLOCK_O], dtype=tl.float32)
    first = tl.load(starts + row)
    last = tl.load(starts + row + 1)
    for i in range(first, last):
        j = tl.load(columns + i).to(tl.int64)
        v = tl.load(values + i).to(tl.float32)
        w = tl.load(weight_t + j * n_out + offs, mask=mask, other=0.0)
        acc += v * w.to(tl.float32)
    if HAS_BIAS:
        acc += tl.load(bias + offs, mask=mask, other=0.0).to(tl.float32)
    tl.store(out + row.to(tl.int64) * n_out + offs, acc.to(out.dtype.element_ty), mask=mask)


@triton.jit
def conv2d(
    starts, channels, values, weight, bias, out, h, w, ho, wo, n_out,
    stride_h, stride_w, pad_h, pad_w, dil_h, dil_w,
    KH: tl.constexpr, KW: tl.constexpr, HAS_BIAS: tl.constexpr, BLOCK_O: tl.constexpr,
):  # fmt: skip
    """``out[r, oy, ox, block]`` (channels-last) = bias + the sum, over the kernel taps and
    the non-zero input channels (c, v) of the input pixel each tap reads, of
    v · weight[c, ky, kx, block]; the pixel lists are ``starts [N·H·W + 1]`` over
    ``channels`` / ``values`` (input pixels in [N, H, W] order), ``weight [C, KH, KW, O]``."""
    pixel = tl.program_id(0)
    offs = tl.program_id(1) * BLOCK_O + tl.arange(0, BLOCK_O)
    mask = offs < n_out
    r = pixel // (ho * wo)
    oy = (pixel // wo) % ho
    ox = pixel % wo
    acc = tl.zeros([BLOCK_O], dtype=tl.float32)
    for ky in range(KH):
        iy = oy * stride_h - pad_h + ky * dil_h
        for kx in range(KW):
            ix = ox * stride_w - pad_w + kx * dil_w
            inside = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
            source = (r * h + iy) * w + ix
            first = tl.load(starts + source, mask=inside, other=0)
            last = tl.load(starts + source + 1, mask=inside, other=0)
            for i in range(first, last):
                c = tl.load(channels + i).to(tl.int64)
                v = tl.load(values + i).to(tl.float32)
                tap = ((c * KH + ky) * KW + kx) * n_out
                acc += v * tl.load(weight + tap + offs, mask=mask, other=0.0).to(tl.float32)
    if HAS_BIAS:
        acc += tl.load(bias + offs, mask=mask, other=0.0).to(tl.float32)
    tl.store(out + pixel.to(tl.int64) * n_out + offs, acc.to(out.dtype.element_ty), mask=mask)
