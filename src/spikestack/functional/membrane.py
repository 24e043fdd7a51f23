"""One torch loop for the LIF family beyond the fused kernels: a synaptic current, a
recurrent connection and snnTorch's delayed reset, each optional.

Over ``x [T, B, ...]``, with β = 1 − 1/tau and α = 1 − 1/tau_syn:

    input      J[t] = X[t] + R(S[t-1])                  (recurrent R given; else J[t] = X[t])
    current    D[t] = I[t] = α I[t-1] + J[t]            (tau_syn given; else D[t] = J[t])
    charge     H[t] = V[t-1] - (V[t-1] - v_reset) / tau + D[t]
               H[t] = V[t-1] + (D[t] - (V[t-1] - v_reset)) / tau     (decay_input)
    fire       S[t] = Θ(H[t] - v_threshold)
    reset      V[t] = H[t] (1 - S[t]) + v_reset S[t]     (hard)
               V[t] = H[t] - v_threshold S[t]            (soft, v_reset None)

``reset_delay=True`` is snnTorch's convention (``reset_delay=True``, its default): the
carried membrane is the value before reset, V[t] = H[t], and the spike resets the next
step, recomputed from it as Rs = Θ(V[t-1] - v_threshold) without gradient: soft
H[t] = charge(D[t], V[t-1]) - v_threshold Rs (the subtraction is not leaked), hard
H[t] = charge(D[t], V[t-1]) (1 - Rs) + v_reset Rs (the step after a spike is held at
v_reset, its charge discarded: snnTorch's ``Synaptic``/``RLeaky`` "zero" reset).
snnTorch's ``Leaky`` "zero" reset charges from 0 on that step instead, which is this
loop's immediate hard reset (``reset_delay=False``) read before the reset.

The state is ``(v, i, s)``: ``i`` is None without a current, ``s`` (the last spikes,
which feed the recurrence) None without a recurrence.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from spikestack.functional.neurons import initial_state
from spikestack.kernels.reference import leaky_charge
from spikestack.surrogates import Surrogate, check_surrogate, heaviside
from spikestack.validation import check_neuron_params, check_sequence, check_tau

__all__ = ["MembraneState", "alpha_synapse", "klif", "membrane"]

MembraneState = tuple[Tensor, Tensor | None, Tensor | None]


def membrane(
    x: Tensor,
    *,
    tau: float,
    surrogate: Surrogate,
    tau_syn: float | None = None,
    decay_input: bool = False,
    v_threshold: float = 1.0,
    v_reset: float | None = 0.0,
    detach_reset: bool = False,
    reset_delay: bool = False,
    recurrent: Callable[[Tensor], Tensor] | None = None,
    spiking: bool = True,
    state: MembraneState | None = None,
) -> tuple[Tensor, MembraneState]:
    """Run the loop over ``x [T, B, ...]`` from ``state`` (None: rest, no current, no spikes).

    Returns ``(out, (v, i, s))``: ``out`` the spikes, or with ``spiking=False`` the
    membrane trace (a leaky integrator: no threshold, no reset).
    """
    check_sequence(x)
    check_tau(tau)
    if tau_syn is not None:
        check_tau(tau_syn, name="tau_syn")
    if spiking:
        check_neuron_params(v_threshold=v_threshold, v_reset=v_reset)
    check_surrogate(surrogate)
    v0, i0, s0 = (None, None, None) if state is None else state
    v = initial_state(x, v0, v_reset)
    i = (
        None
        if tau_syn is None
        else (torch.zeros_like(x[0]) if i0 is None else initial_state(x, i0, None))
    )
    s = (
        None
        if recurrent is None
        else (torch.zeros_like(x[0]) if s0 is None else initial_state(x, s0, None))
    )
    alpha = None if tau_syn is None else 1.0 - 1.0 / tau_syn
    charge = leaky_charge(decay_input, v_reset, lambda d: d / tau, 1.0 - 1.0 / tau)
    out = []
    for x_t in x.unbind(0):
        if alpha is not None:  # summed in snnTorch's order: (α I + X) + R(S)
            i = alpha * i + x_t
            drive = i = i if s is None else i + recurrent(s)  # type: ignore[misc]
        else:
            drive = x_t if s is None else x_t + recurrent(s)  # type: ignore[misc]
        h = charge(drive, v)
        if not spiking:
            v = h
            out.append(h)
            continue
        if reset_delay:
            fired = heaviside(v.detach() - v_threshold)
            h = h - v_threshold * fired if v_reset is None else h * (1.0 - fired) + v_reset * fired
        spike = surrogate(h - v_threshold)
        if reset_delay:
            v = h
        else:
            r = spike.detach() if detach_reset else spike
            v = h - v_threshold * r if v_reset is None else h * (1.0 - r) + v_reset * r
        if s is not None:
            s = spike
        out.append(spike)
    return torch.stack(out), (v, i, s)


def alpha_synapse(
    x: Tensor,
    *,
    tau_decay: float,
    tau_rise: float,
    surrogate: Surrogate,
    v_threshold: float = 1.0,
    detach_reset: bool = False,
    reset_delay: bool = False,
    state: tuple[Tensor, Tensor, Tensor] | None = None,
) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor]]:
    """The Alpha neuron: the membrane is the input filtered by a difference of two
    exponentials (snnTorch's ``Alpha``). With a = 1 - 1/tau_decay > b = 1 - 1/tau_rise:

        E[t] = a E[t-1] + X[t],   N[t] = b N[t-1] - X[t],   V[t] = c (E[t] + N[t])
        c = ln a / (ln b - ln a) + 1

    so one input impulse gives V = c (a^t - b^t), rising then decaying. A spike resets
    E, N and V to 0: at once, or with ``reset_delay`` (snnTorch) on the next step, whose
    input is then discarded. State ``(v, e, n)``; returns ``(spikes, state)``.
    """
    check_sequence(x)
    check_tau(tau_decay, name="tau_decay")
    check_tau(tau_rise, name="tau_rise")
    if not tau_decay > tau_rise:
        raise ValueError(
            f"tau_decay ({tau_decay}) must exceed tau_rise ({tau_rise}): the slow exponential "
            "sets the decay, the fast one the rise"
        )
    check_neuron_params(v_threshold=v_threshold, v_reset=0.0)
    check_surrogate(surrogate)
    a, b = 1.0 - 1.0 / tau_decay, 1.0 - 1.0 / tau_rise
    c = math.log(a) / (math.log(b) - math.log(a)) + 1.0
    if state is None:
        v, e, n = (torch.zeros_like(x[0]) for _ in range(3))
    else:
        v, e, n = (initial_state(x, s, None) for s in state)
    out = []
    for x_t in x.unbind(0):
        e = a * e + x_t
        n = b * n - x_t
        if reset_delay:
            keep = 1.0 - heaviside(v.detach() - v_threshold)
            e, n = e * keep, n * keep
        v = c * (e + n)
        spike = surrogate(v - v_threshold)
        if not reset_delay:
            keep = 1.0 - (spike.detach() if detach_reset else spike)
            e, n, v = e * keep, n * keep, v * keep
        out.append(spike)
    return torch.stack(out), (v, e, n)


def klif(
    x: Tensor,
    k: Tensor,
    *,
    tau: float,
    surrogate: Surrogate,
    decay_input: bool = True,
    v_threshold: float = 1.0,
    v_reset: float | None = 0.0,
    detach_reset: bool = False,
    scale_reset: bool = False,
    state: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """KLIF (Jiang & Zhang, "KLIF: An optimized spiking neuron unit for tuning surrogate
    gradient slope and membrane potential", ICASSP 2023): LIF's charge, then
    H[t] = ReLU(k · charge) with a learnable k, which sets the effective slope of the
    surrogate; fire at v_threshold and reset H (or, with ``scale_reset``, H / k against
    v_threshold / k). Returns ``(spikes, v_final)``."""
    check_sequence(x)
    check_tau(tau)
    check_neuron_params(v_threshold=v_threshold, v_reset=v_reset)
    check_surrogate(surrogate)
    charge = leaky_charge(decay_input, v_reset, lambda d: d / tau, 1.0 - 1.0 / tau)
    v = initial_state(x, state, v_reset)
    out = []
    for x_t in x.unbind(0):
        h = torch.relu(k * charge(x_t, v))
        spike = surrogate(h - v_threshold)
        r = spike.detach() if detach_reset else spike
        if scale_reset:
            h, threshold = h / k, v_threshold / k
        else:
            threshold = v_threshold
        v = h - threshold * r if v_reset is None else h * (1.0 - r) + v_reset * r
        out.append(spike)
    return torch.stack(out), v
