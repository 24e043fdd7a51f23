"""The base of every spiking neuron module: multi-step calls, streaming and state."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from spikestack.kernels import check_backend_name
from spikestack.surrogates import ATan, Surrogate, check_surrogate
from spikestack.validation import check_neuron_params


class StatefulModule(nn.Module):
    """A module that may carry state across calls; :func:`spikestack.reset` clears it."""

    def reset(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class SpikingNeuron(StatefulModule):
    """Base class of the membrane-potential neurons (IF, LIF, PLIF, ...).

    A call on ``x [T, B, ...]`` runs all T steps and returns spikes of the same
    shape. By default it starts from rest and keeps nothing; with
    ``stateful=True`` the final membrane is kept for the next call until
    :meth:`reset`. For step-by-step streaming use :meth:`step`.

    Subclasses implement ``_run(x, v_init) -> (spikes, v_final)``.
    """

    def __init__(
        self,
        *,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        detach_reset: bool = False,
        surrogate: Surrogate | None = None,
        backend: str = "auto",
        stateful: bool = False,
    ) -> None:
        super().__init__()
        surrogate = ATan() if surrogate is None else surrogate
        check_neuron_params(v_threshold=v_threshold, v_reset=v_reset)
        check_surrogate(surrogate)
        check_backend_name(backend)
        self.v_threshold = float(v_threshold)
        self.v_reset = None if v_reset is None else float(v_reset)
        self.detach_reset = bool(detach_reset)
        self.surrogate = surrogate
        self.backend = backend
        self.stateful = bool(stateful)
        self.v: Tensor | None = None

    def _run(self, x: Tensor, v_init: Tensor | None) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        if not self.stateful:
            return self._run(x, None)[0]
        v_init = self.v
        if v_init is not None and v_init.shape != x.shape[1:]:
            raise ValueError(
                f"{type(self).__name__} is stateful and holds a state of shape "
                f"{tuple(v_init.shape)}, but the input's per-step shape is {tuple(x.shape[1:])}; "
                "call spikestack.reset(model) between sequences of different shape"
            )
        spikes, self.v = self._run(x, v_init)
        return spikes

    def step(self, x_t: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """One time step: ``x_t [B, ...]`` and the membrane ``state`` (``None`` = rest).

        Returns ``(spikes_t, new_state)``; chaining steps equals one multi-step call.
        """
        if not isinstance(x_t, Tensor) or x_t.dim() < 1:
            raise ValueError(
                f"step expects x_t of shape [B, ...] (at least 1-D); got {getattr(x_t, 'shape', x_t)}"
            )
        spikes, v = self._run(x_t.unsqueeze(0), state)
        return spikes[0], v

    def reset(self) -> None:
        """Forget the carried membrane state (``stateful=True`` modules)."""
        self.v = None

    def detach_state(self) -> None:
        """Cut the graph through the carried state (truncated BPTT)."""
        if self.v is not None:
            self.v = self.v.detach()

    def extra_repr(self) -> str:
        parts = [f"v_threshold={self.v_threshold}", f"v_reset={self.v_reset}"]
        parts += self._extra_parts()
        parts += [f"surrogate={self.surrogate!r}", f"backend={self.backend!r}"]
        if self.detach_reset:
            parts.append("detach_reset=True")
        if self.stateful:
            parts.append("stateful=True")
        return ", ".join(parts)

    def _extra_parts(self) -> list[str]:
        return []

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["v"] = None  # carried state is runtime data, not part of the model
        return state


def reset(model: nn.Module) -> nn.Module:
    """Reset the carried state of every stateful module inside ``model``; returns ``model``."""
    for module in model.modules():
        if isinstance(module, StatefulModule):
            module.reset()
    return model
