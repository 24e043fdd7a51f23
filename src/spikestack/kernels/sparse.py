"""Event-driven linear and convolution for sparse inputs (inference, CPU): only the
non-zero inputs do work. And the measured choice between them and the dense operation.

    found = scan(x)                           # x: [N, K]: rate, spikes?, row lists
    y, macs = linear(found, N, linear_weight(w), bias, x.dtype, O)
    y, macs, found = conv(x, conv_weight(w, groups), bias, ConvGeometry.of(layer))

The result equals the dense layer's on the same input (up to float rounding: the sum runs
in another order), and ``macs`` is the number of multiply-accumulates done: one per
non-zero input and output it reaches. For spikes (every non-zero the same c > 0; then a
multiply by 1 or c is not needed on hardware) these are the synaptic operations of
:mod:`spikestack.deploy.energy`; for other sparse input (event-count frames, say), the MACs
a sparse layer does. Inputs the kernels cannot take (another dtype or device, a gradient
to keep) are for the caller to send to the dense operation: :func:`supports` tells which.

:class:`Crossover` decides per layer and input shape: it times the dense operation and the
event-driven one at two input rates once, fits time = a + b · rate to the latter, and then
picks event-driven only below the rate where the fit meets the dense time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from types import ModuleType

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "ConvGeometry",
    "Crossover",
    "best_of",
    "conv",
    "conv_weight",
    "linear",
    "linear_weight",
    "scan",
    "Sparsity",
    "supports",
]

_DTYPES = (torch.float32, torch.float64)


@cache
def _kernels() -> ModuleType:
    from spikestack.kernels import sparse_kernels  # numba, on first use

    return sparse_kernels


def supports(x: Tensor) -> bool:
    """CPU float32/float64 input that no gradient will flow through."""
    return (
        x.device.type == "cpu"
        and x.dtype in _DTYPES
        and not (torch.is_grad_enabled() and x.requires_grad)
    )


def _threads() -> int:
    import numba

    return max(1, numba.get_num_threads())


@dataclass(frozen=True)
class Sparsity:
    """What a scan of a layer's input found: the fraction of non-zero values, whether they
    are spikes (all the same value c > 0: the accumulates are synaptic operations), and
    for a linear layer the lists of non-zeros per row the kernel reads."""

    rate: float
    spikes: bool
    lists: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # starts, columns, values


def scan(x: Tensor) -> Sparsity:
    """How sparse a linear layer's input ``x [N, K]`` is, with the lists of non-zeros per
    row that :func:`linear` reads."""
    arr = x.detach().contiguous().numpy()
    starts, columns, values, spikes = _kernels().scan(arr.reshape(arr.shape[0], -1))
    return Sparsity(columns.shape[0] / max(arr.size, 1), bool(spikes), (starts, columns, values))


def linear_weight(weight: Tensor) -> np.ndarray:
    """The layout the linear kernel reads: ``W^T`` [K, O] cut into blocks of
    ``BLOCK`` output columns, ``[ceil(O / BLOCK), K, BLOCK]`` contiguous, zeros past O."""
    weight_t = weight.detach().cpu().numpy().T
    k, o = weight_t.shape
    block = _kernels().BLOCK
    blocks = -(-o // block)
    padded = np.zeros((k, blocks * block), dtype=weight_t.dtype)
    padded[:, :o] = weight_t
    return np.ascontiguousarray(padded.reshape(k, blocks, block).transpose(1, 0, 2))


def _bias(bias: Tensor | None, size: int, dtype: np.dtype) -> np.ndarray:
    if bias is None:
        return np.zeros(size, dtype=dtype)
    return bias.detach().cpu().numpy().astype(dtype, copy=False)


def linear(
    found: Sparsity, n: int, weight_b: np.ndarray, bias: Tensor | None, dtype, out_features: int
):
    """The linear layer on the ``n`` rows :func:`scan` read, with ``out_features``
    outputs and the weights of :func:`linear_weight` -> (x @ W^T + b as [n, O],
    multiply-accumulates done). The rows are cut into as many parts as it takes for the
    kernel's tasks (column blocks × row parts) to keep every thread busy."""
    kernels = _kernels()
    blocks, k, _ = weight_b.shape
    o = out_features
    if not (blocks - 1) * kernels.BLOCK < o <= blocks * kernels.BLOCK:
        raise ValueError(
            f"the blocked weights {tuple(weight_b.shape)} do not hold {o} output features"
        )
    out = torch.empty(n, o, dtype=dtype)
    kind = out.numpy().dtype
    parts = max(1, min(n, -(-_threads() // blocks)))
    bounds = np.array([p * n // parts for p in range(parts + 1)], dtype=np.int64)
    starts, columns, values = found.lists
    cuts, rows, placed = kernels.by_column(starts, columns, values, k, bounds)
    scale = values[0] if found.spikes and values.shape[0] else 1
    done = kernels.linear(
        cuts, rows, placed, bounds, weight_b.astype(kind, copy=False),
        _bias(bias, o, kind), out.numpy(), found.spikes, kind.type(scale),
    )  # fmt: skip
    return out, int(done)


@dataclass(frozen=True)
class ConvGeometry:
    """A Conv1d/Conv2d's stride, padding, dilation and groups, as 2-D tuples."""

    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    groups: int

    @classmethod
    def of(cls, module: torch.nn.Module) -> ConvGeometry | None:
        """The geometry of a zero-padded Conv1d/Conv2d, or None (string padding other than
        'valid', another padding mode)."""
        if module.padding_mode != "zeros":
            return None
        padding = module.padding
        if isinstance(padding, str):
            if padding != "valid":
                return None
            padding = (0,) * len(module.kernel_size)
        two = 2 - len(module.kernel_size)  # Conv1d: a height of 1

        def pad(values: tuple[int, ...], fill: int) -> tuple[int, int]:
            return tuple([fill] * two + list(values))  # type: ignore[return-value]

        return cls(pad(module.stride, 1), pad(padding, 0), pad(module.dilation, 1), module.groups)

    def out_size(self, h: int, w: int, kh: int, kw: int) -> tuple[int, int]:
        def one(n: int, k: int, s: int, p: int, d: int) -> int:
            return (n + 2 * p - d * (k - 1) - 1) // s + 1

        return (
            one(h, kh, self.stride[0], self.padding[0], self.dilation[0]),
            one(w, kw, self.stride[1], self.padding[1], self.dilation[1]),
        )


def conv_weight(weight: Tensor, groups: int = 1) -> np.ndarray:
    """The layout the convolution kernel reads: [C_in, KH, KW, O / groups], the output
    channels of an input channel's group contiguous; Conv1d weights get a height of 1."""
    w = weight.detach().cpu()
    if w.dim() == 3:
        w = w.unsqueeze(2)
    out_channels, in_per_group, kh, kw = w.shape
    per_group = out_channels // groups
    arr = w.numpy()
    result = np.empty((groups * in_per_group, kh, kw, per_group), dtype=arr.dtype)
    for g in range(groups):  # [O/g, C/g, KH, KW] -> [C/g, KH, KW, O/g]
        block = arr[g * per_group : (g + 1) * per_group]
        result[g * in_per_group : (g + 1) * in_per_group] = block.transpose(1, 2, 3, 0)
    return result


def conv(x: Tensor, weight_r: np.ndarray, bias: Tensor | None, geometry: ConvGeometry):
    """``x`` [N, C, (H,) W] -> (the convolution, [N, O, (Ho,) Wo] in channels-last memory,
    multiply-accumulates done, how sparse the input was)."""
    one_d = x.dim() == 3
    x4 = (x.unsqueeze(2) if one_d else x).detach().contiguous()
    n, _, h, w = x4.shape
    _, kh, kw, per_group = weight_r.shape
    ho, wo = geometry.out_size(h, w, kh, kw)
    out = torch.empty(n, ho, wo, per_group * geometry.groups, dtype=x.dtype)
    kind = out.numpy().dtype
    b = _bias(bias, out.shape[-1], kind)
    done, count, spikes = _kernels().conv2d(
        x4.numpy(), weight_r.astype(kind, copy=False), b, out.numpy(), geometry.stride,
        geometry.padding, geometry.dilation, geometry.groups,
    )  # fmt: skip
    found = Sparsity(int(count) / max(x4.numel(), 1), bool(spikes))
    result = out.permute(0, 3, 1, 2)
    return (result.squeeze(2) if one_d else result), int(done), found


def best_of(
    run: Callable[[], object], repeats: int = 2, device: torch.device | None = None
) -> float:
    """The shortest of ``repeats`` timed calls of ``run``, in seconds (on a CUDA
    ``device``, each call waited for to its end)."""
    sync = torch.cuda.synchronize if device is not None and device.type == "cuda" else None
    best = float("inf")
    for _ in range(repeats):
        if sync:
            sync(device)
        start = time.perf_counter()
        run()
        if sync:
            sync(device)
        best = min(best, time.perf_counter() - start)
    return best


@dataclass
class Crossover:
    """The input rate below which the event-driven path is faster, measured once for one
    layer and input shape (see the module docstring)."""

    rate: float  # event-driven below this rate
    dense_s: float
    sparse_s: tuple[tuple[float, float], ...]  # (rate, seconds) measured

    @classmethod
    def measure(
        cls,
        x: Tensor,
        rate: float,
        dense: Callable[[Tensor], Tensor],
        sparse: Callable[[Tensor], object],
        *,
        probe_rate: float = 0.1,
    ) -> Crossover:
        """Time ``dense(x)``, ``sparse(x)`` at ``x``'s own ``rate`` and ``sparse`` on a
        random spike input of the same shape at ``probe_rate``."""
        generator = torch.Generator().manual_seed(0)
        probe = (torch.rand(x.shape, generator=generator) < probe_rate).to(x.device, x.dtype)
        for _ in range(3):  # compile (cached after the first process) and warm up: the
            sparse(x)  # first calls of a new shape pay for fresh memory pages (allocator),
            dense(x)  # which would make whichever ran first look slow
            sparse(probe)
        dense_s = here = there = float("inf")
        for _ in range(3):  # interleaved, so that all three meet the same machine
            dense_s = min(dense_s, best_of(lambda: dense(x), 1, x.device))
            here = min(here, best_of(lambda: sparse(x), 1, x.device))
            there = min(there, best_of(lambda: sparse(probe), 1, x.device))
        points = ((rate, here), (probe_rate, there))
        slope = (there - here) / (probe_rate - rate) if probe_rate != rate else 0.0
        if slope <= 0:  # flat or noisy: the measured points decide on their own
            crossover = probe_rate if there < dense_s else (rate if here < dense_s else 0.0)
        else:
            crossover = rate + (dense_s - here) / slope
        return cls(rate=max(0.0, min(1.0, crossover)), dense_s=dense_s, sparse_s=points)
