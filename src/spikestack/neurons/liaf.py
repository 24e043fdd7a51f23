"""LIAF neuron (Wu et al., TNNLS 2021): LIF membrane, analog output f(U); see
:mod:`spikestack.functional.liaf`."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from spikestack.functional.liaf import check_decay, liaf, resolve_activation
from spikestack.neurons.base import SpikingNeuron
from spikestack.surrogates import Surrogate

__all__ = ["LIAF"]


class LIAF(SpikingNeuron):
    """Leaky integrate and analog fire: U[t] = decay V[t-1] + X[t], output Y[t] = f(U[t]).

    The spike S[t] = Θ(U[t] - v_threshold) only resets the membrane (to ``v_reset``);
    the module returns the analog Y, not spikes. ``activation`` is a name (relu,
    sigmoid, tanh, identity) or a picklable callable (e.g. an ``nn.Module``).
    ``backend`` is accepted for interchangeability with LIF (models pass it to every
    neuron); every value runs the torch implementation.
    """

    def __init__(
        self,
        decay: float = 0.5,
        v_threshold: float = 1.0,
        v_reset: float = 0.0,
        *,
        activation: str | Callable[[Tensor], Tensor] = "relu",
        detach_reset: bool = False,
        surrogate: Surrogate | None = None,
        backend: str = "auto",
        stateful: bool = False,
    ) -> None:
        if v_reset is None:
            raise ValueError("LIAF resets hard: v_reset must be a number")
        super().__init__(
            v_threshold=v_threshold,
            v_reset=v_reset,
            detach_reset=detach_reset,
            surrogate=surrogate,
            backend=backend,
            stateful=stateful,
        )
        check_decay(decay)
        resolve_activation(activation)
        self.decay = float(decay)
        self.activation = activation

    def _run(self, x: Tensor, v_init: Tensor | None) -> tuple[Tensor, Tensor]:
        return liaf(  # type: ignore[return-value]
            x,
            decay=self.decay,
            v_threshold=self.v_threshold,
            v_reset=float(self.v_reset or 0.0),
            activation=self.activation,
            detach_reset=self.detach_reset,
            surrogate=self.surrogate,
            v_init=v_init,
            return_state=True,
        )

    def _extra_parts(self) -> list[str]:
        return [f"decay={self.decay}", f"activation={self.activation!r}"]
