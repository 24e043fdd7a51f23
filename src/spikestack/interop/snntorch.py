"""snnTorch models in spikestack: :func:`from_snntorch`.

snnTorch's neurons keep the membrane before reset and reset on the following step
(``reset_delay=True``, their default); spikestack's ``reset_delay=True`` option is that
convention, so the mapping is exact:

    Leaky(beta, "subtract")   -> LIF(tau=1/(1-beta), decay_input=False, v_reset=None, reset_delay=True)
    Leaky(beta, "zero")       -> LIF(tau=1/(1-beta), decay_input=False, v_reset=0.0)  (its zero
                                 reset charges from 0 on the next step: the immediate hard reset)
    Synaptic(alpha, beta)     -> CUBALIF(tau=1/(1-beta), tau_syn=1/(1-alpha), reset_delay=True)
    RLeaky / RSynaptic        -> RLIF / RCUBALIF sharing the recurrent weights
    Alpha(alpha, beta, "zero")-> Alpha(tau_decay=1/(1-alpha), tau_rise=1/(1-beta), reset_delay=True)

The reset spike carries no gradient in snnTorch, so every converted neuron has
``detach_reset=True``. snnTorch fires where mem > threshold, spikestack where
mem >= threshold: they differ only for a membrane exactly on the threshold.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from spikestack.interop._tree import convert_tree, scalar, unsupported
from spikestack.neurons import CUBALIF, LIF, RCUBALIF, RLIF, Alpha, OneToOne
from spikestack.surrogates import (
    ATan,
    FastSigmoid,
    Sigmoid,
    SpikeRateEscape,
    StraightThrough,
    Surrogate,
)

__all__ = ["from_snntorch"]

PEER = "snnTorch"
_NEURONS = ("Leaky", "Synaptic", "RLeaky", "RSynaptic", "Alpha")


def from_snntorch(module: nn.Module) -> nn.Module:
    """The spikestack equivalent of a snnTorch neuron or of an ``nn.Sequential`` holding
    some (see :mod:`spikestack.interop`); the peer's step loop ``spk, mem = lif(x[t], mem)``
    and the result's call on ``x [T, B, ...]`` give the same spikes."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"from_snntorch expects an nn.Module; got {type(module).__name__}")
    return convert_tree(module, _convert_neuron, peer=PEER)


def _is_snntorch(module: nn.Module) -> bool:
    return type(module).__module__.split(".")[0] == "snntorch"


def _convert_neuron(module: nn.Module) -> nn.Module | None:
    if not _is_snntorch(module):
        return None
    name = type(module).__name__
    if name not in _NEURONS:
        raise unsupported(PEER, module, f"neuron type {name} (converted: {', '.join(_NEURONS)})")
    common = _common(module)
    beta = _decay(module, "beta")
    if name == "Alpha":
        if module.reset_mechanism != "zero":
            raise unsupported(
                PEER, module, f"Alpha's {module.reset_mechanism!r} reset (only 'zero')"
            )
        return Alpha(
            tau_decay=1.0 / (1.0 - _decay(module, "alpha")), tau_rise=1.0 / (1.0 - beta),
            v_threshold=common["v_threshold"], reset_delay=True, detach_reset=True,
            surrogate=common["surrogate"],
        )  # fmt: skip
    reset = module.reset_mechanism
    if reset == "none":
        raise unsupported(PEER, module, "reset_mechanism='none' (integration without reset)")
    if not getattr(module, "reset_delay", True):
        raise unsupported(PEER, module, "reset_delay=False (its reset is applied twice)")
    tau = 1.0 / (1.0 - beta)
    if name == "Leaky":
        if reset == "zero":  # charges from 0 on the next step = the immediate hard reset
            return LIF(tau, decay_input=False, v_reset=0.0, detach_reset=True, **common)
        return LIF(
            tau, decay_input=False, v_reset=None, reset_delay=True, detach_reset=True, **common
        )
    options: dict[str, Any] = dict(
        decay_input=False, reset_delay=True, detach_reset=True,
        v_reset=None if reset == "subtract" else 0.0, **common,
    )  # fmt: skip
    if name in ("Synaptic", "RSynaptic"):
        options["tau_syn"] = 1.0 / (1.0 - _decay(module, "alpha"))
    if name == "Synaptic":
        return CUBALIF(tau, **options)
    recurrent = _recurrent(module)
    return (RCUBALIF if name == "RSynaptic" else RLIF)(tau, recurrent=recurrent, **options)


def _decay(module: nn.Module, name: str) -> float:
    value = scalar(PEER, module, name, getattr(module, name))
    if not 0.0 < value < 1.0:
        raise unsupported(
            PEER,
            module,
            f"{name}={value} (a decay strictly between 0 and 1 maps to a time constant)",
        )
    return value


def _common(module: nn.Module) -> dict[str, Any]:
    if getattr(module, "inhibition", False):
        raise unsupported(PEER, module, "inhibition=True (winner-take-all firing)")
    if getattr(module, "state_quant", False):
        raise unsupported(PEER, module, "state_quant (quantized hidden state)")
    graded = getattr(module, "graded_spikes_factor", 1.0)
    if scalar(PEER, module, "graded_spikes_factor", graded) != 1.0:
        raise unsupported(PEER, module, "graded spikes (graded_spikes_factor != 1)")
    if getattr(module, "surrogate_disable", False):
        raise unsupported(PEER, module, "surrogate_disable=True (no surrogate gradient)")
    return {
        "v_threshold": scalar(PEER, module, "threshold", module.threshold),
        "surrogate": _surrogate(module),
    }


def _surrogate(module: nn.Module) -> Surrogate:
    fn = module.spike_grad
    qualname = getattr(fn, "__qualname__", "")
    params = dict(zip(getattr(getattr(fn, "__code__", None), "co_freevars", ()),
                      (c.cell_contents for c in (getattr(fn, "__closure__", None) or ())), strict=False))  # fmt: skip
    kind = qualname.split(".")[0]
    if kind == "atan":
        return ATan(alpha=float(params["alpha"]))
    if kind == "fast_sigmoid":
        return FastSigmoid(alpha=float(params["slope"]))
    if kind == "sigmoid":
        return Sigmoid(alpha=float(params["slope"]))
    if kind == "straight_through_estimator":
        return StraightThrough()
    if kind == "spike_rate_escape":  # snnTorch centres it one unit above threshold
        return SpikeRateEscape(beta=float(params["beta"]), slope=float(params["slope"]), shift=1.0)
    raise unsupported(
        PEER, module, f"surrogate {qualname or fn!r} (mapped: atan, fast_sigmoid, sigmoid, "
        "straight_through_estimator, spike_rate_escape)"
    )  # fmt: skip


def _recurrent(module: nn.Module) -> nn.Module:
    recurrent = module.recurrent
    if isinstance(recurrent, nn.Linear | nn.Conv2d):
        return recurrent  # shared: the same weights
    weight = recurrent.V
    one_to_one = OneToOne(weight.detach())
    if isinstance(weight, nn.Parameter):
        one_to_one.weight = weight  # shared
    return one_to_one
