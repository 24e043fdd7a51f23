"""``spikestack neurons [PATTERN]``: list the registered neurons with a one-line description,
their state variables and the options they take; and ``spikestack bench neurons``: the
fused LIF against its baselines, or with ``--custom`` neurons declared by their equations
(:mod:`spikestack.neurons.bench_custom`)."""

from __future__ import annotations

import argparse
import fnmatch
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "neurons",
        help="list registered neurons with a one-line description",
        description="List the registered neurons (optionally matching a shell-style pattern, "
        "e.g. '*lif') with a one-line description, their state variables and, with "
        "--options, the keyword options each takes.",
    )
    parser.add_argument("pattern", nargs="?", default=None, help="shell-style filter, e.g. '*lif'")
    parser.add_argument("--options", action="store_true", help="also list each neuron's options")
    parser.set_defaults(func=run)


def register_bench(sub: Any) -> None:
    """``spikestack bench neurons``."""
    from spikestack.kernels.cli import add_neuron_bench_flags

    neurons = sub.add_parser(
        "neurons", help="LIF forward/backward: eager, compile, SpikingJelly, fused; --custom: "
        "declared neurons' generated kernels"
    )  # fmt: skip
    add_neuron_bench_flags(neurons)
    neurons.add_argument(
        "--custom", action="store_true",
        help="neurons declared with define_neuron (LIF, ALIF, Izhikevich): generated kernels "
        "against the hand-written LIF, their eager loops and torch.compile",
    )  # fmt: skip
    neurons.set_defaults(func=_bench)


def _bench(args: argparse.Namespace) -> int:
    if not args.custom:
        from spikestack.kernels.cli import run_neuron_bench

        return run_neuron_bench(args)
    from spikestack.neurons.bench_custom import run_custom

    if args.threads:
        torch_threads(args.threads)
    quick = bool(args.quick)
    run_custom(
        steps=(args.steps or [16])[0], neurons=args.neurons or (1 << 14 if quick else 1 << 20),
        repeats=2 if quick else min(args.repeats, 5), compile_eager=not (args.no_compile or quick),
    )  # fmt: skip
    return 0


def torch_threads(threads: int) -> None:
    import numba
    import torch

    torch.set_num_threads(threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


def summary(cls: type) -> str:
    """The first sentence of a class docstring, on one line."""
    doc = " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())
    end = doc.find(". ")
    return doc if end < 0 else doc[: end + 1]


def run(args: argparse.Namespace) -> int:
    from spikestack.neurons import list_neurons, neuron_class

    names = [n for n in list_neurons() if args.pattern is None or fnmatch.fnmatch(n, args.pattern)]
    if not names:
        print(f"no neuron matches {args.pattern!r}")
        return 1
    width = max(len(n) for n in names)
    for name in names:
        cls = neuron_class(name)
        state = ",".join(cls.state_names) if cls.streaming else "(whole sequence)"
        print(f"{name:<{width}}  {cls.__name__:<12} state={state:<16} {summary(cls)}")
        if args.options:
            print(f"{'':<{width}}  options: {', '.join(sorted(cls.options))}")
    return 0
