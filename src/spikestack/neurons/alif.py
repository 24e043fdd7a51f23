"""ALIF: adaptive-threshold LIF (Bellec et al., NeurIPS 2018); math in :mod:`spikestack.functional.alif`."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from spikestack.functional.alif import alif, check_adaptation
from spikestack.neurons.base import SpikingNeuron
from spikestack.neurons.declared import alif_declaration
from spikestack.neurons.define import declared_backend, try_declared
from spikestack.surrogates import Surrogate
from spikestack.validation import check_tau

__all__ = ["ALIF"]

State = tuple[Tensor, Tensor]


class ALIF(SpikingNeuron):
    """Adaptive LIF: theta[t] = v_threshold + beta a[t], a[t] = rho a[t-1] + S[t-1].

    rho = exp(-1 / tau_adapt). The membrane is a LIF (see :class:`LIF`, same charge); the
    default reset is soft (subtract theta[t]), as in Bellec et al. The state is ``(v, a)``:
    the membrane and the adaptation the next step uses; :meth:`threshold` turns ``a``
    into theta. ``backend`` ("auto", "torch", "cpu", "triton") picks the kernels generated
    from its declaration (:mod:`spikestack.neurons.declared`) or the torch loop; "auto" takes
    the kernels for float32/float64 on the CPU and CUDA. With ``detach_reset`` it runs the
    torch loop (there the adaptation keeps the spike's gradient, which a declaration's reset
    cannot separate).
    """

    state_names = ("v", "a")
    options = SpikingNeuron.options | {"tau", "tau_adapt", "beta", "decay_input", "backend"}

    def __init__(
        self,
        tau: float = 2.0,
        tau_adapt: float = 20.0,
        beta: float = 0.1,
        *,
        v_threshold: float = 1.0,
        v_reset: float | None = None,
        decay_input: bool = True,
        detach_reset: bool = False,
        surrogate: Surrogate | None = None,
        stateful: bool = False,
        backend: str = "auto",
    ) -> None:
        super().__init__(
            v_threshold=v_threshold,
            v_reset=v_reset,
            detach_reset=detach_reset,
            surrogate=surrogate,
            stateful=stateful,
        )
        check_adaptation(tau_adapt=tau_adapt, beta=beta)
        self.tau = check_tau(tau)
        self.tau_adapt = float(tau_adapt)
        self.beta = float(beta)
        self.decay_input = bool(decay_input)
        # with detach_reset the adaptation keeps the spike's gradient: the torch loop only
        self.backend = declared_backend(
            backend, "ALIF(detach_reset=True)" if detach_reset else None
        )

    @property
    def rho(self) -> float:
        return math.exp(-1.0 / self.tau_adapt)

    def threshold(self, a: Tensor) -> Tensor:
        """theta = v_threshold + beta a."""
        return self.v_threshold + self.beta * a

    def init_state(self, x_t: Tensor) -> State:
        return torch.full_like(x_t, self.v_rest), torch.zeros_like(x_t)

    def _run(self, x: Tensor, state: State | None) -> tuple[Tensor, State]:  # type: ignore[override]
        if not self.detach_reset:
            decl, values = alif_declaration(self)
            fused = try_declared(
                decl, self.backend, x, state, (self.v_rest, 0.0), values, self.surrogate,
                False, "ALIF",
            )  # fmt: skip
            if fused is not None:
                return fused
        return alif(  # type: ignore[return-value]
            x,
            tau=self.tau,
            tau_adapt=self.tau_adapt,
            beta=self.beta,
            v_threshold=self.v_threshold,
            v_reset=self.v_reset,
            decay_input=self.decay_input,
            detach_reset=self.detach_reset,
            surrogate=self.surrogate,
            state=state,
            return_state=True,
        )

    def _extra_parts(self) -> list[str]:
        parts = [f"tau={self.tau}", f"tau_adapt={self.tau_adapt}", f"beta={self.beta}"]
        return super()._extra_parts() + parts
