"""The ``spikestack`` command.

Each area of the package registers its own subcommands through a ``register(subparsers)``
function in its ``cli`` module; heavy imports happen inside the handlers, so
``spikestack --help`` stays fast.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import sys
from collections.abc import Sequence

_COMMAND_MODULES = (
    "spikestack.train.cli",
    "spikestack.data.cli",
    "spikestack.models.cli",
    "spikestack.neurons.cli",
    "spikestack.layers.cli",
)


def build_parser() -> argparse.ArgumentParser:
    from spikestack import __version__

    parser = argparse.ArgumentParser(
        prog="spikestack", description="Spiking deep learning on PyTorch."
    )
    parser.add_argument("--version", action="version", version=f"spikestack {__version__}")
    parser.add_argument(
        "--debug", action="store_true",
        help="show the full traceback of an error (also SPIKESTACK_DEBUG=1)",
    )  # fmt: skip
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    bench = subparsers.add_parser("bench", help="benchmarks printing ratios against baselines")
    benchmarks = bench.add_subparsers(dest="bench_command", metavar="BENCHMARK", required=True)
    for module_name in _COMMAND_MODULES:
        module = importlib.import_module(module_name)
        module.register(subparsers)
        if hasattr(module, "register_bench"):  # its ``spikestack bench NAME`` subcommands
            module.register_bench(benchmarks)
    return parser


def _option_strings(parser: argparse.ArgumentParser) -> list[str]:
    """Every option string of ``parser`` and its subcommands (for close-match hints)."""
    found = []
    for action in parser._actions:
        found += [s for s in action.option_strings if s.startswith("--")]
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += _option_strings(sub)
    return sorted(set(found))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        known = [option[2:] for option in _option_strings(parser)]
        hints = []
        for arg in unknown:
            close = []
            if arg.startswith("--"):
                close = difflib.get_close_matches(arg[2:].split("=")[0], known, n=1, cutoff=0.7)
            hints.append(arg + (f" (did you mean --{close[0]}?)" if close else ""))
        parser.error(f"unrecognized arguments: {', '.join(hints)}")
    debug = args.debug or os.environ.get("SPIKESTACK_DEBUG", "") not in ("", "0")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except EXPECTED as error:  # bad input: one line, no traceback (unless --debug)
        if debug:
            raise
        print(f"spikestack {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 2


# What a user's input can cause: bad values, missing or unreadable files, bad file content.
EXPECTED = (ValueError, TypeError, KeyError, FileNotFoundError, FileExistsError, OSError)


def _one_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    if isinstance(error, KeyError) and text.startswith("'"):
        text = text.strip("'")
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
