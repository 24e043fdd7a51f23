"""Event-driven linear and convolution on CUDA tensors, with Triton kernels.

The GPU twin of the numba kernels of :mod:`spikestack.kernels.sparse`: the non-zero
inputs are listed (torch's CSR conversion: per row of a linear layer's input, per input
pixel of a convolution's channels-last input), then each program of
:mod:`spikestack.kernels.sparse_triton_kernels` gathers, for one output row or pixel and
a block of output channels, the weights of the non-zeros that reach it. Sums are
float32 for float32, float16 and bfloat16 storage. Results equal the dense layer's to
float rounding; the work done is counted as in the CPU kernels (one multiply-accumulate
per non-zero input and output it reaches; for spikes, the synaptic operations).

``is_available()`` needs triton and a CUDA device; :class:`~spikestack.layers.EventDriven`
sends CUDA inputs here and, in ``auto`` mode, measures on the device where this path
beats the dense one. The functions take any tensors Triton can address, so with
``TRITON_INTERPRET=1`` they run on CPU tensors (the tests do).
"""

from __future__ import annotations

import importlib.util
import warnings
from functools import cache
from typing import Any

import torch
from torch import Tensor

__all__ = ["conv", "conv_weight", "is_available", "linear", "linear_weight", "supports"]

_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
BLOCK_O = 64  # output channels per program


def is_available() -> bool:
    """True when triton can be imported and a CUDA device is present."""
    return importlib.util.find_spec("triton") is not None and torch.cuda.is_available()


def supports(x: Tensor) -> bool:
    """CUDA float32/float16/bfloat16 input that no gradient will flow through."""
    return (
        x.is_cuda
        and x.dtype in _DTYPES
        and not (torch.is_grad_enabled() and x.requires_grad)
        and is_available()
    )


@cache
def _kernels() -> Any:
    from spikestack.kernels import sparse_triton_kernels

    return sparse_triton_kernels


def _lists(rows: Tensor) -> tuple[Tensor, Tensor, Tensor, float, bool]:
    """The non-zeros of ``rows [M, K]`` per row: (starts [M + 1], column indices, values,
    fraction non-zero, True if they are spikes: every one the same value c > 0)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        csr = rows.to_sparse_csr()
    values = csr.values()
    spikes = values.numel() == 0 or bool(  # one read back from the device
        ((values.amin() == values.amax()) & (values[0] > 0)).item()
    )
    rate = values.numel() / max(rows.numel(), 1)
    return csr.crow_indices(), csr.col_indices(), values, rate, spikes


def linear_weight(weight: Tensor) -> Tensor:
    """The layout :func:`linear` reads: ``W^T`` [K, O], contiguous, on the weight's device."""
    return weight.detach().t().contiguous()


def linear(
    x: Tensor, weight_t: Tensor, bias: Tensor | None
) -> tuple[Tensor, int, float, bool]:  # fmt: skip
    """``x [N, K]`` -> (x @ W^T + b as [N, O], multiply-accumulates done, input rate,
    spikes?)."""
    n, o = x.shape[0], weight_t.shape[1]
    starts, columns, values, rate, spikes = _lists(x.detach())
    out = torch.empty(n, o, dtype=x.dtype, device=x.device)
    if n and o:
        grid = (n, -(-o // BLOCK_O))
        _kernels().linear[grid](
            starts, columns, values, weight_t, weight_t if bias is None else bias.detach(),
            out, o, HAS_BIAS=bias is not None, BLOCK_O=BLOCK_O,
        )  # fmt: skip
    return out, values.numel() * o, rate, spikes


def conv_weight(weight: Tensor) -> Tensor:
    """The layout :func:`conv` reads: [C_in, KH, KW, O], contiguous (groups = 1); a
    Conv1d's weight gets a height of 1."""
    w = weight.detach()
    if w.dim() == 3:
        w = w.unsqueeze(2)
    return w.permute(1, 2, 3, 0).contiguous()


def _taps_reaching(size: int, out_size: int, k: int, stride: int, pad: int, dil: int) -> Tensor:
    """Per input position along one axis, how many kernel taps carry it to an output."""
    counts = torch.zeros(size, dtype=torch.int64)
    for o in range(out_size):
        for tap in range(k):
            i = o * stride - pad + tap * dil
            if 0 <= i < size:
                counts[i] += 1
    return counts


def conv(
    x: Tensor, weight_r: Tensor, bias: Tensor | None, geometry: Any
) -> tuple[Tensor, int, float, bool]:  # fmt: skip
    """``x`` [N, C, (H,) W] -> (the convolution [N, O, (Ho,) Wo] in channels-last memory,
    multiply-accumulates done, input rate, spikes?) for a ``ConvGeometry`` with groups 1."""
    if geometry.groups != 1:
        raise ValueError("the Triton event-driven convolution takes groups=1 only")
    one_d = x.dim() == 3
    x4 = (x.unsqueeze(2) if one_d else x).detach()
    n, c, h, w = x4.shape
    _, kh, kw, o = weight_r.shape
    ho, wo = geometry.out_size(h, w, kh, kw)
    pixels = x4.permute(0, 2, 3, 1).reshape(n * h * w, c)
    starts, channels, values, rate, spikes = _lists(pixels)
    out = torch.empty(n, ho, wo, o, dtype=x.dtype, device=x.device)
    (sh, sw), (ph, pw), (dh, dw) = geometry.stride, geometry.padding, geometry.dilation
    if out.numel():
        grid = (n * ho * wo, -(-o // BLOCK_O))
        _kernels().conv2d[grid](
            starts, channels, values, weight_r, weight_r if bias is None else bias.detach(),
            out, h, w, ho, wo, o, sh, sw, ph, pw, dh, dw,
            KH=kh, KW=kw, HAS_BIAS=bias is not None, BLOCK_O=BLOCK_O,
        )  # fmt: skip
    per_pixel = (starts[1:] - starts[:-1]).reshape(n, h, w)
    reach = _taps_reaching(h, ho, kh, sh, ph, dh)[:, None] * _taps_reaching(w, wo, kw, sw, pw, dw)
    macs = int((per_pixel * reach.to(per_pixel.device)).sum()) * o  # summed on the device
    result = out.permute(0, 3, 1, 2)
    return (result.squeeze(2) if one_d else result), macs, rate, spikes
