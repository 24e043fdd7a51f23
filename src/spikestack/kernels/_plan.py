"""What a fused neuron kernel needs to know, shared by the cpu and triton backends.

The reference (:mod:`spikestack.kernels.reference`) writes the charge of IF, LIF
and PLIF in five ways, chosen to match SpikingJelly's rounding. They reduce to
three forms (:class:`Form`) with a decay operator ``op`` (``/ tau`` for LIF, or
``* k`` with ``k = 1/tau`` when that is exact, ``k = sigmoid(w)`` for PLIF):

    Form.A  H = V + (X - (V - v_reset)) op        (decay_input; V - 0 == V exactly)
    Form.B  H = V - (V - v_reset) op + X          (no decay_input, v_reset != 0)
    Form.C  H = V * c + X                         (no decay_input, v_reset == 0 or soft;
                                                   c = 1 - 1/tau, 1 - k, or 1 for IF)

Their backward, written as autograd evaluates the reference (so results agree to
the last bit where the reference's order is unambiguous):

    Form.A  dX = dH op;  dV = dH - dX;         dH/dk = X - (V - v_reset)
    Form.B  dX = dH;     dV = dH - (dH op);    dH/dk = -(V - v_reset)
    Form.C  dX = dH;     dV = dH * c;          dH/dk = -V

Surrogates enter as ``(SurrogateId, constants)``: each built-in formula of
:mod:`spikestack.surrogates` is rewritten with its Python-scalar parts folded
into up to three constants, evaluated in double precision as Python does and
rounded to the tensor's dtype as torch does.

Both backends read their constants from one parameter block laid out by
:class:`Param` (:func:`param_values` fills it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

import torch
from torch import Tensor

from spikestack.surrogates import Surrogate, SurrogateId


class Form(IntEnum):
    """Which of the three charge equations (module docstring) a plan runs."""

    A = 0
    B = 1
    C = 2


class Param(IntEnum):
    """Slots of the parameter block both backends read their constants from."""

    V_THRESHOLD = 0
    V_RESET = 1
    K = 2  # the decay operand: tau (use_div), 1/tau, or PLIF's k
    C = 3  # Form.C's coefficient c
    S0 = 4  # the surrogate's constants (surrogate_constants)
    S1 = 5
    S2 = 6
    ONE = 7  # 1, 0 and 2 in the block's dtype, so float32 arithmetic stays float32
    ZERO = 8
    TWO = 9


@dataclass(frozen=True)
class NeuronPlan:
    """The runtime arguments of one fused neuron call (all flags, no specialisation)."""

    form: Form
    use_div: bool  # the decay divides by ``tau`` (LIF); else it multiplies by ``decay_factor``
    tau: float  # read only when use_div
    decay_factor: float  # 1/tau (LIF with tau = 2^n, exact), 1 for IF; PLIF's k is a tensor
    coef: float  # c of Form.C for LIF/IF (PLIF computes 1 - k in the dtype)
    v_threshold: float
    v_reset: float  # 0.0 for soft reset
    hard: bool
    detach_reset: bool
    surrogate: Surrogate
    surrogate_id: SurrogateId  # CUSTOM when the derivative comes as a tensor
    surrogate_consts: tuple[float, float, float]


def param_values(plan: NeuronPlan, k: float | None = None, c: float | None = None) -> list[float]:
    """The parameter block of ``plan`` in :class:`Param` order; ``k`` and ``c`` replace the
    plan's decay operand and coefficient (PLIF's k = sigmoid(w), 1 - k)."""
    if k is None:
        k = plan.tau if plan.use_div else plan.decay_factor
    s0, s1, s2 = plan.surrogate_consts
    values = [plan.v_threshold, plan.v_reset, k, plan.coef if c is None else c, s0, s1, s2]
    return values + [1.0, 0.0, 2.0]


def _form(decay_input: bool, v_reset: float | None) -> Form:
    reset0 = v_reset is None or v_reset == 0.0
    if decay_input:
        return Form.A
    return Form.C if reset0 else Form.B


def surrogate_constants(surrogate: Surrogate) -> tuple[SurrogateId, tuple[float, float, float]]:
    """``(id, (c0, c1, c2))`` as the kernels evaluate them, or ``(CUSTOM, ...)`` for custom.

    Formulas in the kernels, for z = H - v_threshold:
      0 atan          (1 / (1 + (c0 z)^2)) * c1          c0 = pi/2 alpha, c1 = alpha/2
      1 sigmoid       (c0 sig(c0 z)) * (1 - sig(c0 z))    c0 = alpha
      2 fast_sigmoid  1 / (c0 |z| + 1)^2                  c0 = alpha
      3 piecewise_q   max(c0 - c1 |z|, 0)                  c0 = alpha, c1 = alpha^2
      4 rectangle     c0 if |z| < c1 else 0               c0 = alpha, c1 = 0.5/alpha
      5 triangle      c1 * max(1 - c0 |z|, 0)              c0 = alpha, c1 = gamma
      6 erf           c0 * exp(-(c1 z)^2)                  c0 = alpha/sqrt(pi), c1 = alpha
      7 gaussian      exp(-(z^2) / c0) / c1                c0 = 2 sigma^2, c1 = sqrt(2 pi) sigma
      8 soft_sign     (1 / (2 (1 + |c0 z|)^2)) * c0        c0 = alpha
      9 piecewise_exp c0 * exp(c1 |z|)                     c0 = alpha/2, c1 = -alpha
     10 leaky_k_relu  c0 if z >= 0 else c1                c0 = k, c1 = leak (via float32)
    """
    spec = surrogate.kernel_spec()
    if spec is None:
        return SurrogateId.CUSTOM, (0.0, 0.0, 0.0)
    sid, p0, p1 = spec
    if sid == SurrogateId.ATAN:
        consts = (math.pi / 2 * p0, p0 / 2, 0.0)
    elif sid in (SurrogateId.SIGMOID, SurrogateId.FAST_SIGMOID, SurrogateId.SOFT_SIGN):
        consts = (p0, 0.0, 0.0)
    elif sid == SurrogateId.PIECEWISE_QUADRATIC:
        consts = (p0, p0**2, 0.0)
    elif sid == SurrogateId.RECTANGLE:
        consts = (p0, 0.5 / p0, 0.0)
    elif sid == SurrogateId.TRIANGLE:
        consts = (p0, p1, 0.0)
    elif sid == SurrogateId.ERF:
        consts = (p0 / math.sqrt(math.pi), p0, 0.0)
    elif sid == SurrogateId.GAUSSIAN:
        consts = (2 * p0 * p0, math.sqrt(2 * math.pi) * p0, 0.0)
    elif sid == SurrogateId.PIECEWISE_EXP:
        consts = (p0 / 2, -p0, 0.0)
    elif sid == SurrogateId.LEAKY_K_RELU:
        # torch.where(cond, k, leak) makes a default-dtype tensor before .to(dtype)
        default = torch.get_default_dtype()
        consts = (
            float(torch.tensor(p0, dtype=default)),
            float(torch.tensor(p1, dtype=default)),
            0.0,
        )
    else:  # a built-in added to surrogates.py without a kernel formula here
        return SurrogateId.CUSTOM, (0.0, 0.0, 0.0)
    return sid, consts


def make_plan(
    *,
    kind: str,
    tau: float = 1.0,
    v_threshold: float,
    v_reset: float | None,
    decay_input: bool = False,
    detach_reset: bool,
    surrogate: Surrogate,
) -> NeuronPlan:
    """The plan for ``kind`` in ``("if", "lif", "plif")`` with the reference's arguments."""
    sid, consts = surrogate_constants(surrogate)
    if kind == "if":
        form, coef = Form.C, 1.0
    else:
        form = _form(decay_input, v_reset)
        coef = 1.0 - 1.0 / tau if kind == "lif" else 0.0
    use_div, factor = kind == "lif", 1.0
    if use_div and math.frexp(tau)[0] == 0.5:
        # tau = 2^n: x / tau and x * 2^-n are the same correctly rounded number, and a
        # multiply is several times cheaper than a divide (tau = 2 is the common default).
        use_div, factor = False, 1.0 / tau
    return NeuronPlan(
        form=form,
        use_div=use_div,
        tau=float(tau) if use_div else 1.0,
        decay_factor=factor,
        coef=coef,
        v_threshold=float(v_threshold),
        v_reset=0.0 if v_reset is None else float(v_reset),
        hard=v_reset is not None,
        detach_reset=bool(detach_reset),
        surrogate=surrogate,
        surrogate_id=sid,
        surrogate_consts=consts,
    )


class NeuronLayout:
    """How a fused kernel sees ``x [T, ...]`` as ``[T, N]``, in x's own memory order.

    The neuron dims are taken in the order of their strides, so any dense x with T
    outermost (contiguous, ``channels_last``, other permutations) is a ``[T, N]`` view
    with no copy; other layouts are copied once. Outputs are handed back in the same
    layout (spikes and dX with x's strides), so the next layer sees what it gave.
    """

    def __init__(self, x: Tensor) -> None:
        order = sorted(range(1, x.dim()), key=lambda d: -x.stride(d))
        if not x.permute(0, *order).is_contiguous():
            order = list(range(1, x.dim()))
        self.dims = tuple(d - 1 for d in order)  # of the per-neuron state [...]
        self.inverse = tuple(sorted(range(len(order)), key=order.__getitem__))
        self.steps = x.shape[0]
        self.state_shape = tuple(x.shape[d] for d in order)  # per-neuron shape, memory order

    def seq(self, t: Tensor) -> Tensor:
        """``t [T, ...]`` as a contiguous ``[T, N]`` (a view when its layout is x's)."""
        return t.permute(0, *(d + 1 for d in self.dims)).reshape(self.steps, -1).contiguous()

    def state(self, v: Tensor) -> Tensor:
        """Per-neuron ``v [...]`` in the kernels' neuron order (a view when it can be)."""
        return v.permute(*self.dims)

    def seq_out(self, flat: Tensor) -> Tensor:
        """``[T, N]`` kernel output as a ``[T, ...]`` tensor with x's layout."""
        return flat.view(self.steps, *self.state_shape).permute(0, *(d + 1 for d in self.inverse))

    def state_out(self, flat: Tensor) -> Tensor:
        """``[N]`` kernel output as a per-neuron tensor with x's layout."""
        return flat.view(self.state_shape).permute(*self.inverse)


RunFused = Callable[[Tensor, Tensor, "Tensor | None", NeuronPlan], tuple[Tensor, Tensor]]


@dataclass(frozen=True)
class FusedOps:
    """The reference's ``if_`` / ``lif`` / ``plif`` signatures on top of one backend.

    ``run(x, v_init, decay, plan)`` is the backend's fused op (``decay`` is the PLIF
    decay k = sigmoid(w) as a tensor, so autograd carries dL/dk to ``w``; None otherwise)
    and ``plif_decay(w, x)`` gives k in the dtype that backend computes in.
    """

    run: RunFused
    plif_decay: Callable[[Tensor, Tensor], Tensor]

    def if_(
        self, x: Tensor, v_init: Tensor, *, v_threshold: float, v_reset: float | None,
        detach_reset: bool, surrogate: Surrogate,
    ) -> tuple[Tensor, Tensor]:  # fmt: skip
        """Fused integrate-and-fire: H[t] = V[t-1] + X[t]; see the reference."""
        plan = make_plan(
            kind="if", v_threshold=v_threshold, v_reset=v_reset,
            detach_reset=detach_reset, surrogate=surrogate,
        )  # fmt: skip
        return self.run(x, v_init, None, plan)

    def lif(
        self, x: Tensor, v_init: Tensor, *, tau: float, v_threshold: float,
        v_reset: float | None, decay_input: bool, detach_reset: bool, surrogate: Surrogate,
    ) -> tuple[Tensor, Tensor]:  # fmt: skip
        """Fused LIF: H[t] = V[t-1] + (X[t] - (V[t-1] - v_reset)) / tau (decay_input) or
        H[t] = V[t-1] - (V[t-1] - v_reset) / tau + X[t]; see the reference."""
        plan = make_plan(
            kind="lif", tau=tau, v_threshold=v_threshold, v_reset=v_reset,
            decay_input=decay_input, detach_reset=detach_reset, surrogate=surrogate,
        )  # fmt: skip
        return self.run(x, v_init, None, plan)

    def plif(
        self, x: Tensor, v_init: Tensor, w: Tensor, *, v_threshold: float,
        v_reset: float | None, decay_input: bool, detach_reset: bool, surrogate: Surrogate,
    ) -> tuple[Tensor, Tensor]:  # fmt: skip
        """Fused PLIF: as LIF with 1/tau = k = sigmoid(w);
        dL/dw = sigmoid'(w) * sum_t,n dL/dH * dH/dk."""
        plan = make_plan(
            kind="plif", v_threshold=v_threshold, v_reset=v_reset,
            decay_input=decay_input, detach_reset=detach_reset, surrogate=surrogate,
        )  # fmt: skip
        return self.run(x, v_init, self.plif_decay(w, x), plan)
