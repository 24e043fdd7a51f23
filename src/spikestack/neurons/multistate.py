"""Base for neurons whose state is a tuple of tensors (ALIF's (v, a), TTFS's (v, fired))."""

from __future__ import annotations

from torch import Tensor

from spikestack.neurons.base import SpikingNeuron
from spikestack.validation import check_sequence

__all__ = ["MultiStateNeuron"]


class MultiStateNeuron(SpikingNeuron):
    """A :class:`SpikingNeuron` whose ``_run(x, state)`` takes and returns a tuple state.

    Multi-step calls start from rest (``state=None``); ``stateful=True`` keeps the
    tuple in ``self.v`` until :meth:`reset`; :meth:`step` streams one step at a time.
    """

    def forward(self, x: Tensor) -> Tensor:
        check_sequence(x)
        if not self.stateful:
            return self._run(x, None)[0]
        state = self.v
        if state is not None and state[0].shape != x.shape[1:]:  # type: ignore[index]
            raise ValueError(
                f"{type(self).__name__} is stateful and holds a state of per-step shape "
                f"{tuple(state[0].shape)}, but got {tuple(x.shape[1:])}; "  # type: ignore[index]
                "call spikestack.reset(model) between sequences"
            )
        spikes, self.v = self._run(x, state)  # type: ignore[assignment]
        return spikes

    def step(
        self, x_t: Tensor, state: tuple[Tensor, ...] | None = None
    ) -> tuple[Tensor, tuple[Tensor, ...]]:  # type: ignore[override]
        """One step: ``x_t [B, ...]`` and the tuple ``state`` (None = rest)."""
        if not isinstance(x_t, Tensor) or x_t.dim() < 1:
            raise ValueError(
                f"step expects x_t of shape [B, ...]; got {getattr(x_t, 'shape', x_t)}"
            )
        spikes, new_state = self._run(x_t.unsqueeze(0), state)  # type: ignore[arg-type]
        return spikes[0], new_state  # type: ignore[return-value]

    def detach_state(self) -> None:
        if self.v is not None:
            self.v = tuple(s.detach() for s in self.v)  # type: ignore[assignment]
