"""LIF neuron backends side by side: ``python benchmarks/neurons.py [--quick] [--no-compile]``.

Same as ``spikestack bench neurons``; see :mod:`spikestack.kernels.bench`.
"""

from __future__ import annotations

import argparse
import sys

from spikestack.kernels.cli import add_neuron_bench_flags, run_neuron_bench


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_neuron_bench_flags(parser)
    return run_neuron_bench(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
