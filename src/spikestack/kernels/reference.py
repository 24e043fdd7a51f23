"""Plain-torch definitions of every neuron op: the ground truth for all backends.

Each function takes the input current ``x`` of shape ``[T, B, ...]`` and the
initial membrane ``v_init`` (shape ``x.shape[1:]``) and returns
``(spikes [T, B, ...], v_final)``. Autograd differentiates through them; fused
kernels in :mod:`spikestack.kernels` must reproduce their values and gradients.

The arithmetic follows SpikingJelly's multi-step nodes operation by operation
(including its choice of formula when ``v_reset`` is 0 or soft), so spikes agree
bit for bit with ``LIFNode``/``IFNode``/``ParametricLIFNode``.

Dynamics (Fang et al. 2021, SpikingJelly docs):

    charge   IF:   H[t] = V[t-1] + X[t]
             LIF:  H[t] = V[t-1] + (X[t] - (V[t-1] - v_reset)) / tau         (decay_input)
                   H[t] = V[t-1] - (V[t-1] - v_reset) / tau + X[t]           (otherwise)
             PLIF: as LIF with 1/tau = sigmoid(w), w learnable
    fire     S[t] = Θ(H[t] - v_threshold)    (surrogate gradient in backward)
    reset    V[t] = H[t]·(1 - S[t]) + v_reset·S[t]    (hard, v_reset is a number)
             V[t] = H[t] - v_threshold·S[t]           (soft, v_reset is None)

With ``detach_reset`` the S inside the reset is detached from the graph.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from spikestack.surrogates import Surrogate

Charge = Callable[[Tensor, Tensor], Tensor]


def _run(
    x: Tensor,
    v_init: Tensor,
    charge: Charge,
    *,
    v_threshold: float,
    v_reset: float | None,
    detach_reset: bool,
    surrogate: Surrogate,
) -> tuple[Tensor, Tensor]:
    v = v_init
    spikes = []
    # unbind, not x[t]: the backward of one unbind stacks the T gradients once, where T
    # separate index ops would each build a full [T, ...] gradient (O(T^2) memory traffic).
    for x_t in x.unbind(0):
        h = charge(x_t, v)
        s = surrogate(h - v_threshold)
        s_reset = s.detach() if detach_reset else s
        if v_reset is None:
            v = h - s_reset * v_threshold
        else:
            v = (1.0 - s_reset) * h + s_reset * v_reset
        spikes.append(s)
    return torch.stack(spikes), v


def if_(
    x: Tensor,
    v_init: Tensor,
    *,
    v_threshold: float,
    v_reset: float | None,
    detach_reset: bool,
    surrogate: Surrogate,
) -> tuple[Tensor, Tensor]:
    """Integrate-and-fire: H[t] = V[t-1] + X[t]."""
    return _run(
        x,
        v_init,
        lambda x_t, v: v + x_t,
        v_threshold=v_threshold,
        v_reset=v_reset,
        detach_reset=detach_reset,
        surrogate=surrogate,
    )


def leaky_charge(
    decay_input: bool,
    v_reset: float | None,
    decay: Callable[[Tensor], Tensor],
    keep: Tensor | float,
) -> Charge:
    """Charge of LIF/PLIF with SpikingJelly's formula for each case.

    ``decay(d)`` is ``d / tau`` (LIF: SpikingJelly divides, so LIF's rounding matches
    LIFNode) or ``d * sigmoid(w)`` (PLIF); ``keep`` is ``1 - 1/tau`` or ``1 - sigmoid(w)``.
    """
    reset0 = v_reset is None or v_reset == 0.0
    if decay_input and reset0:
        return lambda x_t, v: v + decay(x_t - v)
    if decay_input:
        return lambda x_t, v: v + decay(x_t - (v - v_reset))
    if reset0:
        return lambda x_t, v: v * keep + x_t
    return lambda x_t, v: v - decay(v - v_reset) + x_t


def lif(
    x: Tensor,
    v_init: Tensor,
    *,
    tau: float,
    v_threshold: float,
    v_reset: float | None,
    decay_input: bool,
    detach_reset: bool,
    surrogate: Surrogate,
) -> tuple[Tensor, Tensor]:
    """Leaky integrate-and-fire with a fixed time constant ``tau``."""
    return _run(
        x,
        v_init,
        leaky_charge(decay_input, v_reset, lambda d: d / tau, 1.0 - 1.0 / tau),
        v_threshold=v_threshold,
        v_reset=v_reset,
        detach_reset=detach_reset,
        surrogate=surrogate,
    )


def plif(
    x: Tensor,
    v_init: Tensor,
    w: Tensor,
    *,
    v_threshold: float,
    v_reset: float | None,
    decay_input: bool,
    detach_reset: bool,
    surrogate: Surrogate,
) -> tuple[Tensor, Tensor]:
    """Parametric LIF (Fang et al., ICCV 2021): 1/tau = sigmoid(w), ``w`` a 0-d tensor."""
    decay = w.sigmoid().to(x.dtype)
    return _run(
        x,
        v_init,
        leaky_charge(decay_input, v_reset, lambda d: d * decay, 1.0 - decay),
        v_threshold=v_threshold,
        v_reset=v_reset,
        detach_reset=detach_reset,
        surrogate=surrogate,
    )
