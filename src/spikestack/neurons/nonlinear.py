"""Izhikevich, AdEx, EIF and QIF neurons; math in :mod:`spikestack.functional.nonlinear`.

Izhikevich, AdEx, EIF and QIF run kernels generated from their declarations
(:mod:`spikestack.neurons.declared`; ``backend``) or their torch loops. They take their
levels in the units of their papers (mV for Izhikevich), so their thresholds and resets may be
negative; each reset is hard (``v_reset``) unless ``v_reset=None`` where the model
allows a soft one.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from spikestack.functional.nonlinear import adex, check_membrane_levels, izhikevich, qif
from spikestack.neurons.base import Neuron
from spikestack.neurons.declared import (
    exponential_declaration,
    izhikevich_declaration,
    qif_declaration,
)
from spikestack.neurons.define import declared_backend, try_declared
from spikestack.surrogates import Surrogate
from spikestack.validation import check_positive

__all__ = ["AdEx", "EIF", "IZHIKEVICH_PRESETS", "Izhikevich", "QIF"]

#: (a, b, c, d) of Izhikevich, "Simple model of spiking neurons" (IEEE TNN 2003), Fig. 2.
IZHIKEVICH_PRESETS: dict[str, tuple[float, float, float, float]] = {
    "regular_spiking": (0.02, 0.2, -65.0, 8.0),
    "intrinsically_bursting": (0.02, 0.2, -55.0, 4.0),
    "chattering": (0.02, 0.2, -50.0, 2.0),
    "fast_spiking": (0.1, 0.2, -65.0, 2.0),
    "low_threshold_spiking": (0.02, 0.25, -65.0, 2.0),
    "thalamo_cortical": (0.02, 0.25, -65.0, 0.05),
    "resonator": (0.1, 0.26, -65.0, 2.0),
}


class Izhikevich(Neuron):
    """Izhikevich's simple model (IEEE TNN 2003): v' = 0.04 v^2 + 5 v + 140 - u + I,
    u' = a (b v - u); when v reaches v_threshold (30 mV) it fires, v <- c, u <- u + d.

    Explicit Euler with step ``dt`` ms (both variables from the previous step, as Norse's
    ``IzhikevichCell``, whose default dt is 0.25 ms). ``preset`` names the (a, b, c, d) of
    a cortical cell class from the paper (:data:`IZHIKEVICH_PRESETS`: regular spiking,
    intrinsically bursting, chattering, fast spiking, low-threshold spiking,
    thalamo-cortical, resonator); any of a, b, c, d given overrides it. The input is a
    current in the model's units (a constant 10 drives regular spiking at about 10 Hz).
    The state is ``(v, u)``, at rest v = ``v_init`` (-65 mV), u = b v. ``backend`` ("auto",
    "torch", "cpu", "triton") picks the kernels generated from its declaration
    (:mod:`spikestack.neurons.declared`) or the torch loop.
    """

    state_names = ("v", "u")
    options = Neuron.options | {
        "backend",
        "preset",
        "a",
        "b",
        "c",
        "d",
        "dt",
        "v_threshold",
        "v_init",
        "detach_reset",
    }

    def __init__(
        self,
        preset: str = "regular_spiking",
        *,
        a: float | None = None,
        b: float | None = None,
        c: float | None = None,
        d: float | None = None,
        dt: float = 0.25,
        v_threshold: float = 30.0,
        v_init: float = -65.0,
        detach_reset: bool = False,
        surrogate: Surrogate | None = None,
        stateful: bool = False,
        backend: str = "auto",
    ) -> None:
        super().__init__(surrogate=surrogate, stateful=stateful)
        self.backend = declared_backend(backend)
        if preset not in IZHIKEVICH_PRESETS:
            raise ValueError(
                f"unknown Izhikevich preset {preset!r}; choose from {', '.join(IZHIKEVICH_PRESETS)}"
            )
        given = (a, b, c, d)
        self.preset = preset
        self.a, self.b, self.c, self.d = (
            float(p if p is not None else q)
            for p, q in zip(given, IZHIKEVICH_PRESETS[preset], strict=True)
        )
        self.dt = check_positive("dt", dt)
        check_membrane_levels(
            v_threshold=v_threshold, v_reset=self.c, a=self.a, b=self.b, d=self.d, v_init=v_init
        )
        self.v_threshold = float(v_threshold)
        self.v_init = float(v_init)
        self.detach_reset = bool(detach_reset)

    def init_state(self, x_t: Tensor) -> tuple[Tensor, Tensor]:
        return torch.full_like(x_t, self.v_init), torch.full_like(x_t, self.b * self.v_init)

    def _run(self, x: Tensor, state: Any) -> tuple[Tensor, tuple[Tensor, Tensor]]:  # type: ignore[override]
        decl, values = izhikevich_declaration(self)
        fused = try_declared(
            decl, self.backend, x, state, (self.v_init, self.b * self.v_init), values,
            self.surrogate, self.detach_reset, "Izhikevich",
        )  # fmt: skip
        if fused is not None:
            return fused
        return izhikevich(
            x, a=self.a, b=self.b, c=self.c, d=self.d, dt=self.dt, v_threshold=self.v_threshold,
            v_init=self.v_init, surrogate=self.surrogate, detach_reset=self.detach_reset,
            state=state,
        )  # fmt: skip

    def _extra_parts(self) -> list[str]:
        return [f"preset={self.preset!r}", f"a={self.a}", f"b={self.b}", f"c={self.c}",
                f"d={self.d}", f"dt={self.dt}"]  # fmt: skip


class _ExponentialIF(Neuron):
    """Shared body of EIF and AdEx (AdEx with adaptation off is EIF). ``backend`` ("auto",
    "torch", "cpu", "triton") picks the kernels generated from their declarations
    (:mod:`spikestack.neurons.declared`) or the torch loop."""

    adaptive: ClassVar[bool] = False
    options = Neuron.options | {
        "tau", "delta_T", "theta_rh", "v_threshold", "v_reset", "v_rest", "tau_syn",
        "detach_reset", "backend",
    }  # fmt: skip

    def __init__(
        self,
        tau: float,
        *,
        delta_T: float,
        theta_rh: float,
        v_threshold: float,
        v_reset: float | None,
        v_rest: float,
        tau_syn: float | None,
        detach_reset: bool,
        surrogate: Surrogate | None,
        stateful: bool,
        tau_w: float | None = None,
        a: float = 0.0,
        b: float = 0.0,
        backend: str = "auto",
    ) -> None:
        super().__init__(surrogate=surrogate, stateful=stateful)
        self.backend = declared_backend(backend)
        self.tau = check_positive("tau", tau)
        self.delta_T = check_positive("delta_T", delta_T)
        self.tau_syn = None if tau_syn is None else check_positive("tau_syn", tau_syn)
        self.tau_w = None if tau_w is None else check_positive("tau_w", tau_w)
        check_membrane_levels(
            v_threshold=v_threshold, v_reset=v_reset, theta_rh=theta_rh, v_rest=v_rest, a=a, b=b
        )
        self.theta_rh, self.v_threshold, self.v_rest = (
            float(theta_rh),
            float(v_threshold),
            float(v_rest),
        )
        self.v_reset = None if v_reset is None else float(v_reset)
        self.a, self.b = float(a), float(b)
        self.detach_reset = bool(detach_reset)

    def init_state(self, x_t: Tensor) -> tuple[Tensor, ...]:
        v = torch.full_like(x_t, self.v_rest)
        return (v, *(torch.zeros_like(x_t) for _ in self.state_names[1:]))

    def _run(self, x: Tensor, state: Any) -> tuple[Tensor, Any]:  # type: ignore[override]
        decl, values = exponential_declaration(self)
        rests = (self.v_rest, 0.0, 0.0) if self.adaptive else (self.v_rest, 0.0)
        fused = try_declared(
            decl, self.backend, x, state, rests, values, self.surrogate, self.detach_reset,
            type(self).__name__,
        )  # fmt: skip
        if fused is not None:
            return fused
        full = None if state is None else dict(zip(self.state_names, state, strict=True))
        out, (v, w, i) = adex(
            x, tau=self.tau, delta_T=self.delta_T, theta_rh=self.theta_rh,
            v_threshold=self.v_threshold, v_reset=self.v_reset, v_rest=self.v_rest,
            tau_w=self.tau_w if self.adaptive else None, a=self.a, b=self.b,
            tau_syn=self.tau_syn, surrogate=self.surrogate, detach_reset=self.detach_reset,
            state=None if full is None else (full["v"], full.get("w"), full.get("i")),
        )  # fmt: skip
        found = {"v": v, "w": w, "i": i}
        return out, tuple(found[n] for n in self.state_names)

    def _extra_parts(self) -> list[str]:
        parts = [f"tau={self.tau}", f"delta_T={self.delta_T}", f"theta_rh={self.theta_rh}",
                 f"v_threshold={self.v_threshold}", f"v_reset={self.v_reset}"]  # fmt: skip
        if self.tau_syn is not None:
            parts.append(f"tau_syn={self.tau_syn}")
        return parts


class EIF(_ExponentialIF):
    """Exponential integrate-and-fire (Fourcaud-Trocmé et al., J. Neurosci. 2003):
    H = V + (X - (V - v_rest) + delta_T exp((V - theta_rh) / delta_T)) / tau, firing at
    v_threshold (SpikingJelly's ``EIFNode``, same defaults). With ``tau_syn`` the input
    first passes a synaptic current I[t] = (1 - 1/tau_syn) I[t-1] + X[t]. The state is
    ``(v, i)``."""

    state_names = ("v", "i")

    def __init__(
        self,
        tau: float = 2.0,
        *,
        delta_T: float = 1.0,
        theta_rh: float = 0.8,
        v_threshold: float = 1.0,
        v_reset: float | None = -0.1,
        v_rest: float = 0.0,
        tau_syn: float | None = None,
        detach_reset: bool = False,
        surrogate: Surrogate | None = None,
        stateful: bool = False,
        backend: str = "auto",
    ) -> None:
        super().__init__(
            tau, delta_T=delta_T, theta_rh=theta_rh, v_threshold=v_threshold, v_reset=v_reset,
            v_rest=v_rest, tau_syn=tau_syn, detach_reset=detach_reset, surrogate=surrogate,
            stateful=stateful, backend=backend,
        )  # fmt: skip


class AdEx(_ExponentialIF):
    """Adaptive exponential integrate-and-fire (Brette & Gerstner, J. Neurophysiol. 2005):
    EIF's membrane minus an adaptation W, W' = (a (V - v_rest) - W) / tau_w, and W += b at
    each spike. Times are in steps. With ``theta_rh = v_threshold`` and ``tau_syn`` this is
    Norse's ``LIFAdEx`` (tau = 1 / (dt tau_mem_inv), tau_w = 1 / (dt tau_ada_inv),
    a = adaptation_current, b = adaptation_spike). The state is ``(v, w, i)``."""

    adaptive = True
    state_names = ("v", "w", "i")
    options = _ExponentialIF.options | {"tau_w", "a", "b"}

    def __init__(
        self,
        tau: float = 10.0,
        *,
        tau_w: float = 500.0,
        a: float = 4.0,
        b: float = 0.02,
        delta_T: float = 0.5,
        theta_rh: float = 1.0,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        v_rest: float = 0.0,
        tau_syn: float | None = None,
        detach_reset: bool = False,
        surrogate: Surrogate | None = None,
        stateful: bool = False,
        backend: str = "auto",
    ) -> None:
        super().__init__(
            tau, delta_T=delta_T, theta_rh=theta_rh, v_threshold=v_threshold, v_reset=v_reset,
            v_rest=v_rest, tau_syn=tau_syn, detach_reset=detach_reset, surrogate=surrogate,
            stateful=stateful, tau_w=tau_w, a=a, b=b, backend=backend,
        )  # fmt: skip

    def _extra_parts(self) -> list[str]:
        return super()._extra_parts() + [f"tau_w={self.tau_w}", f"a={self.a}", f"b={self.b}"]


class QIF(Neuron):
    """Quadratic integrate-and-fire (Latham et al., J. Neurophysiol. 2000):
    H = V + (X + a0 (V - v_rest)(V - v_c)) / tau, firing at v_threshold; above v_c the
    membrane runs away on its own (SpikingJelly's ``QIFNode``, same defaults). The state
    is ``v``. ``backend`` picks the kernels generated from its declaration or the torch
    loop."""

    options = Neuron.options | {
        "tau",
        "v_c",
        "a0",
        "v_threshold",
        "v_reset",
        "v_rest",
        "detach_reset",
        "backend",
    }

    def __init__(
        self,
        tau: float = 2.0,
        *,
        v_c: float = 0.8,
        a0: float = 1.0,
        v_threshold: float = 1.0,
        v_reset: float | None = -0.1,
        v_rest: float = 0.0,
        detach_reset: bool = False,
        surrogate: Surrogate | None = None,
        stateful: bool = False,
        backend: str = "auto",
    ) -> None:
        super().__init__(surrogate=surrogate, stateful=stateful)
        self.backend = declared_backend(backend)
        self.tau = check_positive("tau", tau)
        self.a0 = check_positive("a0", a0)
        check_membrane_levels(v_threshold=v_threshold, v_reset=v_reset, v_c=v_c, v_rest=v_rest)
        self.v_c, self.v_threshold, self.v_rest = float(v_c), float(v_threshold), float(v_rest)
        self.v_reset = None if v_reset is None else float(v_reset)
        self.detach_reset = bool(detach_reset)

    def init_state(self, x_t: Tensor) -> Tensor:
        return torch.full_like(x_t, self.v_rest)

    def _run(self, x: Tensor, state: Any) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        decl, values = qif_declaration(self)
        fused = try_declared(
            decl, self.backend, x, state, (self.v_rest,), values, self.surrogate,
            self.detach_reset, "QIF",
        )  # fmt: skip
        if fused is not None:
            return fused
        return qif(
            x, tau=self.tau, v_c=self.v_c, a0=self.a0, v_threshold=self.v_threshold,
            v_reset=self.v_reset, v_rest=self.v_rest, surrogate=self.surrogate,
            detach_reset=self.detach_reset, state=state,
        )  # fmt: skip

    def _extra_parts(self) -> list[str]:
        return [f"tau={self.tau}", f"v_c={self.v_c}", f"a0={self.a0}",
                f"v_threshold={self.v_threshold}", f"v_reset={self.v_reset}"]  # fmt: skip
