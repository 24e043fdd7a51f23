"""LI: a non-spiking leaky integrator, the readout layer whose output is its membrane."""

from __future__ import annotations

import torch
from torch import Tensor

from spikestack.kernels.reference import leaky_charge
from spikestack.neurons.base import Neuron
from spikestack.surrogates import Surrogate
from spikestack.validation import check_tau

__all__ = ["LI"]


class LI(Neuron):
    """Leaky integrator: LIF's charge without a threshold; the output is the membrane V.

    With ``decay_input`` (default): V[t] = V[t-1] + (X[t] - (V[t-1] - v_leak)) / tau;
    without: V[t] = V[t-1] - (V[t-1] - v_leak) / tau + X[t]. V starts at ``v_leak``.
    Norse's ``LIBoxCell`` is the first form (tau = 1 / (dt tau_mem_inv)), snnTorch's
    ``Leaky`` read through its membrane (never reaching threshold) the second
    (beta = 1 - 1/tau); NIR's ``LI`` node holds either (r = 1 or r = tau). As the last
    layer it gives an analog trace to decode (mean, max or last step over time).
    """

    options = Neuron.options | {"tau", "v_leak", "decay_input"}
    emits_spikes = False

    def __init__(
        self,
        tau: float = 2.0,
        *,
        v_leak: float = 0.0,
        decay_input: bool = True,
        surrogate: Surrogate | None = None,
        stateful: bool = False,
    ) -> None:
        super().__init__(surrogate=surrogate, stateful=stateful)
        self.tau = check_tau(tau)
        v_leak = float(v_leak)
        if not torch.isfinite(torch.tensor(v_leak)):
            raise ValueError(f"v_leak must be a finite number; got {v_leak!r}")
        self.v_leak = v_leak
        self.decay_input = bool(decay_input)

    def init_state(self, x_t: Tensor) -> Tensor:
        return torch.full_like(x_t, self.v_leak)

    def _run(self, x: Tensor, state: Tensor | None) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        charge = leaky_charge(
            self.decay_input, self.v_leak, lambda d: d / self.tau, 1.0 - 1.0 / self.tau
        )
        v = self.init_state(x[0]) if state is None else state
        out = []
        for x_t in x:
            v = charge(x_t, v)
            out.append(v)
        return torch.stack(out), v

    def _extra_parts(self) -> list[str]:
        return [f"tau={self.tau}", f"v_leak={self.v_leak}", f"decay_input={self.decay_input}"]
