"""LIAF neuron (Wu et al., TNNLS 2021): LIF membrane, analog output f(U); see
:mod:`spikestack.functional.liaf`."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from spikestack.functional.liaf import liaf, resolve_activation
from spikestack.neurons.base import SpikingNeuron
from spikestack.neurons.declared import liaf_declaration
from spikestack.neurons.define import declared_backend, try_declared
from spikestack.surrogates import Surrogate
from spikestack.validation import check_tau

__all__ = ["LIAF"]


class LIAF(SpikingNeuron):
    """Leaky integrate and analog fire: U[t] = V[t-1] - (V[t-1] - v_reset) / tau + X[t],
    output Y[t] = f(U[t]).

    The spike S[t] = Θ(U[t] - v_threshold) only resets the membrane (to ``v_reset``);
    the module returns the analog Y, not spikes (``emits_spikes`` is False). ``tau`` is
    LIF's time constant; LIAF-Net's leak factor d is 1 - 1/tau (d = 0.5: tau = 2).
    ``activation`` is a name (relu, sigmoid, tanh, identity) or a picklable callable
    (e.g. an ``nn.Module``). ``backend`` ("auto", "torch", "cpu", "triton") picks the
    kernels generated from its declaration (:mod:`spikestack.neurons.declared`; the named
    activations) or the torch loop (always for a callable activation).
    """

    options = SpikingNeuron.options | {"tau", "activation", "backend"}
    emits_spikes = False

    def __init__(
        self,
        tau: float = 2.0,
        v_threshold: float = 1.0,
        v_reset: float = 0.0,
        *,
        activation: str | Callable[[Tensor], Tensor] = "relu",
        detach_reset: bool = False,
        surrogate: Surrogate | None = None,
        stateful: bool = False,
        backend: str = "auto",
    ) -> None:
        if v_reset is None:
            raise ValueError("LIAF resets hard: v_reset must be a number, not None")
        super().__init__(
            v_threshold=v_threshold,
            v_reset=v_reset,
            detach_reset=detach_reset,
            surrogate=surrogate,
            stateful=stateful,
        )
        resolve_activation(activation)
        self.tau = check_tau(tau)
        self.activation = activation
        # kernels for the named activations (relu, sigmoid, tanh, identity) only
        named = isinstance(activation, str)
        self.backend = declared_backend(
            backend, None if named else "LIAF with a callable activation"
        )

    def init_state(self, x_t: Tensor) -> Tensor:
        return torch.full_like(x_t, self.v_rest)

    def _run(self, x: Tensor, state: Tensor | None) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        if isinstance(self.activation, str):
            decl, values = liaf_declaration(self)
            fused = try_declared(
                decl, self.backend, x, state, (self.v_rest,), values, self.surrogate,
                self.detach_reset, "LIAF",
            )  # fmt: skip
            if fused is not None:
                return fused
        return liaf(  # type: ignore[return-value]
            x,
            tau=self.tau,
            v_threshold=self.v_threshold,
            v_reset=self.v_rest,
            activation=self.activation,
            detach_reset=self.detach_reset,
            surrogate=self.surrogate,
            v_init=state,
            return_state=True,
        )

    def _extra_parts(self) -> list[str]:
        return super()._extra_parts() + [f"tau={self.tau}", f"activation={self.activation!r}"]
