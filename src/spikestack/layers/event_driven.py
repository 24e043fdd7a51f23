"""Event-driven inference: synaptic layers whose input is spikes do work per spike.

    fast = event_driven(model)            # a copy; Linear/Conv1d/Conv2d wrapped
    with torch.no_grad():
        out = fast(x)                     # equal to model(x)
    print(sparse_summary(fast))           # per layer: path taken, rate, SOPs

:class:`EventDriven` wraps one ``nn.Linear``, ``nn.Conv1d`` or ``nn.Conv2d``. When every
non-zero input value is the same c > 0 (spikes, or spikes scaled by a converted network's
threshold) and the input rate is below 0.9 of the layer's crossover, the numba kernels of
:mod:`spikestack.kernels.sparse` add the weights of the inputs that fired; otherwise the
layer runs dense. ``mode="auto"`` measures the crossover once per input shape
(interleaving both paths on the machine as it is then), or takes a fixed ``crossover=``;
once it is known, a sample of every 17th input value is enough to decide for dense.
``mode="sparse"`` takes the event-driven path for every spike input, ``mode="dense"``
never. Inputs the kernels cannot take (a gradient to keep, not on the CPU, not
float32/float64, not spikes, padding other than zeros) always run dense. The synaptic
operations done on the event-driven path are counted (``sops``); they equal those
:func:`spikestack.deploy.energy.estimate_energy` counts for the same inputs.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from spikestack.kernels import sparse

__all__ = ["EventDriven", "event_driven", "sparse_summary"]

_MODES = ("auto", "sparse", "dense")
_MARGIN = 0.9  # auto: event-driven only below this fraction of the measured crossover
_SAMPLE_STRIDE = 17  # auto decides dense from every 17th input value


def _sampled_rate(x: Tensor) -> float:
    """The fraction of non-zeros among every 17th value of ``x`` (cheap; the full scan
    follows only when it points to the event-driven path)."""
    sample = x.detach().reshape(-1)[::_SAMPLE_STRIDE]
    return int(torch.count_nonzero(sample)) / max(sample.numel(), 1)


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
        self._prepared: tuple[tuple[int, int], np.ndarray] | None = None

    def reset_counts(self) -> None:
        """Zero the counters: synaptic operations done and calls per path."""
        self.sops = 0
        self.calls = {"event-driven": 0, "dense": 0}
        self.spikes_seen = 0.0  # sum of input rates over the calls whose input was spikes
        self.spike_calls = 0
        self.analog_calls = 0  # calls whose input the scan found not to be spikes

    def _weight(self) -> np.ndarray:
        """The weight in the kernel's layout, rebuilt when the weight changes."""
        weight = self.layer.weight
        key = (weight.data_ptr(), weight._version)
        if self._prepared is None or self._prepared[0] != key:
            layout = (
                sparse.linear_weight(weight)
                if isinstance(self.layer, nn.Linear)
                else sparse.conv_weight(weight, self.layer.groups)
            )
            self._prepared = (key, layout)
        return self._prepared[1]

    def _dense(self, x: Tensor) -> Tensor:
        self.calls["dense"] += 1
        return self.layer(x)

    def _event_driven(self, x: Tensor) -> tuple[Tensor, int, sparse.Spikes] | None:
        """The layer on spikes, or None when ``x`` is not spikes."""
        bias = self.layer.bias
        if isinstance(self.layer, nn.Linear):
            rows = x.reshape(-1, x.shape[-1])
            spikes = sparse.scan(rows, columns=True)
            if spikes is None:
                return None
            out, sops = sparse.linear(spikes, rows.shape[0], self._weight(), bias, x.dtype)
            return out.reshape(*x.shape[:-1], out.shape[-1]), sops, spikes
        return sparse.conv(x, self._weight(), bias, self.geometry)

    def forward(self, x: Tensor) -> Tensor:
        grad = torch.is_grad_enabled() and (
            x.requires_grad or any(p.requires_grad for p in self.layer.parameters())
        )
        if self.mode == "dense" or grad or not sparse.supports(x):
            return self._dense(x)
        if not isinstance(self.layer, nn.Linear) and (
            self.geometry is None or x.dim() != self.layer.weight.dim()
        ):
            return self._dense(x)  # unbatched conv input, or padding the kernel does not do
        if self.mode == "auto":
            crossover = self.crossovers.get(tuple(x.shape))
            if crossover is None:
                crossover = self._crossover(x)
                if crossover is None:
                    self.analog_calls += 1
                    return self._dense(x)
            if _sampled_rate(x) >= _MARGIN * crossover.rate:
                return self._dense(x)  # decided on a sample: no pass over the whole input
        done = self._event_driven(x)
        if done is None:
            self.analog_calls += 1
            return self._dense(x)
        out, sops, spikes = done
        self.spikes_seen += spikes.rate
        self.spike_calls += 1
        self.sops += sops
        self.calls["event-driven"] += 1
        return out

    def _crossover(self, x: Tensor) -> sparse.Crossover | None:
        """The crossover for ``x``'s shape: fixed, or measured on ``x`` (None when ``x`` is
        not spikes: nothing to measure)."""
        shape = tuple(x.shape)
        if self.fixed_crossover is not None:
            self.crossovers[shape] = sparse.Crossover(self.fixed_crossover, 0.0, ())
            return self.crossovers[shape]
        spikes = sparse.scan(x, columns=False)
        if spikes is None:
            return None
        self.crossovers[shape] = sparse.Crossover.measure(
            x, spikes.rate, self.layer, self._event_driven
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
    for parent in list(result.modules()):
        if isinstance(parent, EventDriven):
            continue
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear | nn.Conv1d | nn.Conv2d):
                setattr(parent, name, EventDriven(child, mode, crossover))
    return result


def sparse_summary(model: nn.Module) -> list[dict[str, Any]]:
    """One row per :class:`EventDriven` layer of ``model``: its name, the calls per path,
    the mean rate of its spike inputs (None if none was scanned), the calls whose input was
    not spikes, its crossover rate(s) and the SOPs done."""
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
                        module.spikes_seen / module.spike_calls if module.spike_calls else None
                    ),
                    "analog_calls": module.analog_calls,
                    "crossover": [c.rate for c in module.crossovers.values()],
                    "sops": module.sops,
                }
            )
    return rows
