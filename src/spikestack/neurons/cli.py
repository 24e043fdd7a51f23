"""``spikestack neurons [PATTERN]``: list the registered neurons with a one-line description,
their state variables and the options they take."""

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
