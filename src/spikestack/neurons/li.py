"""LI: a non-spiking leaky integrator, the readout layer whose output is its membrane."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from spikestack.functional.membrane import membrane
from spikestack.neurons.base import Neuron
from spikestack.surrogates import Surrogate
from spikestack.validation import check_number, check_tau

__all__ = ["CUBALI", "LI"]


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
        out, (v, _, _) = membrane(
            x, tau=self.tau, decay_input=self.decay_input, v_reset=self.v_leak, spiking=False,
            surrogate=self.surrogate, state=None if state is None else (state, None, None),
        )  # fmt: skip
        return out, v

    def _extra_parts(self) -> list[str]:
        return [f"tau={self.tau}", f"v_leak={self.v_leak}", f"decay_input={self.decay_input}"]


class CUBALI(Neuron):
    """Current-based leaky integrator: a synaptic current I[t] = (1 - 1/tau_syn) I[t-1] + X[t]
    drives :class:`LI`'s membrane, whose trace is the output (Norse's ``LICell`` with
    tau = 1 / (dt tau_mem_inv), tau_syn = 1 / (dt tau_syn_inv); NIR's ``CubaLI``). The
    state is ``(v, i)``."""

    state_names = ("v", "i")
    options = Neuron.options | {"tau", "tau_syn", "v_leak", "decay_input"}
    emits_spikes = False

    def __init__(
        self,
        tau: float = 2.0,
        tau_syn: float = 2.0,
        *,
        v_leak: float = 0.0,
        decay_input: bool = True,
        surrogate: Surrogate | None = None,
        stateful: bool = False,
    ) -> None:
        super().__init__(surrogate=surrogate, stateful=stateful)
        self.tau = check_tau(tau)
        self.tau_syn = check_tau(tau_syn, name="tau_syn")
        self.v_leak = check_number("v_leak", v_leak)
        self.decay_input = bool(decay_input)

    def init_state(self, x_t: Tensor) -> tuple[Tensor, Tensor]:
        return torch.full_like(x_t, self.v_leak), torch.zeros_like(x_t)

    def _run(self, x: Tensor, state: Any) -> tuple[Tensor, tuple[Tensor, Tensor]]:  # type: ignore[override]
        out, (v, i, _) = membrane(
            x, tau=self.tau, tau_syn=self.tau_syn, decay_input=self.decay_input,
            v_reset=self.v_leak, spiking=False, surrogate=self.surrogate,
            state=None if state is None else (state[0], state[1], None),
        )  # fmt: skip
        return out, (v, i)  # type: ignore[return-value]

    def _extra_parts(self) -> list[str]:
        return [f"tau={self.tau}", f"tau_syn={self.tau_syn}", f"v_leak={self.v_leak}",
                f"decay_input={self.decay_input}"]  # fmt: skip
