"""The library's ALIF, CUBALIF, LIAF, EIF, AdEx, QIF and Izhikevich neurons as declarations (see
:func:`~spikestack.neurons.define_neuron`): their fused CPU and Triton kernels are generated
from these, and each declaration gives the same spikes (LIAF: outputs) as the neuron's
torch loop in :mod:`spikestack.functional`, operation for operation, so float32 rounds
alike (tests/neurons/test_declared.py).

A neuron's options select among equations with parameters that are exactly 0 or 1:
``select * a + (1 - select) * b`` is ``a`` or ``b`` bit for bit (a product with 0 or 1 and
a sum with 0 are exact), and so are their derivatives; one generated module then serves
every option of a neuron.
"""

from __future__ import annotations

import math
from typing import Any

from spikestack.neurons.declaration import (
    Declaration,
    declaration,
    exp,
    minimum,
    relu,
    sigmoid,
    tanh,
)

__all__ = [
    "Declared", "alif_declaration", "cubalif_declaration", "exponential_declaration",
    "izhikevich_declaration", "liaf_declaration", "qif_declaration", "ADEX_DECL", "ALIF_DECL",
    "ALIF_SOFT_DECL", "CUBALIF_DECL", "CUBALIF_DEFAULT_DECL", "EIF_DECL", "IZHIKEVICH_DECL",
    "LIAF_DECLS", "QIF_DECL",
]  # fmt: skip


# a neuron's declaration and the values of its parameters
Declared = tuple[Declaration, dict[str, float]]


def _reset_values(v_reset: float | None) -> dict[str, float]:
    """The reset selector: ``hard`` 1 with ``v_reset``, or 0 for a soft reset (None)."""
    return {"v_reset": 0.0 if v_reset is None else v_reset, "hard": float(v_reset is not None)}


def _narrowed(decl: Declaration, values: dict[str, float]) -> Declared:
    """``decl`` with the values of its own parameters (a specialised declaration takes
    fewer than the general one)."""
    return decl, {k: values[k] for k in decl.params}


def _charge_form(decay_input: bool, v_reset: float | None) -> dict[str, float]:
    """LIF's three charge forms (as :func:`spikestack.kernels.reference.leaky_charge` writes
    them) as 0/1 selectors: A decays the input, B and C do not (C when v_reset is 0)."""
    reset0 = v_reset is None or v_reset == 0.0
    form = "a" if decay_input else ("c" if reset0 else "b")
    return {f"form_{k}": float(k == form) for k in "abc"}


class _ALIF:
    """Adaptive LIF: the membrane charges as LIF's, theta = v_threshold + beta a, and the
    adaptation a (the one in use this step) becomes rho a + spike."""

    state = ("v", "a")
    params = {"tau": 2.0, "keep": 0.5, "v_reset": 0.0, "v_threshold": 1.0, "beta": 0.1,
              "rho": 0.95, "hard": 0.0, "form_a": 1.0, "form_b": 0.0, "form_c": 0.0}  # fmt: skip

    def charge(x, v, a, tau, keep, v_reset, form_a, form_b, form_c):
        v_a = v + (x - (v - v_reset)) / tau
        v_b = v - (v - v_reset) / tau + x
        v_c = v * keep + x
        return form_a * v_a + form_b * v_b + form_c * v_c, a

    def fire(v, a, v_threshold, beta):
        return v - (v_threshold + beta * a)

    def reset(v, a, spike, v_threshold, beta, rho, v_reset, hard):
        soft = v - (v_threshold + beta * a) * spike
        to_reset = v * (1 - spike) + v_reset * spike
        return (1 - hard) * soft + hard * to_reset, rho * a + spike


class _ALIFSoft:
    """ALIF's defaults (input decay, soft reset) alone: the selectors' unused forms cost
    about a third more time (divisions and multiplies by 0)."""

    state = ("v", "a")
    params = {"tau": 2.0, "v_threshold": 1.0, "beta": 0.1, "rho": 0.95}

    def charge(x, v, a, tau):
        return v + (x - v) / tau, a

    def fire(v, a, v_threshold, beta):
        return v - (v_threshold + beta * a)

    def reset(v, a, spike, v_threshold, beta, rho):
        return v - (v_threshold + beta * a) * spike, rho * a + spike


ALIF_DECL: Declaration = declaration(_ALIF)
ALIF_SOFT_DECL: Declaration = declaration(_ALIFSoft)


def alif_declaration(neuron: Any) -> Declared:
    """The declaration and its parameters for an :class:`~spikestack.neurons.ALIF`."""
    values = {
        "tau": neuron.tau, "keep": 1.0 - 1.0 / neuron.tau, "v_threshold": neuron.v_threshold,
        "beta": neuron.beta, "rho": math.exp(-1.0 / neuron.tau_adapt),
        **_reset_values(neuron.v_reset), **_charge_form(neuron.decay_input, neuron.v_reset),
    }  # fmt: skip
    if neuron.decay_input and neuron.v_reset is None:
        return _narrowed(ALIF_SOFT_DECL, values)
    return ALIF_DECL, values


class _CUBALIF:
    """Current-based LIF: the current i <- alpha i + x drives a LIF membrane (its three
    charge forms as 0/1 selectors), soft or hard reset; the current is not reset."""

    state = ("v", "i")
    params = {"tau": 2.0, "keep": 0.5, "alpha": 0.5, "v_reset": 0.0, "v_threshold": 1.0,
              "hard": 1.0, "form_a": 0.0, "form_b": 0.0, "form_c": 1.0}  # fmt: skip

    def charge(x, v, i, tau, keep, alpha, v_reset, form_a, form_b, form_c):
        current = alpha * i + x
        v_a = v + (current - (v - v_reset)) / tau
        v_b = v - (v - v_reset) / tau + current
        v_c = v * keep + current
        return form_a * v_a + form_b * v_b + form_c * v_c, current

    def fire(v, v_threshold):
        return v - v_threshold

    def reset(v, i, spike, v_threshold, v_reset, hard):
        soft = v - v_threshold * spike
        to_reset = v * (1 - spike) + v_reset * spike
        return (1 - hard) * soft + hard * to_reset, i


class _CUBALIFDefault:
    """CUBALIF's defaults alone (no input decay, hard reset to 0: snnTorch's Synaptic)."""

    state = ("v", "i")
    params = {"keep": 0.5, "alpha": 0.5, "v_threshold": 1.0}

    def charge(x, v, i, keep, alpha):
        current = alpha * i + x
        return v * keep + current, current

    def fire(v, v_threshold):
        return v - v_threshold

    def reset(v, i, spike):
        return v * (1 - spike) + 0.0 * spike, i


CUBALIF_DECL: Declaration = declaration(_CUBALIF)
CUBALIF_DEFAULT_DECL: Declaration = declaration(_CUBALIFDefault)


def cubalif_declaration(neuron: Any) -> Declared:
    """The declaration and its parameters for a :class:`~spikestack.neurons.CUBALIF`."""
    values = {
        "tau": neuron.tau, "keep": 1.0 - 1.0 / neuron.tau, "alpha": 1.0 - 1.0 / neuron.tau_syn,
        "v_threshold": neuron.v_threshold, **_reset_values(neuron.v_reset),
        **_charge_form(neuron.decay_input, neuron.v_reset),
    }  # fmt: skip
    if not neuron.decay_input and neuron.v_reset == 0.0:
        return _narrowed(CUBALIF_DEFAULT_DECL, values)
    return CUBALIF_DECL, values


class _LIAF:
    """LIAF: LIF's charge without input decay, hard reset, and an analog output f(v) of the
    charged membrane (f in the subclasses)."""

    state = ("v",)
    params = {"tau": 2.0, "keep": 0.5, "v_reset": 0.0, "v_threshold": 1.0,
              "form_b": 0.0, "form_c": 1.0}  # fmt: skip

    def charge(x, v, tau, keep, v_reset, form_b, form_c):
        return form_b * (v - (v - v_reset) / tau + x) + form_c * (v * keep + x)

    def fire(v, v_threshold):
        return v - v_threshold

    def reset(v, spike, v_reset):
        return v * (1 - spike) + v_reset * spike


class _LIAFReLU(_LIAF):
    def output(v):
        return relu(v)


class _LIAFSigmoid(_LIAF):
    def output(v):
        return sigmoid(v)


class _LIAFTanh(_LIAF):
    def output(v):
        return tanh(v)


class _LIAFIdentity(_LIAF):
    def output(v):
        return v


LIAF_DECLS: dict[str, Declaration] = {
    name: declaration(cls)
    for name, cls in (("relu", _LIAFReLU), ("sigmoid", _LIAFSigmoid), ("tanh", _LIAFTanh),
                      ("identity", _LIAFIdentity))
}  # fmt: skip


def liaf_declaration(neuron: Any) -> Declared:
    """The declaration and its parameters for a :class:`~spikestack.neurons.LIAF` with a
    named activation."""
    form = _charge_form(False, neuron.v_rest)
    return LIAF_DECLS[neuron.activation], {
        "tau": neuron.tau, "keep": 1.0 - 1.0 / neuron.tau, "v_reset": neuron.v_rest,
        "v_threshold": neuron.v_threshold, "form_b": form["form_b"], "form_c": form["form_c"],
    }  # fmt: skip


class _EIF:
    """Exponential integrate-and-fire: the input through an optional current (``syn`` 1 or
    0), the exponential's argument clamped at 80 as the torch loop's, soft or hard reset."""

    state = ("v", "i")
    params = {"tau": 10.0, "delta_T": 0.5, "theta_rh": 1.0, "v_rest": 0.0, "v_reset": 0.0,
              "v_threshold": 1.0, "alpha": 0.0, "syn": 0.0, "hard": 1.0}  # fmt: skip

    def charge(x, v, i, tau, delta_T, theta_rh, v_rest, alpha, syn):
        current = syn * (alpha * i) + x
        rise = delta_T * exp(minimum((v - theta_rh) / delta_T, 80.0))
        return v + ((v_rest - v) + rise + current) / tau, current

    def fire(v, v_threshold):
        return v - v_threshold

    def reset(v, i, spike, v_threshold, v_reset, hard):
        soft = v - v_threshold * spike
        to_reset = (1 - spike) * v + spike * v_reset
        return (1 - hard) * soft + hard * to_reset, i


class _AdEx:
    """AdEx: EIF's membrane minus an adaptation w, which charges from the state before the
    step and jumps by b at a spike."""

    state = ("v", "w", "i")
    params = {"tau": 10.0, "delta_T": 0.5, "theta_rh": 1.0, "v_rest": 0.0, "v_reset": 0.0,
              "v_threshold": 1.0, "alpha": 0.0, "syn": 0.0, "hard": 1.0, "tau_w": 500.0,
              "a": 4.0, "b": 0.02}  # fmt: skip

    def charge(x, v, w, i, tau, delta_T, theta_rh, v_rest, alpha, syn, tau_w, a):
        current = syn * (alpha * i) + x
        rise = delta_T * exp(minimum((v - theta_rh) / delta_T, 80.0))
        charged = v + ((v_rest - v) + rise + current - w) / tau
        return charged, w + (a * (v - v_rest) - w) / tau_w, current

    def fire(v, v_threshold):
        return v - v_threshold

    def reset(v, w, i, spike, v_threshold, v_reset, hard, b):
        soft = v - v_threshold * spike
        to_reset = (1 - spike) * v + spike * v_reset
        return (1 - hard) * soft + hard * to_reset, w + b * spike, i


EIF_DECL: Declaration = declaration(_EIF)
ADEX_DECL: Declaration = declaration(_AdEx)


def exponential_declaration(neuron: Any) -> Declared:
    """The declaration and its parameters for an :class:`~spikestack.neurons.EIF` or
    :class:`~spikestack.neurons.AdEx`."""
    tau_syn = neuron.tau_syn
    values = {
        "tau": neuron.tau, "delta_T": neuron.delta_T, "theta_rh": neuron.theta_rh,
        "v_rest": neuron.v_rest, "v_threshold": neuron.v_threshold,
        **_reset_values(neuron.v_reset),
        "alpha": 0.0 if tau_syn is None else 1.0 - 1.0 / tau_syn, "syn": float(tau_syn is not None),
    }  # fmt: skip
    if neuron.adaptive:
        return ADEX_DECL, {**values, "tau_w": neuron.tau_w, "a": neuron.a, "b": neuron.b}
    return EIF_DECL, values


class _QIF:
    """Quadratic integrate-and-fire, soft or hard reset (``hard`` 1 or 0)."""

    state = ("v",)
    params = {"tau": 2.0, "a0": 1.0, "v_c": 0.8, "v_rest": 0.0, "v_reset": -0.1,
              "v_threshold": 1.0, "hard": 1.0}  # fmt: skip

    def charge(x, v, tau, a0, v_c, v_rest):
        return v + (x + a0 * (v - v_rest) * (v - v_c)) / tau

    def fire(v, v_threshold):
        return v - v_threshold

    def reset(v, spike, v_threshold, v_reset, hard):
        soft = v - v_threshold * spike
        to_reset = (1 - spike) * v + spike * v_reset
        return (1 - hard) * soft + hard * to_reset


QIF_DECL: Declaration = declaration(_QIF)


def qif_declaration(neuron: Any) -> Declared:
    """The declaration and its parameters for a :class:`~spikestack.neurons.QIF`."""
    return QIF_DECL, {
        "tau": neuron.tau, "a0": neuron.a0, "v_c": neuron.v_c, "v_rest": neuron.v_rest,
        "v_threshold": neuron.v_threshold, **_reset_values(neuron.v_reset),
    }  # fmt: skip


class _Izhikevich:
    """Izhikevich (2003) in Euler steps of dt, in the order of Norse's step (its chaotic
    upstroke amplifies any other rounding): v and u charge from the state before the step,
    v at or above v_threshold fires, v resets to c and u jumps by d."""

    state = ("v", "u")
    # dt_a = dt * a, one number as the torch loop's Python product makes it
    params = {"dt_a": 0.005, "b": 0.2, "c": -65.0, "d": 8.0, "dt": 0.25, "v_threshold": 30.0,
              "sq": 0.04, "mn": 5.0, "bias": 140.0}  # fmt: skip

    def charge(x, v, u, b, dt, dt_a, sq, mn, bias):
        return v + dt * (sq * v**2 + mn * v + bias - u + x), u + dt_a * (b * v - u)

    def fire(v, v_threshold):
        return v - v_threshold

    def reset(v, u, spike, c, d):
        return (1 - spike) * v + spike * c, (1 - spike) * u + spike * (u + d)


IZHIKEVICH_DECL: Declaration = declaration(_Izhikevich)


def izhikevich_declaration(neuron: Any) -> Declared:
    """The declaration and its parameters for an :class:`~spikestack.neurons.Izhikevich`."""
    values = {n: getattr(neuron, n) for n in ("b", "c", "d", "dt", "v_threshold")}
    return IZHIKEVICH_DECL, {**values, "dt_a": neuron.dt * neuron.a, "sq": 0.04, "mn": 5.0,
                             "bias": 140.0}  # fmt: skip
