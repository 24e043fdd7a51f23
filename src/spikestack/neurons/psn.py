"""The PSN family: PSN, MaskedPSN, SlidingPSN, and the progressive-masking schedule.

Fang et al., "Parallel Spiking Neurons with High Efficiency and Ability to Learn
Long-term Dependencies", NeurIPS 2023. The math lives in :mod:`spikestack.functional.psn`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from spikestack.functional import psn as P
from spikestack.neurons.base import Neuron
from spikestack.surrogates import Surrogate
from spikestack.validation import check_int, check_sequence

__all__ = [
    "PSN",
    "MaskedPSN",
    "ProgressiveMasking",
    "SlidingPSN",
    "masking_factor_at",
    "set_masking_factor",
]


def _check_length(x: Tensor, T: int, name: str) -> None:
    check_sequence(x)
    if x.shape[0] != T:
        raise ValueError(
            f"{name} was built for T={T} steps; got x with T={x.shape[0]} "
            f"(shape {tuple(x.shape)}). Use SlidingPSN for sequences of any length."
        )


class PSN(Neuron):
    """Parallel spiking neuron: H = W X + b over the T steps, S = Θ(H), no reset.

    ``weight [T, T]`` is initialised as in the paper's reference (Kaiming-uniform with
    a = sqrt(5), i.e. U(-1/sqrt(T), 1/sqrt(T))) and ``bias [T]`` to -1 (threshold 1).
    The whole sequence is one matmul (plain torch on every device), so there is no
    step-by-step form and no state: every output step may depend on every input step.
    """

    state_names = ()
    options = frozenset({"T", "surrogate"})
    streaming = False

    def __init__(self, T: int, *, surrogate: Surrogate | None = None) -> None:
        super().__init__(surrogate=surrogate)
        self.T = check_int("T", T)
        self.weight = nn.Parameter(torch.empty(T, T))
        self.bias = nn.Parameter(torch.empty(T))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        nn.init.constant_(self.bias, -1.0)

    def _run(self, x: Tensor, state: None) -> tuple[Tensor, None]:  # type: ignore[override]
        _check_length(x, self.T, type(self).__name__)
        return P.psn(x, self.weight, self.bias, surrogate=self.surrogate), None

    def _extra_parts(self) -> list[str]:
        return [f"T={self.T}"]


class MaskedPSN(PSN):
    """Masked PSN: W is masked to the band of the k most recent steps.

    H = (W * M_k(lambda)) X + b with M_k(lambda) = lambda M_k + (1 - lambda) 1.
    Training raises the masking factor lambda from 0 (a full PSN) to 1 (causal,
    k-step window) with :class:`ProgressiveMasking` or :meth:`set_masking_factor`;
    at lambda = 1 the output at step t depends only on X[t-k+1 .. t].
    The factor is a buffer, so it is saved in checkpoints.
    """

    masking_factor: Tensor
    options = PSN.options | {"k", "masking_factor"}

    def __init__(
        self,
        k: int,
        T: int,
        *,
        masking_factor: float = 0.0,
        surrogate: Surrogate | None = None,
    ) -> None:
        super().__init__(T, surrogate=surrogate)
        self.k = P.check_k(k)
        self.register_buffer("masking_factor", torch.tensor(0.0))
        self.set_masking_factor(masking_factor)

    def set_masking_factor(self, value: float) -> None:
        """Set lambda in [0, 1]."""
        value = float(value)
        if not (0.0 <= value <= 1.0):
            raise ValueError(f"masking_factor (lambda) must lie in [0, 1]; got {value}")
        self.masking_factor.fill_(value)

    def masked_weight(self) -> Tensor:
        return P.masked_weight(self.weight, self.k, float(self.masking_factor))

    def _run(self, x: Tensor, state: None) -> tuple[Tensor, None]:  # type: ignore[override]
        _check_length(x, self.T, type(self).__name__)
        return P.psn(x, self.masked_weight(), self.bias, surrogate=self.surrogate), None

    def _extra_parts(self) -> list[str]:
        return [f"k={self.k}, T={self.T}, masking_factor={float(self.masking_factor):.3g}"]


def set_masking_factor(model: nn.Module, value: float) -> int:
    """Set lambda on every :class:`MaskedPSN` in ``model``; returns how many were set."""
    count = 0
    for module in model.modules():
        if isinstance(module, MaskedPSN):
            module.set_masking_factor(value)
            count += 1
    return count


def masking_factor_at(step: int, *, warmup_steps: int) -> float:
    """lambda = min(1, step / warmup_steps): the linear 0 -> 1 ramp of progressive masking."""
    if not isinstance(warmup_steps, int) or warmup_steps < 1:
        raise ValueError(f"warmup_steps must be an int >= 1; got {warmup_steps!r}")
    if step < 0:
        raise ValueError(f"step must be >= 0; got {step}")
    return min(1.0, step / warmup_steps)


class ProgressiveMasking:
    """Raise lambda of every MaskedPSN in ``model`` linearly from 0 to 1 over ``warmup_steps``.

    Call :meth:`step` once per optimiser step (or per epoch, with ``warmup_steps``
    counted in epochs); lambda = min(1, steps_taken / warmup_steps).

        >>> schedule = ProgressiveMasking(model, warmup_steps=1000)
        >>> for batch in loader: ...; optimizer.step(); schedule.step()
    """

    def __init__(self, model: nn.Module, *, warmup_steps: int) -> None:
        masking_factor_at(0, warmup_steps=warmup_steps)
        self.model = model
        self.warmup_steps = warmup_steps
        self.steps_taken = 0
        if set_masking_factor(model, 0.0) == 0:
            raise ValueError("ProgressiveMasking: the model contains no MaskedPSN")

    @property
    def masking_factor(self) -> float:
        return masking_factor_at(self.steps_taken, warmup_steps=self.warmup_steps)

    def step(self) -> float:
        """Advance one step and return the new lambda."""
        self.steps_taken += 1
        set_masking_factor(self.model, self.masking_factor)
        return self.masking_factor


class SlidingPSN(Neuron):
    """Sliding PSN: k shared weights and one bias slid over time, for any T.

    H[t] = sum_{i=0}^{k-1} w[k-1-i] X[t-i] + b,  S[t] = Θ(H[t])  (X before the start = 0).
    ``w[k-1]`` weighs the current input. With ``exp_init`` (default) w[i] = 2^-(k-1-i),
    the impulse response of a LIF neuron with tau = 2; otherwise Kaiming-uniform. b = -1.

    Equals a :class:`MaskedPSN` at lambda = 1 whose weight is the Toeplitz matrix
    :func:`spikestack.functional.psn.sliding_weight_matrix` and bias b·1.
    Streams step by step; its state is the last k-1 inputs, ``history [k-1, B, ...]``.
    """

    state_names = ("history",)
    options = Neuron.options | {"k", "exp_init"}

    def __init__(
        self,
        k: int,
        *,
        exp_init: bool = True,
        surrogate: Surrogate | None = None,
        stateful: bool = False,
    ) -> None:
        super().__init__(surrogate=surrogate, stateful=stateful)
        self.k = P.check_k(k)
        self.exp_init = bool(exp_init)
        self.weight = nn.Parameter(torch.empty(k))
        self.bias = nn.Parameter(torch.empty(()))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            if self.exp_init:
                self.weight.copy_(0.5 ** torch.arange(self.k - 1, -1, -1, dtype=self.weight.dtype))
            else:
                w = torch.empty(1, self.k)
                nn.init.kaiming_uniform_(w, a=math.sqrt(5))
                self.weight.copy_(w[0])
            self.bias.fill_(-1.0)

    def init_state(self, x_t: Tensor) -> Tensor:
        return x_t.new_zeros((self.k - 1, *x_t.shape))

    def state_step_shape(self, state: Tensor) -> tuple[int, ...]:  # type: ignore[override]
        return tuple(state.shape[1:])

    def _run(self, x: Tensor, state: Tensor | None) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        return P.sliding_psn(x, self.weight, self.bias, history=state, surrogate=self.surrogate)

    def toeplitz(self, T: int) -> tuple[Tensor, Tensor]:
        """The equivalent masked-PSN ``(weight [T, T], bias [T])`` for ``T`` steps."""
        return P.sliding_weight_matrix(self.weight, T), self.bias.expand(T)

    def _extra_parts(self) -> list[str]:
        return [f"k={self.k}", f"exp_init={self.exp_init}"]
