"""The flags and runner of the LIF benchmark (``spikestack bench neurons``, registered by
:mod:`spikestack.neurons.cli`, and ``benchmarks/neurons.py``)."""

from __future__ import annotations

import argparse

from spikestack.argtypes import positive_int


def add_neuron_bench_flags(parser: argparse.ArgumentParser) -> None:
    """Flags shared by ``spikestack bench neurons`` and ``benchmarks/neurons.py``."""
    parser.add_argument(
        "--steps", type=positive_int, nargs="+", default=None, help="time steps T (default 4 16 64)"
    )
    parser.add_argument(
        "--neurons", type=positive_int, default=None, help="neurons N (default 2^20)"
    )
    parser.add_argument(
        "--repeats", type=positive_int, default=9, help="timed repeats per measurement"
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="threads for torch and numba (default: all cores)",
    )
    parser.add_argument(
        "--no-compile",
        action="store_true",
        help="skip torch.compile of the reference (slow to compile)",
    )
    parser.add_argument(
        "--device",
        default="cpu",
        help="cpu (the numba backend) or cuda (the triton backend); default cpu",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small run: T=4 16, N=2^16, 3 repeats, no torch.compile",
    )


def run_neuron_bench(args: argparse.Namespace) -> int:
    from spikestack.kernels.bench import run_neurons

    quick = bool(args.quick)
    steps = tuple(args.steps) if args.steps else ((4, 16) if quick else (4, 16, 64))
    neurons = args.neurons or (1 << 16 if quick else 1 << 20)
    if neurons < 1 or any(t < 1 for t in steps):
        raise SystemExit("--neurons and --steps must be positive")
    run_neurons(
        steps=steps,
        neurons=neurons,
        repeats=3 if quick else args.repeats,
        compile_reference=not (args.no_compile or quick),
        threads=args.threads,
        device=args.device,
    )
    return 0
