"""Benchmark of the LIF neuron backends: ``spikestack bench neurons`` and ``benchmarks/neurons.py``.

In one process, for each T: a plain memory copy of the forward's bytes (the floor),
the eager reference, ``torch.compile`` of the reference, SpikingJelly's ``LIFNode``
(when installed) and the fused cpu backend; forward and forward+backward, as the
median over repeats. GB/s counts the algorithmic minimum traffic: forward reads X
and writes S (8 bytes per neuron-step in float32), forward+backward also reads dS
and writes dX (16 bytes). All measurements of one T are taken round-robin, so load
that drifts during the run slows every method alike; they are still wall clock.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from spikestack.kernels import get_op, reference
from spikestack.surrogates import ATan

LIF_OPTIONS = {
    "tau": 2.0,
    "v_threshold": 1.0,
    "v_reset": 0.0,
    "decay_input": True,
    "detach_reset": False,
    "surrogate": ATan(),
}
Step = Callable[[Tensor], Tensor]


@dataclass
class Row:
    name: str
    fwd_ms: float | None = None
    fwdbwd_ms: float | None = None
    saved_bytes: float | None = None  # saved for backward, per neuron per step
    notes: list[str] = field(default_factory=list)
    fused: bool = False  # the row the speed-ups are relative to


def timed_rounds(
    fns: dict[str, Callable[[], object]],
    rounds: int,
    times: dict[str, list[float]],
    sync: Callable[[], None] = lambda: None,
) -> None:
    """Run each function once per round, round-robin so that load drifts hit all alike,
    appending its ms to ``times[name]``; ``sync`` waits for queued device work (CUDA)
    before each clock reading."""
    for _ in range(rounds):
        for name, fn in fns.items():
            sync()
            start = time.perf_counter()
            fn()
            sync()
            times[name].append(1e3 * (time.perf_counter() - start))


def median_ms(
    fns: dict[str, Callable[[], object]],
    repeats: int,
    sync: Callable[[], None] = lambda: None,
    warmup: int = 1,
) -> dict[str, float]:
    """Median ms of each function over ``repeats`` rounds (:func:`timed_rounds`), after
    ``warmup`` untimed calls each."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    timed_rounds(fns, repeats, times, sync)
    return {name: statistics.median(t) for name, t in times.items()}


def _saved_bytes(step: Step, x: Tensor) -> float:
    """Bytes of distinct storages autograd keeps for backward, per element of x."""
    storages: dict[int, int] = {}

    def pack(t: Tensor) -> Tensor:
        storage = t.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return t

    xg = x.detach().requires_grad_()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = step(xg)
    del out
    return sum(storages.values()) / x.numel()


def _forward_and_backward(step: Step, x: Tensor) -> tuple[Callable[[], None], Callable[[], None]]:
    grad = torch.ones_like(x)
    xg = x.detach().requires_grad_()

    def forward() -> None:
        with torch.no_grad():
            step(x)

    def forward_backward() -> None:
        torch.autograd.grad(step(xg), xg, grad)

    return forward, forward_backward


def _spikingjelly_step() -> Step | None:
    try:
        from spikingjelly.activation_based import neuron, surrogate
    except ImportError:
        return None
    node = neuron.LIFNode(tau=2.0, step_mode="m", surrogate_function=surrogate.ATan(alpha=2.0))

    def step(x: Tensor) -> Tensor:
        node.reset()
        return node(x)

    return step


def first_call_seconds() -> float:
    """Seconds from importing the cpu backend to the end of its first LIF call (warm JIT cache)."""
    code = (
        "import time, torch\n"
        "start = time.perf_counter()\n"
        "from spikestack.kernels import cpu\n"
        "from spikestack.kernels.bench import LIF_OPTIONS\n"
        "x = torch.randn(4, 8, 32, requires_grad=True)\n"
        "s, v = cpu.lif(x, torch.zeros(8, 32), **LIF_OPTIONS)\n"
        "s.sum().backward()\n"
        "print(time.perf_counter() - start)\n"
    )
    run = lambda: subprocess.run(  # noqa: E731
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    run()  # fills the cache if it was cold
    return float(run().stdout.strip())


def run_neurons(
    *,
    steps: tuple[int, ...] = (4, 16, 64),
    neurons: int = 1 << 20,
    repeats: int = 9,
    compile_reference: bool = True,
    threads: int | None = None,
    device: str = "cpu",
    out: Callable[[str], None] = print,
) -> dict[int, list[Row]]:
    """Run the benchmark and print one table per T; returns the rows.

    ``device="cuda"`` times the triton backend against the same baselines on the GPU.
    """
    cuda = torch.device(device).type == "cuda"
    if cuda and not torch.cuda.is_available():
        raise SystemExit(f"--device {device}: no CUDA device is available")
    if threads:
        import numba

        torch.set_num_threads(threads)
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    backend = "triton" if cuda else "cpu"
    where = torch.cuda.get_device_name(device) if cuda else f"{torch.get_num_threads()} threads"
    out(f"LIF (tau=2, hard reset, ATan), N={neurons} float32, {where}")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    v0 = torch.zeros(neurons, device=device)
    eager: Step = lambda x: reference.lif(x, v0, **LIF_OPTIONS)[0]  # noqa: E731
    # from rest as spikestack.functional.lif calls it: a stride-0 resting state, which the
    # kernel reads as one value for all neurons
    rest = torch.zeros((), device=device).expand(neurons)
    fused_op = get_op("lif", backend, v0)
    fused: Step = lambda x: fused_op(x, rest, **LIF_OPTIONS)[0]  # noqa: E731
    fused_name = f"spikestack {backend} (fused)"
    sj = _spikingjelly_step()
    results: dict[int, list[Row]] = {}
    for t in steps:
        x = (torch.randn(t, neurons) * 0.8 + 0.45).to(device)
        dst = torch.empty_like(x)
        timed: dict[str, Callable[[], object]] = {
            "copy (clone)": lambda x=x: x.clone(),
            "copy (into buffer)": lambda x=x, d=dst: d.copy_(x),
        }
        candidates: list[tuple[str, Step]] = [("reference eager", eager)]
        if compile_reference:
            torch._dynamo.reset()
            compiled: Step = torch.compile(lambda x: reference.lif(x, v0, **LIF_OPTIONS)[0])
            start = time.perf_counter()
            xg = x.detach().requires_grad_()
            torch.autograd.grad(compiled(xg), xg, torch.ones_like(x))
            with torch.no_grad():
                compiled(x)
            sync()
            candidates.append(("torch.compile(ref)", compiled))
            compile_s = time.perf_counter() - start
        if sj is not None:
            candidates.append(("SpikingJelly LIFNode", sj))
        candidates.append((fused_name, fused))
        for name, step in candidates:
            timed[name], timed[name + " +bwd"] = _forward_and_backward(step, x)
        ms = median_ms(timed, repeats, sync)
        rows = [Row(name, fwd_ms=ms[name]) for name in ("copy (clone)", "copy (into buffer)")]
        for name, step in candidates:
            row = Row(name, ms[name], ms[name + " +bwd"], fused=name == fused_name)
            if name != "torch.compile(ref)":
                row.saved_bytes = _saved_bytes(step, x)
            else:
                row.notes.append(f"compile {compile_s:.1f} s")
            rows.append(row)
        results[t] = rows
        _print_table(t, neurons, rows, out)
    if not cuda:
        seconds = first_call_seconds()
        out(f"fused cpu first call with a warm JIT cache (import + fwd + bwd): {seconds:.2f} s")
    return results


def _print_table(t: int, neurons: int, rows: list[Row], out: Callable[[str], None]) -> None:
    elems = t * neurons
    by_name = {r.name: r for r in rows}
    fused = next(r for r in rows if r.fused)
    out(f"\nT={t}")
    out(f"{'method':24} {'fwd ms':>8} {'GB/s':>6} {'fwd+bwd ms':>11} {'GB/s':>6} "
        f"{'fused speed-up fwd / fwd+bwd':>29} {'saved B/elem':>12}")  # fmt: skip
    for r in rows:
        fwd_gbs = 8 * elems / r.fwd_ms / 1e6 if r.fwd_ms else None
        both_gbs = 16 * elems / r.fwdbwd_ms / 1e6 if r.fwdbwd_ms else None
        speed = ""
        if r.fwd_ms and r is not fused and fused.fwd_ms:
            speed = f"{r.fwd_ms / fused.fwd_ms:.2f}x"
            if r.fwdbwd_ms and fused.fwdbwd_ms:
                speed += f" / {r.fwdbwd_ms / fused.fwdbwd_ms:.2f}x"
        cells = [
            f"{r.name:24}",
            f"{r.fwd_ms:8.1f}" if r.fwd_ms else f"{'-':>8}",
            f"{fwd_gbs:6.1f}" if fwd_gbs else f"{'-':>6}",
            f"{r.fwdbwd_ms:11.1f}" if r.fwdbwd_ms else f"{'-':>11}",
            f"{both_gbs:6.1f}" if both_gbs else f"{'-':>6}",
            f"{speed:>29}",
            f"{r.saved_bytes:12.1f}" if r.saved_bytes is not None else f"{'-':>12}",
        ]
        out(" ".join(cells) + ("  " + "; ".join(r.notes) if r.notes else ""))
    clone = by_name["copy (clone)"].fwd_ms
    if fused.fwd_ms and clone:
        out(f"fused forward / copy (clone) = {fused.fwd_ms / clone:.2f}  "
            f"(/ copy into buffer = {fused.fwd_ms / by_name['copy (into buffer)'].fwd_ms:.2f})")  # fmt: skip
