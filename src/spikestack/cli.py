"""The ``spikestack`` command.

Each area of the package registers its own subcommands through a ``register(subparsers)``
function in its ``cli`` module; heavy imports happen inside the handlers, so
``spikestack --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

_COMMAND_MODULES = (
    "spikestack.train.cli",
    "spikestack.kernels.cli",
    "spikestack.data.cli",
    "spikestack.models.cli",
)


def build_parser() -> argparse.ArgumentParser:
    from spikestack import __version__

    parser = argparse.ArgumentParser(
        prog="spikestack", description="Spiking deep learning on PyTorch."
    )
    parser.add_argument("--version", action="version", version=f"spikestack {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in _COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
