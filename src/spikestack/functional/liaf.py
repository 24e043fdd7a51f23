"""LIAF: leaky integrate and analog fire.

Wu et al., "LIAF-Net: Leaky Integrate and Analog Fire Network for Lightweight and
Efficient Spatiotemporal Information Processing", IEEE TNNLS 2021 (arXiv:2011.06176).
The membrane follows LIF dynamics; the neuron sends the analog value f(U) instead of
a spike, and the spike only drives the reset. Over ``x [T, B, ...]`` (the synaptic
input I, e.g. a convolution of the previous layer's output):

    integrate  U[t] = V[t-1] - (V[t-1] - v_reset) / tau + X[t]   (LIF's charge, no input decay)
    fire       S[t] = Θ(U[t] - v_threshold)     (drives the reset only)
    output     Y[t] = f(U[t])                   (f = ReLU, sigmoid, tanh, identity ...)
    reset      V[t] = U[t] (1 - S[t]) + v_reset S[t]

The leak is a time constant ``tau``, as for LIF. LIAF-Net writes it as a multiplicative
factor on the previous membrane (U[t] = d U[t-1] (1 - S[t-1]) + I[t], v_reset = 0): that
factor is d = 1 - 1/tau, so tau = 1 / (1 - d) (LIAF-Net's d = 0.5 is tau = 2, the default).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from spikestack.functional.neurons import initial_state
from spikestack.kernels.reference import leaky_charge
from spikestack.surrogates import ATan, Surrogate, check_surrogate
from spikestack.validation import check_neuron_params, check_sequence, check_tau

__all__ = ["ACTIVATIONS", "liaf", "resolve_activation"]

_DEFAULT_SURROGATE = ATan()

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "identity": lambda u: u,
}


def resolve_activation(activation: str | Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    """The analog activation f by name (relu, sigmoid, tanh, identity) or a callable."""
    if isinstance(activation, str):
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {', '.join(ACTIVATIONS)} or a callable; got {activation!r}"
            )
        return ACTIVATIONS[activation]
    if not callable(activation):
        raise TypeError(f"activation must be a name or a callable; got {type(activation).__name__}")
    return activation


def liaf(
    x: Tensor,
    *,
    tau: float = 2.0,
    v_threshold: float = 1.0,
    v_reset: float = 0.0,
    activation: str | Callable[[Tensor], Tensor] = "relu",
    detach_reset: bool = False,
    surrogate: Surrogate = _DEFAULT_SURROGATE,
    v_init: Tensor | None = None,
    return_state: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """LIAF over ``x [T, B, ...]``; returns Y = f(U), or ``(Y, v_final)`` with ``return_state``."""
    check_sequence(x)
    check_tau(tau)
    if v_reset is None:
        raise ValueError("LIAF resets hard: v_reset must be a number, not None")
    check_neuron_params(v_threshold=v_threshold, v_reset=v_reset)
    check_surrogate(surrogate)
    f = resolve_activation(activation)
    v = initial_state(x, v_init, v_reset)
    charge = leaky_charge(False, v_reset, lambda d: d / tau, 1.0 - 1.0 / tau)
    out = []
    # unbind, not x[t]: each x[t] would back-propagate a full [T, ...] zero-padded gradient
    for x_t in x.unbind(0):
        u = charge(x_t, v)
        s = surrogate(u - v_threshold)
        if detach_reset:
            s = s.detach()
        out.append(f(u))
        v = u * (1.0 - s) + v_reset * s
    y = torch.stack(out)
    return (y, v) if return_state else y
