"""The neuron protocol: one base class that every spiking neuron derives from.

A neuron maps ``x [T, B, ...]`` to outputs of the same shape (spikes, or analog values
for LIAF). By default a call starts from rest and keeps nothing. Streaming is explicit:
``out_t, state = neuron.step(x_t, state)``, or ``stateful=True`` with :meth:`reset`
(:func:`reset` resets every stateful module of a model).

What builders, monitors and the training run may rely on is declared by the class,
never found by inspecting signatures:

- ``state_names``: the state variables, in the order of a multi-variable state tuple
  (a neuron with one variable, such as LIF's ``("v",)``, uses the bare tensor);
- ``options``: the keyword options its constructor takes (``NeuronSpec`` passes a
  model's defaults only where they are taken, and a user's option it does not take
  raises, naming the neuron and the option);
- ``streaming``: whether it has a step-by-step form (the PSN family's full and masked
  neurons see the whole sequence at once and have none);
- ``emits_spikes``: False for neurons whose output is analog (LIAF), so firing
  statistics leave them out.

Subclasses implement ``_run(x, state) -> (out, new_state)`` with ``state=None`` meaning
rest, and :meth:`init_state`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, ClassVar

from torch import Tensor, nn

from spikestack.surrogates import ATan, Surrogate, check_surrogate
from spikestack.validation import check_neuron_params, check_sequence

__all__ = [
    "Neuron",
    "SpikingNeuron",
    "State",
    "StatefulModule",
    "check_options",
    "detach",
    "reset",
]

State = Tensor | tuple[Tensor, ...]


class StatefulModule(nn.Module):
    """A module that may carry state across calls; :func:`spikestack.reset` clears it and
    :func:`spikestack.detach` cuts the autograd graph through it.

    ``carried_state`` names the attribute that holds the carried state (None: the module
    carries nothing of its own, e.g. it delegates to a neuron inside it), so that code
    running a model window by window can save and restore it.
    """

    carried_state: ClassVar[str | None] = "state"

    def reset(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def detach_state(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class Neuron(StatefulModule):
    """Base class of every spiking neuron (see the module docstring for the protocol)."""

    state_names: ClassVar[tuple[str, ...]] = ("v",)
    options: ClassVar[frozenset[str]] = frozenset({"surrogate", "stateful"})
    streaming: ClassVar[bool] = True
    emits_spikes: ClassVar[bool] = True

    def __init__(self, *, surrogate: Surrogate | None = None, stateful: bool = False) -> None:
        super().__init__()
        self.surrogate = check_surrogate(ATan() if surrogate is None else surrogate)
        if stateful and not self.streaming:
            raise ValueError(
                f"{type(self).__name__} sees the whole sequence at once and has no state to "
                "carry between calls; stateful=True does not apply"
            )
        self.stateful = bool(stateful)
        self.state: State | None = None

    # -- what subclasses provide ------------------------------------------------------
    def _run(self, x: Tensor, state: State | None) -> tuple[Tensor, State]:
        raise NotImplementedError

    def init_state(self, x_t: Tensor) -> State:
        """The resting state for one step's input ``x_t [B, ...]``."""
        raise NotImplementedError

    # -- the protocol -------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tensor:
        check_sequence(x)
        if not self.stateful:
            return self._run(x, None)[0]
        state = self.state
        if state is not None and self.state_step_shape(state) != x.shape[1:]:
            raise ValueError(
                f"{type(self).__name__} is stateful and holds a state for per-step shape "
                f"{tuple(self.state_step_shape(state))}, but the input's per-step shape is "
                f"{tuple(x.shape[1:])}; call spikestack.reset(model) between sequences of "
                "different shape"
            )
        out, self.state = self._run(x, state)
        return out

    def step(self, x_t: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """One time step: ``x_t [B, ...]`` and the ``state`` (``None`` = rest).

        Returns ``(out_t, new_state)``; chaining steps equals one multi-step call.
        """
        if not self.streaming:
            raise TypeError(
                f"{type(self).__name__} has no step-by-step form: every output step may depend "
                "on every input step (use SlidingPSN, or MaskedPSN's window, for streaming)"
            )
        if not isinstance(x_t, Tensor) or x_t.dim() < 1:
            raise ValueError(
                f"step expects x_t of shape [B, ...] (at least 1-D); got {getattr(x_t, 'shape', x_t)}"
            )
        out, state = self._run(x_t.unsqueeze(0), state)
        return out[0], state

    def state_step_shape(self, state: State) -> tuple[int, ...]:
        """The per-step input shape ``[B, ...]`` a state belongs to."""
        first = state[0] if isinstance(state, tuple) else state
        return tuple(first.shape)

    def named_state(self, state: State) -> dict[str, Tensor]:
        """``state`` as ``{name: tensor}`` in the order of :attr:`state_names`."""
        values = state if isinstance(state, tuple) else (state,)
        if len(values) != len(self.state_names):
            raise ValueError(
                f"{type(self).__name__} has state {self.state_names}; got {len(values)} tensors"
            )
        return dict(zip(self.state_names, values, strict=True))

    def reset(self) -> None:
        """Forget the carried state (``stateful=True`` modules)."""
        self.state = None

    def detach_state(self) -> None:
        """Cut the graph through the carried state (truncated BPTT)."""
        if isinstance(self.state, tuple):
            self.state = tuple(s.detach() for s in self.state)
        elif self.state is not None:
            self.state = self.state.detach()

    def extra_repr(self) -> str:
        parts = self._extra_parts() + [f"surrogate={self.surrogate!r}"]
        if getattr(self, "backend", None) is not None:
            parts.append(f"backend={self.backend!r}")
        if getattr(self, "detach_reset", False):
            parts.append("detach_reset=True")
        if self.stateful:
            parts.append("stateful=True")
        return ", ".join(parts)

    def _extra_parts(self) -> list[str]:
        return []

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["state"] = None  # carried state is runtime data, not part of the model
        return state


class SpikingNeuron(Neuron):
    """A membrane neuron with a threshold and a reset (IF, LIF, PLIF, ALIF, LIAF).

    ``v_reset`` is the hard-reset value, or ``None`` for a soft reset (subtract the
    threshold); with ``detach_reset`` the spike inside the reset carries no gradient.
    """

    options = Neuron.options | {"v_threshold", "v_reset", "detach_reset"}

    def __init__(
        self,
        *,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        detach_reset: bool = False,
        surrogate: Surrogate | None = None,
        stateful: bool = False,
    ) -> None:
        super().__init__(surrogate=surrogate, stateful=stateful)
        check_neuron_params(v_threshold=v_threshold, v_reset=v_reset)
        self.v_threshold = float(v_threshold)
        self.v_reset = None if v_reset is None else float(v_reset)
        self.detach_reset = bool(detach_reset)

    @property
    def v_rest(self) -> float:
        """The resting membrane: ``v_reset``, or 0 for a soft reset."""
        return 0.0 if self.v_reset is None else self.v_reset

    def _extra_parts(self) -> list[str]:
        return [f"v_threshold={self.v_threshold}", f"v_reset={self.v_reset}"]


def check_options(neuron: type[Neuron], names: Iterable[str], *, label: str | None = None) -> None:
    """Raise a ValueError naming ``neuron`` and every option in ``names`` it does not take."""
    unknown = sorted(set(names) - neuron.options)
    if not unknown:
        return
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(key, sorted(neuron.options), n=1)
        hints.append(repr(key) + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise ValueError(
        f"neuron {label or neuron.__name__} does not take option(s) {', '.join(hints)}; "
        f"it takes: {', '.join(sorted(neuron.options))}"
    )


def reset(model: nn.Module) -> nn.Module:
    """Reset the carried state of every stateful module inside ``model``; returns ``model``."""
    for module in model.modules():
        if isinstance(module, StatefulModule):
            module.reset()
    return model


def detach(model: nn.Module) -> nn.Module:
    """Detach the carried state of every stateful module inside ``model`` from the
    autograd graph, keeping its values; returns ``model``.

    The whole-network counterpart of :func:`reset` for truncated BPTT over a stream:
    run a window, backpropagate, ``detach(model)``, run the next window from where the
    last one ended (the state carries on; the graph does not reach back past the cut).
    """
    for module in model.modules():
        if isinstance(module, StatefulModule):
            module.detach_state()
    return model
