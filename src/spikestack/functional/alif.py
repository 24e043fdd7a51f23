"""Adaptive LIF (ALIF): a LIF neuron whose threshold rises after each spike and decays back.

After Bellec et al., "Long short-term memory and Learning-to-learn in networks of
spiking neurons", NeurIPS 2018 (the LSNN's adaptive neurons). Over ``x [T, B, ...]``:

    charge     H[t] = V[t-1] + (X[t] - (V[t-1] - v_reset)) / tau      (decay_input)
               H[t] = V[t-1] - (V[t-1] - v_reset) / tau + X[t]        (otherwise)
    threshold  theta[t] = b0 + beta * a[t]
    fire       S[t] = Θ(H[t] - theta[t])
    reset      V[t] = H[t] - theta[t] S[t]                  (soft, v_reset None: Bellec's form)
               V[t] = H[t] (1 - S[t]) + v_reset S[t]        (hard)
    adapt      a[t+1] = rho * a[t] + S[t],   rho = exp(-1 / tau_adapt),  a[0] = 0

so a[t] = rho a[t-1] + S[t-1]. Bellec et al. write a[t+1] = rho a[t] + (1 - rho) S[t]
with beta ~ 1.8; that is the same model with beta_here = beta_Bellec * (1 - rho).
The state carried between calls is ``(V, a_next)``: the membrane after the last step
and the adaptation the next step will use. ``b0`` is ``v_threshold``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from spikestack.functional.neurons import initial_state
from spikestack.kernels.reference import leaky_charge
from spikestack.surrogates import ATan, Surrogate, check_surrogate
from spikestack.validation import (
    check_neuron_params,
    check_positive,
    check_sequence,
    check_tau,
)

__all__ = ["alif", "check_adaptation"]

_DEFAULT_SURROGATE = ATan()


def check_adaptation(*, tau_adapt: float, beta: float) -> None:
    check_positive("tau_adapt", tau_adapt)
    check_positive("beta (threshold increase per unit of adaptation)", beta, allow_zero=True)


def alif(
    x: Tensor,
    *,
    tau: float = 2.0,
    tau_adapt: float = 20.0,
    beta: float = 0.1,
    v_threshold: float = 1.0,
    v_reset: float | None = None,
    decay_input: bool = True,
    detach_reset: bool = False,
    surrogate: Surrogate = _DEFAULT_SURROGATE,
    state: tuple[Tensor, Tensor] | None = None,
    return_state: bool = False,
) -> Tensor | tuple[Tensor, tuple[Tensor, Tensor]]:
    """ALIF over ``x [T, B, ...]`` from ``state = (v, a)`` (``None`` = rest: v at rest, a = 0).

    Returns the spikes, or ``(spikes, (v_final, a_next))`` with ``return_state=True``.
    """
    check_sequence(x)
    check_tau(tau)
    check_adaptation(tau_adapt=tau_adapt, beta=beta)
    check_neuron_params(v_threshold=v_threshold, v_reset=v_reset)
    check_surrogate(surrogate)
    if state is None:
        v, a = initial_state(x, None, v_reset), torch.zeros_like(x[0])
    else:
        if not (isinstance(state, tuple) and len(state) == 2):
            raise TypeError("state must be a tuple (v, a) of tensors or None")
        v = initial_state(x, state[0], v_reset)
        a = initial_state(x, state[1], None)
    rho = math.exp(-1.0 / tau_adapt)
    # the LIF charge of the reference, so ALIF's membrane rounds exactly as LIF's does
    charge = leaky_charge(decay_input, v_reset, lambda d: d / tau, 1.0 - 1.0 / tau)
    spikes = []
    # unbind, not x[t]: each x[t] would back-propagate a full [T, ...] zero-padded gradient
    for x_t in x.unbind(0):
        h = charge(x_t, v)
        theta = v_threshold + beta * a
        s = surrogate(h - theta)
        s_reset = s.detach() if detach_reset else s
        v = h - theta * s_reset if v_reset is None else h * (1.0 - s_reset) + v_reset * s_reset
        a = rho * a + s
        spikes.append(s)
    out = torch.stack(spikes)
    return (out, (v, a)) if return_state else out
