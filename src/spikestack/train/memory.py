"""Training through time with bounded memory: checkpointed and truncated BPTT.

Plain BPTT keeps every step's activations until the backward pass, so memory grows with
T. Both ways out run the model window by window over ``x [T, B, ...]``, with every
stateful module carrying its state from one window to the next (:func:`carry_state`):

- :func:`checkpointed_forward` (``spikestack train --checkpoint-steps K``): windows of K
  steps under ``torch.utils.checkpoint``; only each window's input states are kept and
  the window is recomputed in the backward pass. The gradients are plain BPTT's.
- :class:`TruncatedBPTT` (``--tbptt W``): the loss of each window of W steps is
  backpropagated at once and the state is detached before the next window
  (:func:`spikestack.detach`), so no gradient flows further back than W steps.

Running by windows needs layers that treat each step on its own or carry their state
(neurons with a step form, per-step layers, delays). Layers that see the whole sequence
at once (the PSN family's full and masked neurons, temporal attention, tdBN/TEBN/BNTT,
the temporal weighting decoder) are refused with their name. A BatchNorm in training
mode and :class:`~spikestack.layers.SequenceDropout` work, but see one window at a time
(BatchNorm's statistics over W·B samples, a dropout mask per window):
:func:`window_caveats` names them.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from spikestack.layers import (
    BNTT,
    TEBN,
    SequenceDropout,
    TDBatchNorm,
    TemporalAttention,
    TemporalWeightingDecoder,
)
from spikestack.neurons import Neuron, StatefulModule
from spikestack.neurons.base import detach, reset
from spikestack.validation import check_int

__all__ = [
    "TruncatedBPTT",
    "backprop_windows",
    "carry_state",
    "check_windowable",
    "checkpointed_forward",
    "saved_tensor_bytes",
    "window_caveats",
]

_WHOLE_SEQUENCE = (TemporalAttention, TDBatchNorm, TEBN, BNTT, TemporalWeightingDecoder)


def check_windowable(model: nn.Module, what: str) -> list[StatefulModule]:
    """The stateful modules of ``model``; raise naming a layer that needs the whole sequence."""
    carriers = []
    for name, module in model.named_modules():
        whole = isinstance(module, _WHOLE_SEQUENCE) or (
            isinstance(module, Neuron) and not module.streaming
        )
        if whole:
            raise ValueError(
                f"{what} runs the model window by window, but {name or 'the model'} "
                f"({type(module).__name__}) sees the whole sequence at once; use plain BPTT "
                "for this model"
            )
        if isinstance(module, StatefulModule) and module.carried_state is not None:
            carriers.append(module)
    return carriers


def window_caveats(model: nn.Module) -> list[str]:
    """Layers that run by windows but see one window at a time: train-mode BatchNorm
    (statistics over the window's steps) and SequenceDropout (a mask per window)."""
    found = []
    for name, module in model.named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.training:
            found.append(f"{name} (BatchNorm: statistics per window)")
        elif isinstance(module, SequenceDropout) and module.training and module.p > 0:
            found.append(f"{name} (SequenceDropout: one mask per window)")
    return found


@contextlib.contextmanager
def _stateful_flags(model: nn.Module) -> Iterator[None]:
    flagged = [
        m for m in model.modules() if isinstance(m, StatefulModule) and hasattr(m, "stateful")
    ]
    before = [m.stateful for m in flagged]
    try:
        for module in flagged:
            module.stateful = True
        yield
    finally:
        for module, flag in zip(flagged, before, strict=True):
            module.stateful = flag


@contextlib.contextmanager
def carry_state(model: nn.Module, *, what: str = "this mode") -> Iterator[list[StatefulModule]]:
    """Within the block every stateful module of ``model`` carries its state from call to
    call (``stateful=True``); on exit the flags are restored and the states cleared.
    Yields the modules that carry a state of their own."""
    carriers = check_windowable(model, what)
    reset(model)
    try:
        with _stateful_flags(model):
            yield carriers
    finally:
        reset(model)


def _flatten(states: list[Any]) -> tuple[list[Tensor], list[Any]]:
    """Tensors of the carried states in one list, and how to put them back."""
    flat: list[Tensor] = []
    layout: list[Any] = []
    for state in states:
        if state is None:
            layout.append(None)
        elif isinstance(state, tuple):
            layout.append(len(state))
            flat.extend(state)
        else:
            layout.append(-1)
            flat.append(state)
    return flat, layout


def _unflatten(flat: tuple[Tensor, ...] | list[Tensor], layout: list[Any]) -> list[Any]:
    states: list[Any] = []
    i = 0
    for kind in layout:
        if kind is None:
            states.append(None)
        elif kind == -1:
            states.append(flat[i])
            i += 1
        else:
            states.append(tuple(flat[i : i + kind]))
            i += kind
    return states


@contextlib.contextmanager
def _keep_batchnorm_statistics(model: nn.Module) -> Iterator[None]:
    """The recomputation in backward must not update BatchNorm's running statistics twice."""
    saved = [
        (m, {k: v.clone() for k, v in m.named_buffers(recurse=False)})
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
    ]
    try:
        yield
    finally:
        with torch.no_grad():
            for module, buffers in saved:
                for key, value in buffers.items():
                    getattr(module, key).copy_(value)


def checkpointed_forward(model: nn.Module, x: Tensor, steps: int) -> Tensor:
    """``model(x)`` for ``x [T, B, ...]``, run in windows of ``steps`` under activation
    checkpointing: only each window's input (and carried states) stay in memory until the
    backward pass, which recomputes the window. Same outputs and gradients as
    ``model(x)`` for models whose layers do not depend on the window (see the module
    docstring); returns ``[T, B, ...]``."""
    check_int("steps", steps)
    if x.shape[0] <= steps:
        return model(x)
    outputs = []
    with carry_state(model, what="checkpointed BPTT") as carriers:
        attrs = [m.carried_state for m in carriers]

        def window(chunk: Tensor, layout: list[Any], *flat: Tensor) -> tuple[Tensor, ...]:
            # the states go in and out as arguments; the modules hold them only meanwhile
            # (the backward pass recomputes windows after the block has cleared them)
            pairs = list(zip(carriers, attrs, strict=True))
            held = [getattr(m, a) for m, a in pairs]
            try:
                for (module, attr), state in zip(pairs, _unflatten(flat, layout), strict=True):
                    setattr(module, attr, state)
                with _stateful_flags(model):
                    out = model(chunk)
                new_flat, new_layout = _flatten([getattr(m, a) for m, a in pairs])
            finally:  # also when the recomputation stops early, once it has what it needs
                for (module, attr), state in zip(pairs, held, strict=True):
                    setattr(module, attr, state)
            layouts.append(new_layout)
            return (out, *new_flat)

        layouts: list[list[Any]] = []
        flat, layout = _flatten([None] * len(carriers))
        for chunk in x.split(steps):
            out, *flat = checkpoint(
                window, chunk, layout, *flat, use_reentrant=False,
                context_fn=lambda: (contextlib.nullcontext(), _keep_batchnorm_statistics(model)),
            )  # fmt: skip
            layout = layouts[-1]
            outputs.append(out)
    return torch.cat(outputs)


class TruncatedBPTT:
    """Truncated BPTT over windows of ``window`` steps: for each window, the loss of its
    outputs (weighted by the window's share of T) is backpropagated at once, then the
    carried state is detached. Gradients of all windows add up before the one optimizer
    step; memory is bounded by one window's activations."""

    def __init__(self, window: int) -> None:
        self.window = check_int("window", window)

    def run(
        self,
        model: nn.Module,
        x: Tensor,
        target: Tensor,
        loss_fn: Callable[[Tensor, Tensor], Tensor],
        backward: Callable[[Tensor], None],
    ) -> tuple[Tensor, Tensor]:
        """``(outputs [T, B, ...] detached, total loss detached)`` after the backward passes."""
        with carry_state(model, what="truncated BPTT"):
            return backprop_windows(model, x, target, loss_fn, backward, self.window)


def backprop_windows(
    model: nn.Module,
    x: Tensor,
    target: Tensor,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    backward: Callable[[Tensor], None],
    window: int,
) -> tuple[Tensor, Tensor]:
    """Run ``model`` (carrying its state: inside :func:`carry_state`) over ``x`` in windows
    of ``window`` steps; each window's loss, weighted by its share of T, is backpropagated
    at once and the state detached before the next. Stops at a non-finite loss. Returns
    ``(outputs [T, B, ...] detached, total loss detached)``."""
    steps = x.shape[0]
    outputs, total = [], torch.zeros(())
    for chunk in x.split(window):
        out = model(chunk)
        loss = loss_fn(out.float(), target) * (chunk.shape[0] / steps)
        if not torch.isfinite(loss):
            return out.detach(), loss.detach()
        backward(loss)
        detach(model)
        outputs.append(out.detach())
        total = total + loss.detach().cpu()
    return torch.cat(outputs), total


class _Packed:
    __slots__ = ("tensor", "__weakref__")

    def __init__(self, tensor: Tensor) -> None:
        self.tensor = tensor


def saved_tensor_bytes(fn: Callable[[], Any]) -> tuple[Any, int]:
    """Run ``fn()`` and measure the peak of the bytes autograd holds for backward passes
    (each tensor once, by its own size, also when it views a larger one: the input of a
    step is a slice of the whole sequence; a tensor counts from when it is saved until
    its graph is freed), a deterministic measure of training memory. Returns
    ``(fn(), peak bytes)``."""
    live: dict[tuple[int, int], list[int]] = {}  # (address, bytes) -> [bytes, holders]
    current = peak = 0

    def release(ptr: tuple[int, int]) -> None:
        nonlocal current
        entry = live.get(ptr)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            current -= entry[0]
            del live[ptr]

    def pack(t: Tensor) -> _Packed:
        nonlocal current, peak
        size = t.numel() * t.element_size()
        ptr = (t.data_ptr(), size)
        if ptr in live:
            live[ptr][1] += 1
        else:
            live[ptr] = [size, 1]
            current += size
            peak = max(peak, current)
        packed = _Packed(t)
        weakref.finalize(packed, release, ptr)
        return packed

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda p: p.tensor):
        result = fn()
    return result, peak
