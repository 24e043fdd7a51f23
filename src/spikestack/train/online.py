"""Online training through time: memory constant in T.

:class:`OnlineTraining` runs the network one step at a time, backpropagates each step's
loss at once, and cuts every temporal path of the graph between steps
(:func:`spikestack.detach`), so nothing of earlier steps is kept. What the temporal
backpropagation would have carried is replaced, for the weights, by eligibility traces
of each synaptic layer's input, â[t] = λ â[t-1] + x[t]:

- ``"ottt"``: Online Training Through Time (Xiao et al., NeurIPS 2022, OTTT_A): the
  instantaneous loss L[t] = loss(O[t], y) / T is backpropagated through the current
  step only, and each conv/linear weight receives (∂L[t]/∂y[t]) â[t]ᵀ, the presynaptic
  trace in place of the presynaptic spikes; gradients add up over the T steps and the
  optimiser steps once per sequence.
- ``"eprop"``: e-prop (Bellec et al., Nature Communications 2020) for networks of
  LIF-type neurons, recurrent ones (RLIF/RCUBALIF) included: the same eligibility
  traces (for a recurrent weight, the trace of the layer's own spikes of the step before)
  times the learning signal of the current step. With ``feedback="symmetric"`` the
  learning signal is the output error sent back through the output weights, so the
  update equals OTTT's; ``feedback="random"`` sends it back through a fixed random
  matrix instead (random e-prop), so no weight transport is needed. The adaptation
  eligibility of e-prop's ALIF neurons is not modelled (the adaptive threshold is
  treated as a constant within a step).

λ (``decay``) is the leak of the membrane, 1 - 1/tau (0.5 for the default tau = 2).
Layers that need the whole sequence are refused as for truncated BPTT
(:mod:`spikestack.train.memory`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from spikestack.train.memory import backprop_windows, carry_state

__all__ = ["ONLINE_METHODS", "OnlineTraining"]

ONLINE_METHODS = ("ottt", "eprop")
_SYNAPSES = (nn.Linear, nn.Conv1d, nn.Conv2d)


def _apply(layer: nn.Module, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    if isinstance(layer, nn.Linear):
        return F.linear(x, weight, bias)
    return layer._conv_forward(x, weight, bias)  # type: ignore[union-attr,operator]


class _TracedSynapse:
    """Forward hook that keeps the trace of a synaptic layer's input and rewires the
    gradients: the weight's through the trace, the input's through ``feedback`` (the
    layer's own weight, or a fixed random matrix)."""

    def __init__(self, layer: nn.Module, decay: float, feedback: Tensor | None) -> None:
        self.layer = layer
        self.decay = decay
        self.feedback = feedback
        self.trace: Tensor | None = None

    def __call__(self, layer: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> Tensor:
        x = inputs[0]
        trace = x.detach() if self.trace is None else self.decay * self.trace + x.detach()
        self.trace = trace
        weight, bias = layer.weight, layer.bias
        frozen_bias = None if bias is None else bias.detach()
        through_trace = _apply(layer, trace, weight, bias)  # weight and bias gradients
        if self.feedback is None:
            to_input = _apply(layer, x, weight.detach(), frozen_bias)
        else:  # the value of W x, the input gradient of B x
            fed = _apply(layer, x, self.feedback, None)
            to_input = (
                fed + (_apply(layer, x.detach(), weight.detach(), frozen_bias) - fed).detach()
            )
        return to_input + (through_trace - through_trace.detach())


class OnlineTraining:
    """Step-by-step training with eligibility traces (see the module docstring)."""

    def __init__(
        self,
        model: nn.Module,
        method: str = "ottt",
        *,
        decay: float = 0.5,
        feedback: str = "symmetric",
        seed: int = 0,
    ) -> None:
        if method not in ONLINE_METHODS:
            raise ValueError(
                f"online method must be one of {', '.join(ONLINE_METHODS)}; got {method!r}"
            )
        if not 0.0 <= decay < 1.0:
            raise ValueError(
                f"decay (the trace's leak, 1 - 1/tau) must be in [0, 1); got {decay!r}"
            )
        if feedback not in ("symmetric", "random"):
            raise ValueError(f"feedback must be 'symmetric' or 'random'; got {feedback!r}")
        if feedback == "random" and method != "eprop":
            raise ValueError("random feedback is e-prop's (method='eprop')")
        self.method, self.decay, self.feedback = method, float(decay), feedback
        self.layers = _synapses(model)
        if not self.layers:
            raise ValueError("online training needs conv or linear layers to trace; found none")
        self.output_layer = self.layers[-1][1]
        self.random: dict[int, Tensor] = {}
        if feedback == "random":  # a fixed matrix carries the output error to the hidden layer
            g = torch.Generator().manual_seed(seed)
            for _, layer in self.layers[-1:]:
                w = layer.weight
                b = torch.randn(w.shape, generator=g) * w.detach().std().clamp_min(1e-3).item()
                self.random[id(layer)] = b.to(w.device, w.dtype)

    @contextlib.contextmanager
    def _traced(self) -> Iterator[list[_TracedSynapse]]:
        hooks, handles = [], []
        for _, layer in self.layers:
            feedback = self.random.get(id(layer))
            hook = _TracedSynapse(layer, self.decay, feedback)
            hooks.append(hook)
            handles.append(layer.register_forward_hook(hook))
        try:
            yield hooks
        finally:
            for handle in handles:
                handle.remove()

    def run(
        self,
        model: nn.Module,
        x: Tensor,
        target: Tensor,
        loss_fn: Callable[[Tensor, Tensor], Tensor],
        backward: Callable[[Tensor], None],
    ) -> tuple[Tensor, Tensor]:
        """One sequence ``x [T, B, ...]``: each step's loss backpropagated at once, the
        gradients added up. Returns ``(outputs [T, B, ...] detached, total loss)``."""
        with carry_state(model, what=f"online training ({self.method})"), self._traced():
            return backprop_windows(model, x, target, loss_fn, backward, 1)


def _synapses(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The conv/linear layers whose weights learn, in order; a recurrent neuron's recurrent
    layer included (it sees the layer's own spikes of the step before)."""
    found = []
    for name, module in model.named_modules():
        if isinstance(module, _SYNAPSES) and module.weight.requires_grad:
            found.append((name, module))
    return found
