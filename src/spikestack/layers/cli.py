"""``spikestack bench sparse`` (:mod:`spikestack.layers.bench_sparse`)."""

from __future__ import annotations

import argparse
from typing import Any

from spikestack.argtypes import positive_int, within


def register(subparsers: Any) -> None:
    """No top-level commands of its own."""


def register_bench(sub: Any) -> None:
    """``spikestack bench sparse``."""
    sparse = sub.add_parser(
        "sparse", help="event-driven linear and 3x3 conv against dense torch, by input rate"
    )
    sparse.add_argument(
        "--rates", type=within(0.0, 100.0, strict=True), nargs="+", default=None,
        help="input rates in percent (default 1 2 5 10 20)",
    )  # fmt: skip
    sparse.add_argument("--rows", type=positive_int, default=256, help="B·T rows (default 256)")
    sparse.add_argument("--repeats", type=positive_int, default=5, help="timed repeats (best of)")
    sparse.add_argument("--quick", action="store_true", help="small layers, 2 repeats")
    sparse.add_argument(
        "--device", choices=("cpu", "cuda"), default="cpu",
        help="cpu: the numba kernels; cuda: the Triton ones (default cpu)",
    )  # fmt: skip
    sparse.set_defaults(func=_bench_sparse)


def _bench_sparse(args: argparse.Namespace) -> int:
    from spikestack.layers.bench_sparse import RATES, run_sparse

    rates = tuple(r / 100 for r in args.rates) if args.rates else RATES
    run_sparse(
        rows=args.rows, rates=rates, repeats=2 if args.quick else args.repeats, quick=args.quick,
        device=args.device,
    )  # fmt: skip
    return 0
