"""Argument checks shared by every part of spikestack, written once.

Each check raises a ``ValueError`` (or ``TypeError`` for the wrong kind of object) that
names the argument, what was expected and what came, and returns the checked value so
that it can be used inline: ``self.T = check_int("T", T)``.

This module sits at the bottom of the package graph next to ``registry`` and ``atomic``:
it imports nothing of spikestack, so data, kernels, neurons, models and train all use it.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "check_fraction",
    "check_int",
    "check_neuron_params",
    "check_number",
    "check_positive",
    "check_sequence",
    "check_tau",
]


def _tracing() -> bool:
    """True inside ``torch.compile``: the values were checked when the module was built,
    and a float that dynamo traces symbolically cannot be tested without a graph break."""
    return torch.compiler.is_compiling()


def _is_real(value: Any) -> bool:
    plain = isinstance(value, (int, float)) and not isinstance(value, bool)
    return plain or _is_numpy_real(value)


def _is_numpy_real(value: Any) -> bool:
    # numpy scalars (np.float32(2.0), np.int64(3)) are numbers too; checked by duck typing so
    # that this module needs no numpy import
    return (
        hasattr(value, "dtype")
        and getattr(value, "shape", None) == ()
        and value.dtype.kind in "iuf"
    )


def check_number(name: str, value: Any) -> float:
    """``value`` as a float; raise unless it is a finite real number."""
    if _tracing():
        return value
    if not _is_real(value) or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number; got {value!r}")
    return float(value)


def check_positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    """``value`` as a float; raise unless it is a finite number > 0 (>= 0 with ``allow_zero``)."""
    if _tracing():
        return value
    bound = ">= 0" if allow_zero else "> 0"
    if not _is_real(value) or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number {bound}; got {value!r}")
    if float(value) < 0 or (float(value) == 0 and not allow_zero):
        raise ValueError(f"{name} must be a finite number {bound}; got {value!r}")
    return float(value)


def check_int(name: str, value: Any, *, minimum: int = 1) -> int:
    """``value``; raise unless it is an int (not a bool) >= ``minimum``."""
    ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok and _is_numpy_real(value) and value.dtype.kind in "iu":
        value, ok = int(value), True
    if not ok or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value!r}")
    return int(value)


def check_fraction(
    name: str, value: Any, *, low: float = 0.0, high: float = 1.0, high_open: bool = False
) -> float:
    """``value`` as a float; raise unless ``low <= value <= high`` (``< high`` if ``high_open``)."""
    interval = f"[{low:g}, {high:g}{')' if high_open else ']'}"
    ok = _is_real(value) and math.isfinite(float(value))
    if not ok or not low <= float(value) <= high or (high_open and float(value) == high):
        raise ValueError(f"{name} must be in {interval}; got {value!r}")
    return float(value)


def check_sequence(x: object, *, name: str = "x") -> Tensor:
    """Raise a clear error unless ``x`` is a floating tensor ``[T, B, ...]`` with T >= 1."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor [T, B, ...]; got {type(x).__name__}")
    if x.dim() < 2:
        raise ValueError(
            f"{name} must be [T, B, ...] with at least 2 dims; got shape {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor; got dtype {x.dtype}")
    if x.shape[0] < 1:
        raise ValueError(f"{name} must have T >= 1 time steps; got shape {tuple(x.shape)}")
    return x


def check_tau(tau: Any, *, name: str = "tau") -> float:
    """A membrane time constant: a finite number > 1 (tau <= 1 forgets at once or diverges)."""
    if _tracing():
        return tau
    if not _is_real(tau) or not math.isfinite(float(tau)) or float(tau) <= 1:
        raise ValueError(
            f"{name} must be a finite number > 1 (tau <= 1 makes the membrane forget or diverge); "
            f"got {tau!r}"
        )
    return float(tau)


def check_neuron_params(*, v_threshold: Any, v_reset: Any) -> None:
    """A positive finite threshold and a reset (a number below it, or None for soft reset)."""
    if _tracing():
        return
    check_positive("v_threshold", v_threshold)
    if v_reset is not None:
        if not _is_real(v_reset) or not math.isfinite(float(v_reset)):
            raise ValueError(
                f"v_reset must be a finite number or None (soft reset); got {v_reset!r}"
            )
        if v_reset >= v_threshold:
            raise ValueError(
                f"v_reset must be below v_threshold; got v_reset={v_reset}, v_threshold={v_threshold}"
            )
