"""TTFS neuron and its initialisation.

Che, Fang et al., "Efficiently Training Time-to-First-Spike Spiking Neural Networks
from Scratch" (arXiv:2410.23619). The dynamics are in :mod:`spikestack.functional.ttfs`;
the temporal-weighting decoder is :class:`spikestack.layers.TemporalWeightingDecoder`.
The pooling rule of TTFS networks (average, never max) is
:mod:`spikestack.layers.ttfs_pooling`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from spikestack.functional.ttfs import ttfs
from spikestack.neurons.base import Neuron
from spikestack.surrogates import Surrogate
from spikestack.validation import check_positive

__all__ = ["TTFS", "ttfs_init_"]


class TTFS(Neuron):
    """Integrate-and-fire neuron that fires at most once per sample (refractory after).

    V[t] = V[t-1] + X[t]; S[t] = Θ(V[t] - v_threshold)(1 - F[t-1]); F = fired so far.
    The state is ``(v, fired)``; a multi-step call starts from rest. It runs on the
    torch implementation (no fused kernel, no ``backend``).
    """

    state_names = ("v", "fired")
    options = Neuron.options | {"v_threshold"}

    def __init__(
        self,
        v_threshold: float = 1.0,
        *,
        surrogate: Surrogate | None = None,
        stateful: bool = False,
    ) -> None:
        super().__init__(surrogate=surrogate, stateful=stateful)
        self.v_threshold = check_positive("v_threshold", v_threshold)

    def init_state(self, x_t: Tensor) -> tuple[Tensor, Tensor]:
        return torch.zeros_like(x_t), torch.zeros_like(x_t)

    def _run(
        self, x: Tensor, state: tuple[Tensor, Tensor] | None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:  # type: ignore[override]
        return ttfs(  # type: ignore[return-value]
            x,
            v_threshold=self.v_threshold,
            surrogate=self.surrogate,
            state=state,
            return_state=True,
        )

    def _extra_parts(self) -> list[str]:
        return [f"v_threshold={self.v_threshold}"]


@torch.no_grad()
def ttfs_init_(
    module: nn.Module, *, v_threshold: float = 1.0, input_rate: float = 0.5, gain: float = 1.0
) -> nn.Module:
    """Initialise every Linear/Conv in ``module`` so TTFS layers neither go silent nor saturate.

    The paper identifies two failures of standard (Kaiming) initialisation in TTFS
    networks: information diminishing (fewer neurons fire in each deeper layer) and an
    imbalanced membrane distribution (membranes pile up below the threshold, or above
    it). Here, with each presynaptic neuron firing once with probability p
    (``input_rate``), the final membrane of a neuron is V = sum_j w_j z_j; drawing
    w ~ N(mu, sigma^2) with

        mu = v_threshold / (fan_in p),   sigma = gain v_threshold / sqrt(fan_in p)

    puts E[V] on the threshold (about half the neurons fire: balanced) with a spread
    proportional to the threshold in every layer (no diminishing with depth). Biases
    are set to 0. This is our derivation of the stated goals; the paper's exact
    constants could not be checked here, so treat them as an assumption.
    """
    if not 0.0 < input_rate <= 1.0:
        raise ValueError(
            f"input_rate (fraction of inputs that fire) must lie in (0, 1]; got {input_rate}"
        )
    if v_threshold <= 0 or gain <= 0:
        raise ValueError(f"v_threshold and gain must be > 0; got {v_threshold}, {gain}")
    found = False
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            fan_in = layer.weight[0].numel()
            mean = v_threshold / (fan_in * input_rate)
            std = gain * v_threshold / math.sqrt(fan_in * input_rate)
            layer.weight.normal_(mean, std)
            if layer.bias is not None:
                layer.bias.zero_()
            found = True
    if not found:
        raise ValueError("ttfs_init_: the module contains no Linear or Conv layer")
    return module
