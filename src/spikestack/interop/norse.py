"""Norse models in spikestack: :func:`from_norse`.

Norse integrates its ODEs with explicit Euler steps of ``dt``; a time constant becomes
a number of steps, tau = 1 / (dt · tau_inv). Its membrane sees the input through the
leak (spikestack's ``decay_input=True``) and its synaptic current jumps by the input
before the membrane update, which is spikestack's current order:

    LIFBoxCell / LIFBox       -> LIF(tau, decay_input=True)               (v_leak = v_reset)
    LIFCell / LIF             -> CUBALIF(tau, tau_syn, decay_input=True)  (v_leak = v_reset)
    LIFExCell / LIFEx         -> EIF(tau, tau_syn, theta_rh = v_th)
    LIFAdExCell / LIFAdEx     -> AdEx(tau, tau_w, a, b, tau_syn, theta_rh = v_th)
    LIBoxCell                 -> LI(tau, v_leak)
    LICell / LI               -> CUBALI(tau, tau_syn, v_leak)
    IzhikevichCell / Izhikevich -> Izhikevich(a, b, c, d, dt = dt · tau_inv, v_init)
    Lift(module)              -> TimeDistributed(module)

Norse's ``"super"`` threshold is SuperSpike whose backward ignores its alpha, 1 / (|x| + 1)^2:
spikestack's FastSigmoid(alpha=1). Norse fires where v > v_th, spikestack where v >= v_th.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from spikestack.interop._tree import convert_tree, scalar, unsupported
from spikestack.layers import TimeDistributed
from spikestack.neurons import CUBALI, CUBALIF, EIF, LI, LIF, AdEx, Izhikevich
from spikestack.surrogates import FastSigmoid, Surrogate

__all__ = ["from_norse"]

PEER = "Norse"


def from_norse(module: nn.Module) -> nn.Module:
    """The spikestack equivalent of a Norse neuron module (cell or sequence form) or of an
    ``nn.Sequential``/``SequentialState`` holding some (see :mod:`spikestack.interop`)."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"from_norse expects an nn.Module; got {type(module).__name__}")
    return convert_tree(module, _convert_neuron, peer=PEER)


def _convert_neuron(module: nn.Module) -> nn.Module | None:
    if type(module).__module__.split(".")[0] != "norse":
        return None
    name = type(module).__name__
    if name == "Lift":
        return TimeDistributed(module.lifted_module)
    if name == "SequentialState":
        return None  # an nn.Sequential: convert_tree walks it
    if not hasattr(module, "p") or not hasattr(module, "dt"):
        raise unsupported(PEER, module, f"module type {name}")
    p, dt = module.p, float(module.dt)
    kind = name.removesuffix("Cell")
    num = lambda field: scalar(PEER, module, field, getattr(p, field))  # noqa: E731

    def steps(field: str) -> float:
        return 1.0 / (dt * num(field))

    if kind == "LIBox":
        return LI(steps("tau_mem_inv"), v_leak=num("v_leak"), decay_input=True)
    if kind == "LI":
        return CUBALI(steps("tau_mem_inv"), steps("tau_syn_inv"), v_leak=num("v_leak"))
    if kind not in ("LIFBox", "LIF", "LIFEx", "LIFAdEx", "Izhikevich"):
        raise unsupported(
            PEER, module, f"neuron type {name} (converted: LIFBox, LIF, LIFEx, LIFAdEx, "
            "Izhikevich, LIBox, LI, in cell or sequence form)"
        )  # fmt: skip
    surrogate = _surrogate(module, p)
    if kind == "Izhikevich":
        return _izhikevich(module, p, dt, surrogate)
    if getattr(p, "reset_method", None) is not None and p.reset_method.__name__ != "reset_value":
        raise unsupported(PEER, module, f"reset_method {p.reset_method.__name__}")
    levels = {"v_threshold": num("v_th"), "v_reset": num("v_reset")}
    if kind in ("LIFBox", "LIF") and num("v_leak") != levels["v_reset"]:
        raise unsupported(
            PEER, module, f"v_leak={num('v_leak')} != v_reset={levels['v_reset']} (spikestack's "
            "LIF leaks toward its reset value)"
        )  # fmt: skip
    if kind == "LIFBox":
        return LIF(steps("tau_mem_inv"), decay_input=True, surrogate=surrogate, **levels)
    if kind == "LIF":
        return CUBALIF(
            steps("tau_mem_inv"), steps("tau_syn_inv"), decay_input=True, surrogate=surrogate,
            **levels,
        )  # fmt: skip
    exp: dict[str, Any] = dict(
        delta_T=num("delta_T"), theta_rh=levels["v_threshold"], v_rest=num("v_leak"),
        tau_syn=steps("tau_syn_inv"), surrogate=surrogate, **levels,
    )  # fmt: skip
    if kind == "LIFEx":
        return EIF(steps("tau_mem_inv"), **exp)
    return AdEx(
        steps("tau_mem_inv"), tau_w=steps("tau_ada_inv"), a=num("adaptation_current"),
        b=num("adaptation_spike"), **exp,
    )  # fmt: skip


def _izhikevich(module: nn.Module, p: Any, dt: float, surrogate: Surrogate) -> Izhikevich:
    num = lambda field: scalar(PEER, module, field, getattr(p, field))  # noqa: E731
    for field, default in (("sq", 0.04), ("mn", 5.0), ("bias", 140.0)):
        if num(field) != default:
            raise unsupported(PEER, module, f"{field}={num(field)} (Izhikevich's {default} only)")
    state = getattr(getattr(module, "spiking_method", None), "s", None)
    v_init = -65.0 if state is None else scalar(PEER, module, "initial v", state.v)
    if state is not None:
        u_init = scalar(PEER, module, "initial u", state.u)
        if abs(u_init - num("b") * v_init) > 1e-6 * max(1.0, abs(u_init)):
            raise unsupported(
                PEER, module, f"initial u={u_init} other than b·v={num('b') * v_init}"
            )
    return Izhikevich(
        a=num("a"), b=num("b"), c=num("c"), d=num("d"), dt=dt * num("tau_inv"),
        v_threshold=num("v_th"), v_init=v_init, surrogate=surrogate,
    )  # fmt: skip


def _surrogate(module: nn.Module, p: Any) -> Surrogate:
    if p.method == "super":
        return FastSigmoid(alpha=1.0)  # Norse's SuperSpike backward ignores its alpha
    raise unsupported(PEER, module, f"threshold method {p.method!r} (mapped: 'super')")
