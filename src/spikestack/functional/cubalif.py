"""Current-based LIF (CUBA LIF): a synaptic current with its own decay drives the membrane.

Over ``x [T, B, ...]``, with α = 1 − 1/tau_syn and the membrane leaking like LIF without
input decay (β = 1 − 1/tau toward v_reset):

    current    I[t] = α I[t-1] + X[t]
    charge     H[t] = V[t-1] - (V[t-1] - v_reset) / tau + I[t]
    fire       S[t] = Θ(H[t] - v_threshold)
    reset      V[t] = H[t] (1 - S[t]) + v_reset S[t]     (hard)
               V[t] = H[t] - v_threshold S[t]            (soft, v_reset None)

snnTorch's ``Synaptic(alpha=α, beta=β)`` has the same current and membrane
(tests/neurons/test_cubalif.py: equal below threshold and up to each neuron's first
spike); its ``reset_mechanism="zero"`` also discards the charge of the step after a spike,
a one-step refractory period this neuron does not have. Norse's LIF and NIR's CubaLIF are
its continuous-time form. The state is ``(V, I)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from spikestack.functional.neurons import initial_state
from spikestack.kernels.reference import leaky_charge
from spikestack.surrogates import ATan, Surrogate, check_surrogate
from spikestack.validation import check_neuron_params, check_sequence, check_tau

__all__ = ["cubalif"]

_DEFAULT_SURROGATE = ATan()


def cubalif(
    x: Tensor,
    *,
    tau: float = 2.0,
    tau_syn: float = 2.0,
    v_threshold: float = 1.0,
    v_reset: float | None = 0.0,
    detach_reset: bool = False,
    surrogate: Surrogate = _DEFAULT_SURROGATE,
    state: tuple[Tensor, Tensor] | None = None,
    return_state: bool = False,
) -> Tensor | tuple[Tensor, tuple[Tensor, Tensor]]:
    """CUBA LIF over ``x [T, B, ...]`` from ``state = (v, i)`` (``None``: rest, no current).

    Returns the spikes, or ``(spikes, (v_final, i_final))`` with ``return_state=True``.
    """
    check_sequence(x)
    check_tau(tau)
    check_tau(tau_syn, name="tau_syn")
    check_neuron_params(v_threshold=v_threshold, v_reset=v_reset)
    check_surrogate(surrogate)
    if state is None:
        v, i = initial_state(x, None, v_reset), torch.zeros_like(x[0])
    else:
        if not (isinstance(state, tuple) and len(state) == 2):
            raise TypeError("state must be a tuple (v, i) of tensors or None")
        v, i = initial_state(x, state[0], v_reset), initial_state(x, state[1], None)
    alpha = 1.0 - 1.0 / tau_syn
    charge = leaky_charge(False, v_reset, lambda d: d / tau, 1.0 - 1.0 / tau)  # LIF's, no decay
    spikes = []
    for x_t in x.unbind(0):
        i = alpha * i + x_t
        h = charge(i, v)
        s = surrogate(h - v_threshold)
        s_reset = s.detach() if detach_reset else s
        v = (
            h - v_threshold * s_reset
            if v_reset is None
            else h * (1.0 - s_reset) + v_reset * s_reset
        )
        spikes.append(s)
    out = torch.stack(spikes)
    return (out, (v, i)) if return_state else out
