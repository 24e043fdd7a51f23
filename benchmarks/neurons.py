"""LIF neuron backends side by side, then PSN vs LIF:
``python benchmarks/neurons.py [--quick] [--no-compile] [--no-psn]``.

The first part is ``spikestack bench neurons`` (see :mod:`spikestack.kernels.bench`);
the second is the simulation-speed part of ``benchmarks/psn.py`` (the PSN paper's claim
that PSN simulates faster than LIF for long T), with the ratio printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spikestack.kernels.cli import add_neuron_bench_flags, run_neuron_bench


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_neuron_bench_flags(parser)
    parser.add_argument("--no-psn", action="store_true", help="skip the PSN vs LIF part")
    args = parser.parse_args(argv)
    code = run_neuron_bench(args)
    if not args.no_psn:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import psn

        psn.speed(quick=args.quick)
    return code


if __name__ == "__main__":
    sys.exit(main())
