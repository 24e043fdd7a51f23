"""Event-driven inference: synaptic layers do work per non-zero input (per spike).

    fast = event_driven(model)            # a copy; Linear/Conv1d/Conv2d wrapped
    with torch.no_grad():
        out = fast(x)                     # equal to model(x)
    print(sparse_summary(fast))           # per layer: path taken, rate, SOPs / MACs

:class:`EventDriven` wraps one ``nn.Linear``, ``nn.Conv1d`` or ``nn.Conv2d``. When the
fraction of non-zero inputs is below 0.9 of the layer's crossover, the numba kernels of
:mod:`spikestack.kernels.sparse` (CPU) or the Triton kernels of
:mod:`spikestack.kernels.sparse_triton` (CUDA) add, for each non-zero input, its value times its weights
(for spikes, the weights of the inputs that fired; event-count frames into a first layer
work the same way); otherwise the layer runs dense. ``mode="auto"`` measures the
crossover once per input row shape (interleaving both paths on the machine as it is
then: a one-time cost of a few forward passes per layer), or takes a fixed
``crossover=``; once it is known, a sample of the input (64 evenly spaced runs of 256
values) is enough to decide for dense. ``mode="sparse"`` takes the event-driven path for every input it can,
``mode="dense"`` never. Inputs the kernels cannot take (a gradient to keep; on the CPU
other than float32/float64, on CUDA other than float32/float16/bfloat16 or without
triton; padding other than zeros; grouped convolutions on CUDA) always run dense. The work done on
the event-driven path is counted: ``sops`` for spike input (every non-zero the same
c > 0), equal to the synaptic operations :func:`spikestack.deploy.energy.estimate_energy`
counts for the same inputs, and ``macs`` for other sparse input (one multiply-accumulate
per non-zero input and output it reaches).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from spikestack.kernels import sparse, sparse_triton

__all__ = ["EventDriven", "event_driven", "sparse_summary"]

_MODES = ("auto", "sparse", "dense")
_MARGIN = 0.9  # auto: event-driven only below this fraction of the measured crossover
_SAMPLE_RUNS, _SAMPLE_RUN = 64, 256  # auto decides dense from 64 runs of 256 input values


def _sampled_rate(x: Tensor) -> float:
    """The fraction of non-zeros in 64 evenly spaced runs of 256 consecutive values of
    ``x``'s memory (any dense layout; 64 KiB read in float32, the full scan follows only
    when it points to the event-driven path). Small or non-dense inputs are counted whole.
    (Every k-th value would touch every cache line, a read of the whole input.)"""
    x = x.detach()
    n = x.numel()
    dense = x.is_contiguous() or (
        x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)
    )
    if n <= 4 * _SAMPLE_RUNS * _SAMPLE_RUN or not dense:
        return int(torch.count_nonzero(x)) / max(n, 1)
    step = (n - _SAMPLE_RUN) // (_SAMPLE_RUNS - 1)
    runs = x.as_strided((_SAMPLE_RUNS, _SAMPLE_RUN), (step, 1), x.storage_offset())
    return int(torch.count_nonzero(runs)) / runs.numel()


class EventDriven(nn.Module):
    """A synaptic layer that computes spike inputs event by event (see the module docstring)."""

    def __init__(
        self, layer: nn.Module, mode: str = "auto", crossover: float | None = None
    ) -> None:
        super().__init__()
        if not isinstance(layer, nn.Linear | nn.Conv1d | nn.Conv2d):
            raise TypeError(
                f"EventDriven wraps nn.Linear, nn.Conv1d or nn.Conv2d; got {type(layer).__name__}"
            )
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}; got {mode!r}")
        if crossover is not None and not 0.0 <= crossover <= 1.0:
            raise ValueError(f"crossover must be an input rate in [0, 1]; got {crossover}")
        self.layer = layer
        self.mode = mode
        self.fixed_crossover = crossover
        self.geometry = (
            None if isinstance(layer, nn.Linear) else sparse.ConvGeometry.of(layer)
        )  # None for a conv: padding the kernel does not do, so always dense
        self.crossovers: dict[tuple[int, ...], sparse.Crossover] = {}
        self.reset_counts()
        self._prepared: tuple[tuple[Any, ...], np.ndarray | Tensor] | None = None

    def reset_counts(self) -> None:
        """Zero the counters: synaptic operations done and calls per path."""
        self.sops = 0  # accumulates done for spike input
        self.macs = 0  # multiply-accumulates done for other (sparse) input
        self.calls = {"event-driven": 0, "dense": 0}
        self.rates_seen = 0.0  # sum of input rates over the calls that were scanned
        self.scanned_calls = 0
        self.spike_calls = 0  # of those, calls whose input was spikes

    def _weight(self, gpu: bool) -> Any:
        """The weight in the kernels' layout (numba's or, with ``gpu``, Triton's), rebuilt
        when the weight changes."""
        weight = self.layer.weight
        key = (weight.data_ptr(), weight._version, weight.dtype, gpu)
        if self._prepared is None or self._prepared[0] != key:
            linear = isinstance(self.layer, nn.Linear)
            if gpu:
                layout = (sparse_triton.linear_weight if linear else sparse_triton.conv_weight)(
                    weight
                )
            else:
                layout = (
                    sparse.linear_weight(weight)
                    if linear
                    else sparse.conv_weight(weight, self.layer.groups)
                )
            self._prepared = (key, layout)
        return self._prepared[1]

    def _dense(self, x: Tensor) -> Tensor:
        self.calls["dense"] += 1
        return self.layer(x)

    def _event_driven(self, x: Tensor) -> tuple[Tensor, int, sparse.Sparsity]:
        """The layer on its non-zero inputs: (output, multiply-accumulates, sparsity)."""
        bias = self.layer.bias
        if sparse_triton.supports(x):  # a CUDA tensor: the Triton kernels
            if isinstance(self.layer, nn.Linear):
                rows = x.reshape(-1, x.shape[-1])
                out, done, rate, spikes = sparse_triton.linear(rows, self._weight(True), bias)
                out = out.reshape(*x.shape[:-1], out.shape[-1])
            else:
                out, done, rate, spikes = sparse_triton.conv(
                    x, self._weight(True), bias, self.geometry
                )
            return out, done, sparse.Sparsity(rate, spikes)
        if isinstance(self.layer, nn.Linear):
            rows = x.reshape(-1, x.shape[-1])
            found = sparse.scan(rows)
            out, done = sparse.linear(
                found, rows.shape[0], self._weight(False), bias, x.dtype,
                self.layer.out_features,
            )  # fmt: skip
            return out.reshape(*x.shape[:-1], out.shape[-1]), done, found
        return sparse.conv(x, self._weight(False), bias, self.geometry)

    def forward(self, x: Tensor) -> Tensor:
        grad = torch.is_grad_enabled() and (
            x.requires_grad or any(p.requires_grad for p in self.layer.parameters())
        )
        gpu = sparse_triton.supports(x)
        if self.mode == "dense" or grad or not (gpu or sparse.supports(x)):
            return self._dense(x)
        if not isinstance(self.layer, nn.Linear) and (
            self.geometry is None
            or x.dim() != self.layer.weight.dim()
            or (gpu and self.geometry.groups != 1)
        ):
            return self._dense(x)  # unbatched conv input, or what the kernels do not do
        if self.mode == "auto":
            crossover = self.crossovers.get(self.shape_key(x)) or self._crossover(x)
            if _sampled_rate(x) >= _MARGIN * crossover.rate:
                return self._dense(x)  # decided on a sample: no pass over the whole input
        out, done, found = self._event_driven(x)
        self.rates_seen += found.rate
        self.scanned_calls += 1
        if found.spikes:
            self.spike_calls += 1
            self.sops += done
        else:
            self.macs += done
        self.calls["event-driven"] += 1
        return out

    def shape_key(self, x: Tensor) -> tuple[int, ...]:
        """What the crossover depends on: the shape of one row (both paths' times grow
        with the number of rows alike), so a last, smaller batch is not measured again."""
        return (x.shape[-1],) if isinstance(self.layer, nn.Linear) else tuple(x.shape[1:])

    def _crossover(self, x: Tensor) -> sparse.Crossover:
        """The crossover for ``x``'s shape: fixed, or measured on ``x``."""
        shape = self.shape_key(x)
        if self.fixed_crossover is not None:
            self.crossovers[shape] = sparse.Crossover(self.fixed_crossover, 0.0, ())
        else:
            rate = int(torch.count_nonzero(x)) / max(x.numel(), 1)
            self.crossovers[shape] = sparse.Crossover.measure(
                x, rate, self.layer, self._event_driven
            )
        return self.crossovers[shape]

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"


def event_driven(model: nn.Module, mode: str = "auto", crossover: float | None = None) -> nn.Module:
    """A copy of ``model`` with every Linear/Conv1d/Conv2d wrapped in :class:`EventDriven`
    (the model itself is not changed; the copy shares nothing with it). ``crossover`` fixes
    the input rate below which ``auto`` goes event-driven, instead of measuring it."""
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}; got {mode!r}")
    result = copy.deepcopy(model)
    if isinstance(result, nn.Linear | nn.Conv1d | nn.Conv2d):
        return EventDriven(result, mode, crossover)
    wrap_event_driven(result, mode, crossover)
    return result


def wrap_event_driven(model: nn.Module, mode: str = "auto", crossover: float | None = None) -> int:
    """Wrap, in place, every Linear/Conv1d/Conv2d child inside ``model`` in
    :class:`EventDriven`; returns how many were wrapped."""
    wrapped = 0
    for parent in list(model.modules()):
        if isinstance(parent, EventDriven):
            continue
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear | nn.Conv1d | nn.Conv2d):
                setattr(parent, name, EventDriven(child, mode, crossover))
                wrapped += 1
    return wrapped


def sparse_summary(model: nn.Module) -> list[dict[str, Any]]:
    """One row per :class:`EventDriven` layer of ``model``: its name, the calls per path,
    the mean fraction of non-zero inputs over the event-driven calls (None if none), how
    many of those inputs were spikes, its crossover rate(s), and the SOPs (spike input) and
    MACs (other sparse input) done."""
    rows = []
    for name, module in model.named_modules():
        if isinstance(module, EventDriven):
            rows.append(
                {
                    "layer": name,
                    "type": type(module.layer).__name__,
                    "event_driven_calls": module.calls["event-driven"],
                    "dense_calls": module.calls["dense"],
                    "input_rate": (
                        module.rates_seen / module.scanned_calls if module.scanned_calls else None
                    ),
                    "spike_calls": module.spike_calls,
                    "crossover": [c.rate for c in module.crossovers.values()],
                    "sops": module.sops,
                    "macs": module.macs,
                }
            )
    return rows
