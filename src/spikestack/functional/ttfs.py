"""Time-to-first-spike (TTFS) neuron: fires at most once per sample.

Che, Fang et al., "Efficiently Training Time-to-First-Spike Spiking Neural Networks
from Scratch" (arXiv:2410.23619; v1 "ETTFS: An Efficient Training Framework for
Time-to-First-Spike Neuron"). An integrate-and-fire membrane whose first spike makes
the neuron refractory for the rest of the sample, so its output is a single spike
whose time carries the information. Over ``x [T, B, ...]``:

    integrate  V[t] = V[t-1] + X[t]
    fire       S[t] = Θ(V[t] - v_threshold) (1 - F[t-1])
    refractory F[t] = max(F[t-1], S[t])     (F[-1] = 0; F is not differentiated)

No reset is needed: after the spike the gate (1 - F) is 0 for good. The surrogate
gradient flows through Θ only while the neuron has not fired.
"""

from __future__ import annotations

import torch
from torch import Tensor

from spikestack.functional.neurons import initial_state
from spikestack.surrogates import ATan, Surrogate, check_surrogate
from spikestack.validation import check_positive, check_sequence

__all__ = ["ttfs"]

_DEFAULT_SURROGATE = ATan()


def ttfs(
    x: Tensor,
    *,
    v_threshold: float = 1.0,
    surrogate: Surrogate = _DEFAULT_SURROGATE,
    state: tuple[Tensor, Tensor] | None = None,
    return_state: bool = False,
) -> Tensor | tuple[Tensor, tuple[Tensor, Tensor]]:
    """TTFS over ``x [T, B, ...]`` from ``state = (v, fired)`` (None = rest, nothing fired)."""
    check_sequence(x)
    check_positive("v_threshold", v_threshold)
    check_surrogate(surrogate)
    if state is None:
        v, fired = torch.zeros_like(x[0]), torch.zeros_like(x[0])
    else:
        if not (isinstance(state, tuple) and len(state) == 2):
            raise TypeError("state must be a tuple (v, fired) of tensors or None")
        v, fired = initial_state(x, state[0], None), initial_state(x, state[1], None)
    spikes = []
    # unbind, not x[t]: each x[t] would back-propagate a full [T, ...] zero-padded gradient
    for x_t in x.unbind(0):
        v = v + x_t
        s = surrogate(v - v_threshold) * (1.0 - fired)
        fired = torch.maximum(fired, s.detach())
        spikes.append(s)
    out = torch.stack(spikes)
    return (out, (v, fired)) if return_state else out
