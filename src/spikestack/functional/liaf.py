"""LIAF: leaky integrate and analog fire.

Wu et al., "LIAF-Net: Leaky Integrate and Analog Fire Network for Lightweight and
Efficient Spatiotemporal Information Processing", IEEE TNNLS 2021 (arXiv:2011.06176).
The membrane follows LIF dynamics; the neuron sends the analog value f(U) instead of
a spike, and the spike only drives the reset. Over ``x [T, B, ...]`` (the synaptic
input I, e.g. a convolution of the previous layer's output):

    integrate  U[t] = decay * V[t-1] + X[t]
    fire       S[t] = Θ(U[t] - v_threshold)     (drives the reset only)
    output     Y[t] = f(U[t])                   (f = ReLU, sigmoid, tanh, identity ...)
    reset      V[t] = U[t] (1 - S[t]) + v_reset S[t]

LIAF-Net writes the leak as a multiplicative factor on the previous membrane
(U[t] = tau U[t-1] (1 - S[t-1]) + I[t] with v_reset = 0); ``decay`` is that factor.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from spikestack.functional.neurons import initial_state
from spikestack.surrogates import ATan, Surrogate, check_surrogate
from spikestack.validation import check_sequence

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


def check_decay(decay: float) -> None:
    if not isinstance(decay, (int, float)) or not math.isfinite(decay) or not 0.0 <= decay <= 1.0:
        raise ValueError(f"decay (membrane leak factor) must lie in [0, 1]; got {decay!r}")


def liaf(
    x: Tensor,
    *,
    decay: float = 0.5,
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
    check_decay(decay)
    if not isinstance(v_threshold, (int, float)) or not math.isfinite(v_threshold):
        raise ValueError(f"v_threshold must be a finite number; got {v_threshold!r}")
    if not isinstance(v_reset, (int, float)) or not math.isfinite(v_reset):
        raise ValueError(f"v_reset must be a finite number (LIAF resets hard); got {v_reset!r}")
    check_surrogate(surrogate)
    f = resolve_activation(activation)
    v = initial_state(x, v_init, v_reset)
    out = []
    # unbind, not x[t]: each x[t] would back-propagate a full [T, ...] zero-padded gradient
    for x_t in x.unbind(0):
        u = decay * v + x_t
        s = surrogate(u - v_threshold)
        if detach_reset:
            s = s.detach()
        out.append(f(u))
        v = u * (1.0 - s) + v_reset * s
    y = torch.stack(out)
    return (y, v) if return_state else y
