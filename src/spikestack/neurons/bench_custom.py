"""``spikestack bench neurons --custom``: neurons declared with :func:`define_neuron`, their
generated fused kernels against the hand-written fused LIF, their eager loops and
``torch.compile`` of those loops.

A declared LIF (to hold against the hand-written fused LIF: the target is within 1.3x), and
the library's ALIF (two state variables) and Izhikevich, which run kernels generated from
their declarations (:mod:`spikestack.neurons.declared`) by default and their torch loops
with ``backend="torch"``. Times are medians of forward + backward (gradient of the
spikes' sum), timed round-robin in one process; compile time is reported apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from spikestack.kernels.bench import median_ms
from spikestack.neurons.alif import ALIF
from spikestack.neurons.define import define_neuron
from spikestack.neurons.lif import LIF
from spikestack.neurons.nonlinear import Izhikevich


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
    cases: list[tuple[str, Callable[..., torch.nn.Module], float, float, Any]] = [
        ("LIF", DeclaredLIF, 0.8, 0.45, LIF(2.0)),
        ("ALIF", ALIF, 0.8, 0.45, None),
        ("Izhikevich", Izhikevich, 4.0, 8.0, None),
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
