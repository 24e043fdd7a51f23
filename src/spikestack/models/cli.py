"""``spikestack models [PATTERN]``: list the registered models, their default input layout
(``static`` or ``sequence``) and their parameter counts.

Models are built on ``torch.device("meta")`` (shapes only, no memory, no initialisation
cost), so listing the ImageNet-sized models takes a moment, not minutes.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list registered models, their input layout and parameter counts",
        description="List the registered models (optionally matching a shell-style pattern, "
        "e.g. 'sew_*') with their default input layout and their parameter counts at default "
        "arguments.",
    )
    parser.add_argument("pattern", nargs="?", default=None, help="shell-style filter, e.g. 'sew_*'")
    parser.add_argument(
        "--no-params", action="store_true", help="list the names only (do not build the models)"
    )
    parser.set_defaults(func=run)


def meta_parameter_count(name: str, **kwargs: Any) -> int:
    """Parameter count of ``create_model(name, **kwargs)``, built on the meta device."""
    import torch

    from spikestack.models import count_parameters, create_model

    with torch.device("meta"):
        return count_parameters(create_model(name, **kwargs))


def format_count(count: int) -> str:
    return f"{count / 1e6:.2f} M" if count >= 10_000 else str(count)


def run(args: argparse.Namespace) -> int:
    from spikestack.models import list_models, model_info

    names = list_models(args.pattern)
    if not names:
        print(f"no model matches {args.pattern!r}")
        return 1
    width = max(len(n) for n in names)
    for name in names:
        if args.no_params:
            print(name)
            continue
        try:
            count = format_count(meta_parameter_count(name))
        except Exception as error:  # a broken builder must not hide the others
            count = f"error: {error}"
        print(f"{name:<{width}}  {model_info(name).input_layout:<8}  {count:>10}")
    return 0
