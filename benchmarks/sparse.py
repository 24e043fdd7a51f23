"""Event-driven linear and convolution against dense torch by input rate:
``python benchmarks/sparse.py [--quick]`` (the same as ``spikestack bench sparse``)."""

from __future__ import annotations

import sys

from spikestack.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "sparse", *sys.argv[1:]]))
