"""Monitors: forward hooks that record spiking activity per layer."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor, nn

from spikestack.neurons.base import Neuron


class FiringRateMonitor:
    """Accumulates spike counts and firing rates of every spiking layer of a model.

    The layers are the model's :class:`~spikestack.neurons.Neuron` modules (every neuron of
    the protocol, the PSN family and fused backends included) whose output is spikes;
    neurons with analog outputs (``emits_spikes`` False, e.g. LIAF) are left out.

    ``rates()`` gives mean spikes per neuron per step for each layer (by module
    name) over everything seen since the last :meth:`clear`; ``spike_counts()``
    the total spikes, ``neuron_steps()`` the number of neuron×step×sample slots.
    Use as a context manager: ``with FiringRateMonitor(model) as mon: model(x)``.
    """

    def __init__(
        self, model: nn.Module, *, layer_types: tuple[type[nn.Module], ...] = (Neuron,)
    ) -> None:
        self.model = model
        self.layer_types = layer_types
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self._spikes: dict[str, float] = {}
        self._slots: dict[str, int] = {}

    def layers(self) -> Iterator[tuple[str, nn.Module]]:
        for name, module in self.model.named_modules():
            if isinstance(module, self.layer_types) and getattr(module, "emits_spikes", True):
                yield name, module

    def _hook(self, name: str):
        def record(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            out = output[0] if isinstance(output, tuple) else output
            if not isinstance(out, Tensor):
                return
            self._spikes[name] = self._spikes.get(name, 0.0) + float(out.detach().float().sum())
            self._slots[name] = self._slots.get(name, 0) + out.numel()

        return record

    def attach(self) -> FiringRateMonitor:
        if not self._handles:
            for name, module in self.layers():
                self._handles.append(module.register_forward_hook(self._hook(name)))
        return self

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def clear(self) -> None:
        self._spikes.clear()
        self._slots.clear()

    def rates(self) -> dict[str, float]:
        return {k: self._spikes[k] / max(self._slots[k], 1) for k in self._spikes}

    def spike_counts(self) -> dict[str, float]:
        return dict(self._spikes)

    def neuron_steps(self) -> dict[str, int]:
        return dict(self._slots)

    def mean_rate(self) -> float:
        total = sum(self._slots.values())
        return sum(self._spikes.values()) / total if total else 0.0

    def __enter__(self) -> FiringRateMonitor:
        return self.attach()

    def __exit__(self, *exc: object) -> None:
        self.detach()
