"""IF, LIF and PLIF neurons: thin modules over :mod:`spikestack.functional`, fused backends."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from spikestack import functional as F
from spikestack.functional.membrane import membrane
from spikestack.kernels import check_backend_name
from spikestack.neurons.base import SpikingNeuron, State
from spikestack.surrogates import Surrogate
from spikestack.validation import check_tau

__all__ = ["IF", "LIF", "PLIF", "FusedNeuron"]


class FusedNeuron(SpikingNeuron):
    """A membrane neuron with fused kernels: ``backend="auto" | "torch" | "cpu" | "triton"``
    picks them (see :mod:`spikestack.kernels`). Its state is the membrane ``v``."""

    options = SpikingNeuron.options | {"backend"}

    def __init__(
        self,
        *,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        detach_reset: bool = False,
        surrogate: Surrogate | None = None,
        backend: str = "auto",
        stateful: bool = False,
    ) -> None:
        super().__init__(
            v_threshold=v_threshold,
            v_reset=v_reset,
            detach_reset=detach_reset,
            surrogate=surrogate,
            stateful=stateful,
        )
        check_backend_name(backend)
        self.backend = backend

    def init_state(self, x_t: Tensor) -> Tensor:
        return torch.full_like(x_t, self.v_rest)

    def _common(self, v_init: State | None) -> dict[str, object]:
        return {
            "v_threshold": self.v_threshold,
            "v_reset": self.v_reset,
            "detach_reset": self.detach_reset,
            "surrogate": self.surrogate,
            "v_init": v_init,
            "return_state": True,
            "backend": self.backend,
        }


class IF(FusedNeuron):
    """Integrate-and-fire: H[t] = V[t-1] + X[t]; fire at v_threshold; hard or soft reset."""

    def _run(self, x: Tensor, state: State | None) -> tuple[Tensor, Tensor]:
        return F.if_(x, **self._common(state))  # type: ignore[return-value,arg-type]


class LIF(FusedNeuron):
    """Leaky integrate-and-fire with a fixed time constant.

    H[t] = V[t-1] + (X[t] - (V[t-1] - v_reset)) / tau with ``decay_input=True``,
    H[t] = V[t-1] - (V[t-1] - v_reset) / tau + X[t] otherwise; S[t] = Θ(H[t] - v_threshold);
    hard reset to ``v_reset`` or, with ``v_reset=None``, soft reset (subtract v_threshold).

    ``reset_delay=True`` is snnTorch's ``Leaky`` convention (the carried membrane is the
    value before reset and the reset lands on the next step; see
    :mod:`spikestack.functional.membrane`); it runs on that torch loop, not the fused
    kernels (``backend`` must be ``"auto"`` or ``"torch"``).
    """

    options = FusedNeuron.options | {"tau", "decay_input", "reset_delay"}

    def __init__(
        self,
        tau: float = 2.0,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        *,
        decay_input: bool = True,
        reset_delay: bool = False,
        detach_reset: bool = False,
        surrogate: Surrogate | None = None,
        backend: str = "auto",
        stateful: bool = False,
    ) -> None:
        super().__init__(
            v_threshold=v_threshold,
            v_reset=v_reset,
            detach_reset=detach_reset,
            surrogate=surrogate,
            backend=backend,
            stateful=stateful,
        )
        self.tau = check_tau(tau)
        self.decay_input = bool(decay_input)
        self.reset_delay = bool(reset_delay)
        if self.reset_delay and backend not in ("auto", "torch"):
            raise ValueError(
                f"LIF(reset_delay=True) runs on the torch loop; backend={backend!r} has no "
                "delayed reset (use 'auto' or 'torch')"
            )

    def _run(self, x: Tensor, state: State | None) -> tuple[Tensor, Tensor]:
        if self.reset_delay:
            out, (v, _, _) = membrane(
                x, tau=self.tau, decay_input=self.decay_input, v_threshold=self.v_threshold,
                v_reset=self.v_reset, reset_delay=True, surrogate=self.surrogate,
                state=None if state is None else (state, None, None),  # type: ignore[arg-type]
            )  # fmt: skip
            return out, v
        return F.lif(  # type: ignore[return-value]
            x, tau=self.tau, decay_input=self.decay_input, **self._common(state)
        )

    def _extra_parts(self) -> list[str]:
        parts = [f"tau={self.tau}", f"decay_input={self.decay_input}"]
        return super()._extra_parts() + parts + (["reset_delay=True"] if self.reset_delay else [])


class PLIF(FusedNeuron):
    """Parametric LIF (Fang et al., "Incorporating Learnable Membrane Time Constant to
    Enhance Learning of Spiking Neural Networks", ICCV 2021).

    As :class:`LIF` with 1/tau = sigmoid(w), ``w`` a learnable scalar initialised
    to -log(init_tau - 1) so that tau starts at ``init_tau``.
    """

    options = FusedNeuron.options | {"init_tau", "decay_input"}

    def __init__(
        self,
        init_tau: float = 2.0,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        *,
        decay_input: bool = True,
        detach_reset: bool = False,
        surrogate: Surrogate | None = None,
        backend: str = "auto",
        stateful: bool = False,
    ) -> None:
        super().__init__(
            v_threshold=v_threshold,
            v_reset=v_reset,
            detach_reset=detach_reset,
            surrogate=surrogate,
            backend=backend,
            stateful=stateful,
        )
        check_tau(init_tau, name="init_tau")
        self.decay_input = bool(decay_input)
        self.w = nn.Parameter(torch.tensor(-math.log(init_tau - 1.0)))

    @property
    def tau(self) -> float:
        """The current time constant, 1 / sigmoid(w)."""
        return float(1.0 / torch.sigmoid(self.w.detach()))

    def _run(self, x: Tensor, state: State | None) -> tuple[Tensor, Tensor]:
        return F.plif(  # type: ignore[return-value]
            x, self.w, decay_input=self.decay_input, **self._common(state)
        )

    def _extra_parts(self) -> list[str]:
        return super()._extra_parts() + [f"tau={self.tau:.4g}", f"decay_input={self.decay_input}"]
