"""argparse types for the ``spikestack`` subcommands: a bad number is a usage error
(one line, exit status 2) that says what was expected, never a traceback later on."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def _number(text: str, kind: type) -> float:
    try:
        value = kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"must be {what}; got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite; got {text!r}")
    return value


def at_least(low: float, kind: type = int, *, strict: bool = False) -> Callable[[str], float]:
    """argparse type: a number of ``kind`` that is >= ``low`` (> ``low`` with ``strict``)."""

    def convert(text: str) -> float:
        value = _number(text, kind)
        if value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(
                f"must be {'>' if strict else '>='} {low:g}; got {value:g}"
            )
        return value

    return convert


def within(low: float, high: float, *, strict: bool = False) -> Callable[[str], float]:
    """argparse type: a number in [``low``, ``high``] ((``low``, ``high``] with ``strict``)."""

    def convert(text: str) -> float:
        value = _number(text, float)
        if not low <= value <= high or (strict and value == low):
            bounds = f"{'(' if strict else '['}{low:g}, {high:g}]"
            raise argparse.ArgumentTypeError(f"must be in {bounds}; got {value:g}")
        return value

    return convert


positive_int = at_least(1)
non_negative_int = at_least(0)
positive_float = at_least(0.0, float, strict=True)
non_negative_float = at_least(0.0, float)
