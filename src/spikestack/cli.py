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
from typing import Any

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


def _long_options(parser: argparse.ArgumentParser) -> list[str]:
    """The ``--`` option strings of ``parser`` itself (not of its subcommands)."""
    return [s for action in parser._actions for s in action.option_strings if s.startswith("--")]


def _subcommands(parser: argparse.ArgumentParser) -> tuple[str, dict[str, Any]]:
    """The destination of ``parser``'s subcommand choice and its subcommands' parsers."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.dest, dict(action.choices)
    return "", {}


def _chosen(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[Any]:
    """The parsers of the command line's (sub)commands, outermost first."""
    chain = [parser]
    dest, subs = _subcommands(parser)
    while subs and getattr(args, dest, None) in subs:
        chain.append(subs[getattr(args, dest)])
        dest, subs = _subcommands(chain[-1])
    return chain


def _owners(parser: argparse.ArgumentParser, option: str) -> list[str]:
    """The commands (``prog`` names) that take ``option``, searching every subcommand."""
    found = [parser.prog] if option in _long_options(parser) else []
    for sub in dict.fromkeys(_subcommands(parser)[1].values()):  # aliases share one parser
        found += _owners(sub, option)
    return found


def _unknown_hint(arg: str, chain: list[Any], root: argparse.ArgumentParser) -> str:
    """``arg`` with a hint: the close option this command takes, or the commands that take it."""
    if not arg.startswith("--"):
        return arg
    name = arg.split("=")[0]
    known = [o for p in chain for o in _long_options(p)]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.7)
    if close:
        return f"{arg} (did you mean {close[0]}?)"
    owners = _owners(root, name)
    if owners:
        return f"{arg} (an option of {', '.join(owners)})"
    return arg


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        chain = _chosen(parser, args)
        hints = [_unknown_hint(arg, chain, parser) for arg in unknown]
        chain[-1].error(f"unrecognized arguments: {', '.join(hints)}")
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
