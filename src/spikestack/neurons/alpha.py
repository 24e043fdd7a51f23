"""Alpha: a neuron whose membrane is its input through a difference of two exponentials;
math in :func:`spikestack.functional.membrane.alpha_synapse`."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from spikestack.functional.membrane import alpha_synapse
from spikestack.neurons.base import Neuron
from spikestack.surrogates import Surrogate
from spikestack.validation import check_neuron_params, check_tau

__all__ = ["Alpha"]


class Alpha(Neuron):
    """Alpha neuron (snnTorch's ``Alpha``): V is the input filtered by a difference of two
    exponentials with time constants ``tau_decay`` > ``tau_rise`` (a = 1 - 1/tau_decay is
    snnTorch's alpha, b = 1 - 1/tau_rise its beta), so a single input spike raises V and
    lets it fall back smoothly. A spike resets both traces and V to 0 (at once, or with
    ``reset_delay=True`` on the next step as snnTorch does). The state is ``(v, e, n)``.
    """

    state_names = ("v", "e", "n")
    options = Neuron.options | {
        "tau_decay",
        "tau_rise",
        "v_threshold",
        "detach_reset",
        "reset_delay",
    }

    def __init__(
        self,
        tau_decay: float = 10.0,
        tau_rise: float = 5.0,
        *,
        v_threshold: float = 1.0,
        reset_delay: bool = False,
        detach_reset: bool = False,
        surrogate: Surrogate | None = None,
        stateful: bool = False,
    ) -> None:
        super().__init__(surrogate=surrogate, stateful=stateful)
        self.tau_decay = check_tau(tau_decay, name="tau_decay")
        self.tau_rise = check_tau(tau_rise, name="tau_rise")
        if not self.tau_decay > self.tau_rise:
            raise ValueError(f"tau_decay ({tau_decay}) must exceed tau_rise ({tau_rise})")
        check_neuron_params(v_threshold=v_threshold, v_reset=0.0)
        self.v_threshold = float(v_threshold)
        self.reset_delay = bool(reset_delay)
        self.detach_reset = bool(detach_reset)

    def init_state(self, x_t: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return torch.zeros_like(x_t), torch.zeros_like(x_t), torch.zeros_like(x_t)

    def _run(self, x: Tensor, state: Any) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor]]:  # type: ignore[override]
        return alpha_synapse(
            x, tau_decay=self.tau_decay, tau_rise=self.tau_rise, v_threshold=self.v_threshold,
            reset_delay=self.reset_delay, detach_reset=self.detach_reset,
            surrogate=self.surrogate, state=state,
        )  # fmt: skip

    def _extra_parts(self) -> list[str]:
        parts = [
            f"tau_decay={self.tau_decay}",
            f"tau_rise={self.tau_rise}",
            f"v_threshold={self.v_threshold}",
        ]
        return parts + (["reset_delay=True"] if self.reset_delay else [])
