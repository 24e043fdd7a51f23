"""CUBALIF: current-based LIF; math in :mod:`spikestack.functional.cubalif`."""

from __future__ import annotations

import torch
from torch import Tensor

from spikestack.functional.cubalif import cubalif
from spikestack.neurons.base import SpikingNeuron
from spikestack.surrogates import Surrogate
from spikestack.validation import check_tau

__all__ = ["CUBALIF"]

State = tuple[Tensor, Tensor]


class CUBALIF(SpikingNeuron):
    """Current-based LIF: I[t] = α I[t-1] + X[t] (α = 1 − 1/tau_syn) drives a LIF membrane
    (β = 1 − 1/tau), as snnTorch's ``Synaptic`` (see :mod:`spikestack.functional.cubalif`
    for how their resets differ). The state is ``(v, i)``; it runs on the torch
    implementation (no fused kernel, no ``backend``)."""

    state_names = ("v", "i")
    options = SpikingNeuron.options | {"tau", "tau_syn"}

    def __init__(
        self,
        tau: float = 2.0,
        tau_syn: float = 2.0,
        *,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        detach_reset: bool = False,
        surrogate: Surrogate | None = None,
        stateful: bool = False,
    ) -> None:
        super().__init__(
            v_threshold=v_threshold, v_reset=v_reset, detach_reset=detach_reset,
            surrogate=surrogate, stateful=stateful,
        )  # fmt: skip
        self.tau = check_tau(tau)
        self.tau_syn = check_tau(tau_syn, name="tau_syn")

    def init_state(self, x_t: Tensor) -> State:
        return torch.full_like(x_t, self.v_rest), torch.zeros_like(x_t)

    def _run(self, x: Tensor, state: State | None) -> tuple[Tensor, State]:  # type: ignore[override]
        return cubalif(  # type: ignore[return-value]
            x, tau=self.tau, tau_syn=self.tau_syn, v_threshold=self.v_threshold,
            v_reset=self.v_reset, detach_reset=self.detach_reset, surrogate=self.surrogate,
            state=state, return_state=True,
        )  # fmt: skip

    def _extra_parts(self) -> list[str]:
        return [f"tau={self.tau}", f"tau_syn={self.tau_syn}", *super()._extra_parts()]
