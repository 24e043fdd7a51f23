"""Neurons with nonlinear membranes: Izhikevich, adaptive exponential (AdEx, and EIF
without adaptation) and quadratic integrate-and-fire, stepped by explicit Euler.

All run over ``x [T, B, ...]`` in plain torch (autograd through the loop; the spike's
gradient comes from the surrogate) and return ``(spikes, state)``. The update uses the
previous step's variables on every right-hand side, then fires and resets:

    Izhikevich (2003), dt in ms:
        H[t] = V + dt (sq V^2 + mn V + bias - U + X[t])        (sq, mn, bias = .04, 5, 140)
        U'   = U + dt a (b V - U)
        S[t] = Θ(H[t] - v_threshold);  V[t] = c where S else H[t];  U[t] = U' + d S[t]
    AdEx (Brette & Gerstner 2005), times in steps:
        I[t] = α I[t-1] + X[t]   (α = 1 - 1/tau_syn; I[t] = X[t] without tau_syn)
        H[t] = V + ((v_rest - V) + delta_T exp((V - theta_rh) / delta_T) + I[t] - W) / tau
        W'   = W + (a (V - v_rest) - W) / tau_w
        S[t] = Θ(H[t] - v_threshold);  reset V as LIF;  W[t] = W' + b S[t]
    QIF:
        H[t] = V + (X[t] + a0 (V - v_rest)(V - v_c)) / tau

The exponential's argument is clamped at 80 so that a membrane far above threshold
(about to be reset) cannot overflow float32 to inf.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from spikestack.functional.neurons import initial_state
from spikestack.surrogates import Surrogate, check_surrogate
from spikestack.validation import check_number, check_positive, check_sequence

__all__ = ["adex", "check_membrane_levels", "izhikevich", "qif"]

_EXP_MAX = 80.0


def check_membrane_levels(*, v_threshold: Any, v_reset: Any, **levels: Any) -> None:
    """Finite levels (any sign: these neurons work in mV), ``v_reset`` below the
    threshold or None (soft reset)."""
    for name, value in {"v_threshold": v_threshold, **levels}.items():
        check_number(name, value)
    if v_reset is not None and not torch.compiler.is_compiling():
        if check_number("v_reset", v_reset) >= v_threshold:
            raise ValueError(f"v_reset ({v_reset}) must be below v_threshold ({v_threshold})")


def _reset(h: Tensor, spike: Tensor, v_threshold: float, v_reset: float | None) -> Tensor:
    return h - v_threshold * spike if v_reset is None else (1.0 - spike) * h + spike * v_reset


def _start(
    x: Tensor, state: tuple[Tensor | None, ...] | None, rests: tuple[float, ...]
) -> list[Tensor]:
    given = (None,) * len(rests) if state is None else state
    if len(given) != len(rests):
        raise ValueError(f"state must hold {len(rests)} tensors; got {len(given)}")
    out = []
    for value, rest in zip(given, rests, strict=True):
        if value is None:
            out.append(torch.full_like(x[0], rest))
        else:
            out.append(initial_state(x, value, None))
    return out


def izhikevich(
    x: Tensor,
    *,
    a: float,
    b: float,
    c: float,
    d: float,
    dt: float,
    v_threshold: float,
    surrogate: Surrogate,
    v_init: float = -65.0,
    sq: float = 0.04,
    mn: float = 5.0,
    bias: float = 140.0,
    detach_reset: bool = False,
    state: tuple[Tensor, Tensor] | None = None,
) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """Izhikevich's model over ``x [T, B, ...]`` from ``state = (v, u)`` (None: v = v_init,
    u = b v_init)."""
    check_sequence(x)
    check_surrogate(surrogate)
    check_positive("dt", dt)
    check_membrane_levels(v_threshold=v_threshold, v_reset=c, a=a, b=b, d=d, v_init=v_init)
    v, u = _start(x, state, (v_init, b * v_init))
    spikes = []
    for x_t in x.unbind(0):
        # operation for operation as Norse's izhikevich_feed_forward_step (whose rounding
        # the chaotic upstroke would otherwise amplify)
        h = v + dt * (sq * v**2 + mn * v + bias - u + x_t)
        u = u + dt * a * (b * v - u)
        spike = surrogate(h - v_threshold)
        r = spike.detach() if detach_reset else spike
        v = _reset(h, r, v_threshold, c)
        u = (1.0 - r) * u + r * (u + d)
        spikes.append(spike)
    return torch.stack(spikes), (v, u)


def adex(
    x: Tensor,
    *,
    tau: float,
    delta_T: float,
    theta_rh: float,
    v_threshold: float,
    v_reset: float | None,
    v_rest: float,
    surrogate: Surrogate,
    tau_w: float | None = None,
    a: float = 0.0,
    b: float = 0.0,
    tau_syn: float | None = None,
    detach_reset: bool = False,
    state: tuple[Tensor, Tensor, Tensor] | None = None,
) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor]]:
    """AdEx over ``x [T, B, ...]`` from ``state = (v, w, i)`` (None: v_rest, no adaptation,
    no current). ``tau_w=None`` turns adaptation off (EIF)."""
    check_sequence(x)
    check_surrogate(surrogate)
    for name, value in (("tau", tau), ("delta_T", delta_T)):
        check_positive(name, value)
    if tau_w is not None:
        check_positive("tau_w", tau_w)
    check_membrane_levels(
        v_threshold=v_threshold, v_reset=v_reset, theta_rh=theta_rh, v_rest=v_rest, a=a, b=b
    )
    v, w, i = _start(x, state, (v_rest, 0.0, 0.0))
    alpha = None if tau_syn is None else 1.0 - 1.0 / tau_syn
    spikes = []
    for x_t in x.unbind(0):
        i = x_t if alpha is None else alpha * i + x_t
        rise = delta_T * torch.exp(((v - theta_rh) / delta_T).clamp(max=_EXP_MAX))
        h = v + ((v_rest - v) + rise + i - w) / tau
        spike = surrogate(h - v_threshold)
        r = spike.detach() if detach_reset else spike
        if tau_w is not None:
            w = w + (a * (v - v_rest) - w) / tau_w + b * r
        v = _reset(h, r, v_threshold, v_reset)
        spikes.append(spike)
    return torch.stack(spikes), (v, w, i)


def qif(
    x: Tensor,
    *,
    tau: float,
    v_c: float,
    a0: float,
    v_threshold: float,
    v_reset: float | None,
    v_rest: float,
    surrogate: Surrogate,
    detach_reset: bool = False,
    state: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Quadratic integrate-and-fire over ``x [T, B, ...]`` from ``state`` (None: v_rest)."""
    check_sequence(x)
    check_surrogate(surrogate)
    check_positive("tau", tau)
    check_positive("a0", a0)
    check_membrane_levels(v_threshold=v_threshold, v_reset=v_reset, v_c=v_c, v_rest=v_rest)
    (v,) = _start(x, None if state is None else (state,), (v_rest,))
    spikes = []
    for x_t in x.unbind(0):
        h = v + (x_t + a0 * (v - v_rest) * (v - v_c)) / tau
        spike = surrogate(h - v_threshold)
        v = _reset(h, spike.detach() if detach_reset else spike, v_threshold, v_reset)
        spikes.append(spike)
    return torch.stack(spikes), v
