"""``spikestack bench neurons --custom``: neurons declared with :func:`define_neuron`, their
generated fused kernels against the hand-written fused LIF, their eager loops and
``torch.compile`` of those loops.

Three declarations: LIF (to hold against the hand-written fused LIF: the target is within
1.3x), an adaptive-threshold LIF (ALIF's equations, two state variables) and Izhikevich's
model. Times are medians of forward + backward (gradient of the spikes' sum), timed
round-robin in one process; compile time is reported apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import Tensor

from spikestack.kernels.bench import median_ms
from spikestack.neurons.define import define_neuron
from spikestack.neurons.lif import LIF


@define_neuron
class DeclaredLIF:
    """LIF (tau = 2, hard reset to 0) declared by its equations."""

    state = ("v",)
    params = {"tau": 2.0, "v_threshold": 1.0}

    def charge(x, v, tau):
        return v + (x - v) / tau

    def fire(v, v_threshold):
        return v - v_threshold

    def reset(v, spike):
        return v * (1 - spike)


@define_neuron
class DeclaredALIF:
    """Adaptive-threshold LIF (Bellec et al. 2018) declared: theta = v_th + beta a."""

    state = ("v", "a")
    params = {"tau": 2.0, "rho": 0.95, "beta": 0.1, "v_threshold": 1.0}

    def charge(x, v, a, tau, rho):
        return v + (x - v) / tau, rho * a

    def fire(v, a, v_threshold, beta):
        return v - (v_threshold + beta * a)

    def reset(v, a, spike, v_threshold, beta):
        return v - (v_threshold + beta * a) * spike, a + spike


@define_neuron
class DeclaredIzhikevich:
    """Izhikevich's regular-spiking cell declared (dt = 0.25 ms)."""

    state = ("v", "u")
    params = {"a": 0.02, "b": 0.2, "c": -65.0, "d": 8.0, "dt": 0.25}
    rest = {"v": -65.0, "u": -13.0}

    def charge(x, v, u, a, b, dt):
        return v + dt * (0.04 * v**2 + 5 * v + 140 - u + x), u + dt * a * (b * v - u)

    def fire(v):
        return v - 30

    def reset(v, u, spike, c, d):
        return (1 - spike) * v + spike * c, (1 - spike) * u + spike * (u + d)


def _fwd_bwd(step: Callable[[Tensor], Tensor], x: Tensor) -> Callable[[], None]:
    xg = x.detach().requires_grad_()
    return lambda: torch.autograd.grad(step(xg).sum(), xg)


def run_custom(
    *, steps: int = 16, neurons: int = 1 << 20, repeats: int = 5, compile_eager: bool = True,
    out: Callable[[str], None] = print,
) -> dict[str, dict[str, float]]:  # fmt: skip
    """Print and return ms (forward + backward) per neuron and method."""
    torch.manual_seed(0)
    results: dict[str, dict[str, float]] = {}
    out(f"declared neurons, T={steps}, N={neurons} float32, {torch.get_num_threads()} threads")
    cases = [
        ("LIF", DeclaredLIF, 0.8, 0.45, LIF(2.0)),
        ("ALIF", DeclaredALIF, 0.8, 0.45, None),
        ("Izhikevich", DeclaredIzhikevich, 4.0, 8.0, None),
    ]
    for name, cls, spread, mean, hand in cases:
        x = torch.randn(steps, neurons) * spread + mean
        fused, eager = cls(backend="cpu"), cls(backend="torch")
        start = time.perf_counter()
        fused(x[:, :64])  # generation (or the disk cache) and numba's first call
        first = time.perf_counter() - start
        fns = {"generated fused": _fwd_bwd(fused, x), "eager loop": _fwd_bwd(eager, x)}
        if hand is not None:
            fns["hand-written fused"] = _fwd_bwd(hand, x)
        compile_s = None
        if compile_eager:
            torch._dynamo.reset()
            compiled = torch.compile(eager)
            start = time.perf_counter()
            _fwd_bwd(compiled, x)()
            compile_s = time.perf_counter() - start
            fns["torch.compile(eager)"] = _fwd_bwd(compiled, x)
        ms = median_ms(fns, repeats)
        results[name] = ms
        base = ms["generated fused"]
        out(
            f"\n{name} (first call {first:.2f} s"
            + (f", compile {compile_s:.1f} s)" if compile_s else ")")
        )
        for method, value in ms.items():
            out(f"  {method:22} {value:9.1f} ms   {value / base:5.2f}x the generated kernel")
    return results
