"""Monitors: forward hooks that record spiking activity per layer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch
from torch import Tensor, nn

from spikestack.atomic import atomic_write
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
            total = out.detach().float().sum()  # stays on the device: no sync per batch
            self._spikes[name] = self._spikes[name] + total if name in self._spikes else total
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

    def spike_counts(self) -> dict[str, float]:
        return {k: float(v) for k, v in self._spikes.items()}  # one sync per layer, here

    def rates(self) -> dict[str, float]:
        return {k: v / max(self._slots[k], 1) for k, v in self.spike_counts().items()}

    def neuron_steps(self) -> dict[str, int]:
        return dict(self._slots)

    def mean_rate(self) -> float:
        total = sum(self._slots.values())
        if not total:
            return 0.0
        return float(sum(self._spikes.values())) / total  # one sync for all layers

    def __enter__(self) -> FiringRateMonitor:
        return self.attach()

    def __exit__(self, *exc: object) -> None:
        self.detach()


RECORDABLE = ("spikes", "input", "membrane", "gradient")


class Monitor:
    """Records, for chosen layers, what they do during forward (and backward) passes.

    ``layers``: None (every :class:`Neuron`), module names, or module types. ``record``:
    any of ``"spikes"`` (the layer's output), ``"input"`` (its input current),
    ``"membrane"`` (the membrane after each step, found by running the neuron step by step
    on the recorded input: streaming neurons whose state starts with ``v``) and
    ``"gradient"`` (the gradient reaching the output in backward). Firing rates are always
    accumulated (as device tensors: no sync per batch). Recorded tensors go to the CPU;
    past ``max_bytes`` in memory the monitor streams them to ``spill_dir`` (one ``.pt``
    file per call, written atomically; :meth:`get` reads them back), or without a
    ``spill_dir`` stops storing them (with one warning) and keeps rates only. Hooks exist
    only while attached (``with Monitor(model) as mon: ...``), so an unattached monitor
    costs nothing.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        layers: None | list[str] | type[nn.Module] | tuple[type[nn.Module], ...] = None,
        record: tuple[str, ...] | list[str] = ("spikes",),
        max_bytes: int | None = 256 * 2**20,
        spill_dir: str | Path | None = None,
    ) -> None:
        unknown = sorted(set(record) - set(RECORDABLE))
        if unknown:
            raise ValueError(f"record takes {RECORDABLE}; got {unknown}")
        self.model = model
        self.record = tuple(record)
        self.max_bytes = max_bytes
        self.spill_dir = None if spill_dir is None else Path(spill_dir)
        self.records: dict[str, dict[str, list[Tensor | Path]]] = {}
        self._spilled = 0
        self._rates = FiringRateMonitor(model)
        self._chosen = self._choose(layers)
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self._bytes = 0
        self._capped = False

    def _choose(self, layers: object) -> dict[str, nn.Module]:
        modules = dict(self.model.named_modules())
        if layers is None:
            chosen = {n: m for n, m in modules.items() if isinstance(m, Neuron)}
        elif isinstance(layers, (list, tuple)) and all(isinstance(x, str) for x in layers):
            missing = [n for n in layers if n not in modules]
            if missing:
                raise ValueError(f"the model has no module(s) {missing}")
            chosen = {n: modules[n] for n in layers}
        else:
            chosen = {n: m for n, m in modules.items() if n and isinstance(m, layers)}  # type: ignore[arg-type]
        if not chosen:
            raise ValueError(f"no layer of {type(self.model).__name__} matches layers={layers!r}")
        return chosen

    def _store(self, name: str, kind: str, value: Tensor) -> None:
        if self._capped:
            return
        value = value.detach().to("cpu", copy=True)
        size = value.numel() * value.element_size()
        if self.max_bytes is not None and self._bytes + size > self.max_bytes:
            if self.spill_dir is not None:  # stream to disk: one file per call
                self._spilled += 1
                self.spill_dir.mkdir(parents=True, exist_ok=True)
                path = self.spill_dir / f"{self._spilled:08d}-{kind}.pt"
                atomic_write(path, lambda f: torch.save(value, f))
                self.records.setdefault(name, {}).setdefault(kind, []).append(path)
                return
            self._capped = True
            import warnings

            warnings.warn(
                f"Monitor: recordings passed max_bytes={self.max_bytes}; keeping rates only",
                stacklevel=3,
            )
            return
        self._bytes += size
        self.records.setdefault(name, {}).setdefault(kind, []).append(value)

    def _forward(self, name: str):
        def hook(module: nn.Module, args: tuple[Tensor, ...], output: Tensor) -> None:
            out = output[0] if isinstance(output, tuple) else output
            x = args[0] if args else None
            if "spikes" in self.record and isinstance(out, Tensor):
                self._store(name, "spikes", out)
            if "input" in self.record and isinstance(x, Tensor):
                self._store(name, "input", x)
            if "membrane" in self.record and isinstance(x, Tensor):
                self._store(name, "membrane", membrane_trace(module, x))
            if "gradient" in self.record and isinstance(out, Tensor) and out.requires_grad:
                out.register_hook(lambda g: self._store(name, "gradient", g))

        return hook

    def attach(self) -> Monitor:
        if not self._handles:
            for name, module in self._chosen.items():
                self._handles.append(module.register_forward_hook(self._forward(name)))
            self._rates.attach()
        return self

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._rates.detach()

    def __enter__(self) -> Monitor:
        return self.attach()

    def __exit__(self, *exc: object) -> None:
        self.detach()

    def get(self, name: str, kind: str = "spikes") -> Tensor:
        """Everything recorded of ``kind`` for layer ``name``, the calls joined on the
        batch axis (``[T, ΣB, ...]``)."""
        if name not in self.records or kind not in self.records[name]:
            raise KeyError(f"nothing of {kind!r} recorded for {name!r}")
        parts = [
            torch.load(p, weights_only=True) if isinstance(p, Path) else p
            for p in self.records[name][kind]
        ]
        return torch.cat(parts, dim=1)

    def rates(self) -> dict[str, float]:
        return self._rates.rates()

    def summary(self) -> str:
        """A table of per-layer firing rates (spikes per neuron per step)."""
        rates = self.rates()
        width = max([len(n) for n in rates] + [5])
        rows = [f"{'layer':{width}}  rate"]
        rows += [f"{n:{width}}  {r:.4f}" for n, r in rates.items()]
        return "\n".join(rows)


def membrane_trace(neuron: nn.Module, x: Tensor) -> Tensor:
    """The membrane after each step of ``neuron`` driven by ``x [T, B, ...]`` (from rest),
    by stepping it; streaming neurons whose state (or its first part) is ``v``."""
    if not isinstance(neuron, Neuron) or not neuron.streaming or neuron.state_names[:1] != ("v",):
        raise ValueError(
            f"{type(neuron).__name__} has no step-by-step membrane to record (a streaming "
            "neuron whose state starts with v is needed)"
        )
    state = None
    trace = []
    with torch.no_grad():
        for x_t in x.detach():
            _, state = neuron.step(x_t, state)
            trace.append(state[0] if isinstance(state, tuple) else state)
    return torch.stack(trace)
