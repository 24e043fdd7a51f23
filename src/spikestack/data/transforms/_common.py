"""Shared validation helpers for the event transforms."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from spikestack.data.events import check_events


def as_rng(rng: np.random.Generator | None) -> np.random.Generator:
    """Return ``rng``, or a fresh OS-seeded generator when it is None."""
    if rng is None:
        return np.random.default_rng()
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator or None; got {type(rng).__name__}")
    return rng


def check_sensor_size(sensor_size: Sequence[int], *, name: str = "sensor_size") -> None:
    """Raise a ValueError unless ``sensor_size`` is ``(W, H, P)`` with positive ints."""
    if (
        not isinstance(sensor_size, (tuple, list))
        or len(sensor_size) != 3
        or not all(isinstance(v, (int, np.integer)) and v > 0 for v in sensor_size)
    ):
        raise ValueError(f"{name} must be (W, H, P) with positive ints; got {sensor_size!r}")


def ycoord(events: np.ndarray) -> np.ndarray:
    """The y column, or zeros for 1-D events."""
    if "y" in events.dtype.names:
        return events["y"]
    return np.zeros(len(events), dtype=np.uint16)


def need_y(events: np.ndarray, name: str) -> None:
    """Raise a ValueError when a 2-D transform gets 1-D events (no y field)."""
    if "y" not in events.dtype.names:
        raise ValueError(f"{name} needs 2-D events with a y field (EVENT_DTYPE); got 1-D events")


def sorted_events(events: np.ndarray) -> np.ndarray:
    """``events`` if already sorted by t, else a stably sorted copy."""
    t = events["t"]
    if len(t) > 1 and np.any(t[1:] < t[:-1]):
        return events[np.argsort(t, kind="stable")]
    return events


def checked(events: object, sensor_size: Sequence[int] | None = None) -> np.ndarray:
    """Validate ``events`` (and its coordinates against ``sensor_size`` if given)."""
    ev = check_events(events)
    if sensor_size is not None and len(ev):
        w, h, _ = sensor_size
        if int(ev["x"].max()) >= w:
            raise ValueError(
                f"events have x up to {int(ev['x'].max())} but sensor_size width is {w}"
            )
        if "y" in ev.dtype.names and int(ev["y"].max()) >= h:
            raise ValueError(
                f"events have y up to {int(ev['y'].max())} but sensor_size height is {h}"
            )
    return ev


def polarity_channel(events: np.ndarray, num_polarities: int) -> np.ndarray:
    """Channel index per event: 0 for all when P == 1, else 1 for p > 0 and 0 otherwise."""
    if num_polarities == 1:
        return np.zeros(len(events), dtype=np.int64)
    return (events["p"] > 0).astype(np.int64)
