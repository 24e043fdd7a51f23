"""Time-domain event transforms, random drops and noise, and conversions (Tonic's set).

All follow the package's conventions: frozen dataclasses, ``transform(events, rng=rng)``,
the input never modified. Random ones draw only from ``rng``; where Tonic takes a
parameter range, a ``(lo, hi)`` pair draws the parameter uniformly per call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from spikestack.data.transforms._common import (
    as_rng,
    check_sensor_size,
    checked,
    sorted_events,
    ycoord,
)
from spikestack.data.transforms.filters import DropByArea, DropByTime, DropEvent
from spikestack.validation import check_fraction, check_int

__all__ = [
    "CropTime",
    "Decimation",
    "EventDrop",
    "NumpyAsType",
    "RandomDropPixel",
    "RandomTimeReversal",
    "TimeAlignment",
    "UniformNoise",
    "draw",
]

Range = float | tuple[float, float]


def draw(value: Range, rng: np.random.Generator, name: str) -> float:
    """``value``, or for a ``(lo, hi)`` pair a uniform draw from it."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2 or not value[0] <= value[1]:
            raise ValueError(f"{name} range must be (lo, hi) with lo <= hi; got {value!r}")
        return float(rng.uniform(value[0], value[1]))
    return float(value)


@dataclass(frozen=True)
class CropTime:
    """Keep the events with ``min_time <= t <= max_time`` (µs; None leaves that side open)."""

    min_time: int | None = None
    max_time: int | None = None

    def __post_init__(self) -> None:
        if (
            self.min_time is not None
            and self.max_time is not None
            and self.min_time > self.max_time
        ):
            raise ValueError(f"min_time {self.min_time} is after max_time {self.max_time}")

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        ev = checked(events)
        keep = np.ones(len(ev), dtype=bool)
        if self.min_time is not None:
            keep &= ev["t"] >= self.min_time
        if self.max_time is not None:
            keep &= ev["t"] <= self.max_time
        return ev[keep]


@dataclass(frozen=True)
class TimeAlignment:
    """Shift the timestamps so that the first event is at t = 0."""

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        ev = checked(events).copy()
        if len(ev):
            ev["t"] -= ev["t"].min()
        return ev


@dataclass(frozen=True)
class RandomTimeReversal:
    """With probability ``p``, play the recording backwards: t' = t_first + t_last - t, in
    time order, with the polarities flipped (an ON edge seen backwards is an OFF edge;
    ``flip_polarities=False`` keeps them)."""

    p: float = 0.5
    flip_polarities: bool = True

    def __post_init__(self) -> None:
        check_fraction("p", self.p)

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        ev = checked(events)
        if len(ev) == 0 or as_rng(rng).random() >= self.p:
            return ev.copy()
        out = sorted_events(ev)[::-1].copy()
        out["t"] = ev["t"].min() + ev["t"].max() - out["t"]
        if self.flip_polarities:
            out["p"] = np.where(out["p"] > 0, 0, 1).astype(out["p"].dtype)
        return out


@dataclass(frozen=True)
class Decimation:
    """Keep every ``n``-th event of each pixel (the n-th, 2n-th, ... in time order) and drop
    the others: a deterministic rate reduction by n."""

    n: int

    def __post_init__(self) -> None:
        check_int("n", self.n)

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        ev = sorted_events(checked(events))
        if self.n == 1 or not len(ev):
            return ev.copy()
        key = ycoord(ev).astype(np.int64) * 65536 + ev["x"]
        order = np.argsort(key, kind="stable")  # each pixel's events together, in time order
        sorted_key = key[order]
        starts = np.r_[0, np.flatnonzero(sorted_key[1:] != sorted_key[:-1]) + 1]
        rank = np.arange(len(ev)) - np.repeat(starts, np.diff(np.r_[starts, len(ev)]))
        keep = np.zeros(len(ev), dtype=bool)
        keep[order] = (rank + 1) % self.n == 0
        return ev[keep]


@dataclass(frozen=True)
class UniformNoise:
    """Add ``n`` noise events (or a number drawn from ``(lo, hi)``) uniform in space, time
    (the recording's span) and polarity; the result is in time order."""

    sensor_size: tuple[int, int, int]
    n: Range = 1000

    def __post_init__(self) -> None:
        check_sensor_size(self.sensor_size)

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        ev = checked(events, self.sensor_size)
        gen = as_rng(rng)
        count = int(round(draw(self.n, gen, "n")))
        if count < 0:
            raise ValueError(f"UniformNoise adds a number of events >= 0; drew {count}")
        width, height, polarities = self.sensor_size
        t0, t1 = (int(ev["t"].min()), int(ev["t"].max())) if len(ev) else (0, 0)
        noise = np.zeros(count, dtype=ev.dtype)
        noise["t"] = gen.integers(t0, t1 + 1, count)
        noise["x"] = gen.integers(0, width, count)
        if "y" in ev.dtype.names:
            noise["y"] = gen.integers(0, height, count)
        noise["p"] = gen.integers(0, polarities, count) if polarities > 1 else 1
        both = np.concatenate([ev, noise])
        return both[np.argsort(both["t"], kind="stable")]


@dataclass(frozen=True)
class RandomDropPixel:
    """Drop all events of each pixel independently with probability ``p`` (or a
    probability drawn from ``(lo, hi)``): dead pixels."""

    sensor_size: tuple[int, int, int]
    p: Range = 0.1

    def __post_init__(self) -> None:
        check_sensor_size(self.sensor_size)

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        ev = checked(events, self.sensor_size)
        gen = as_rng(rng)
        p = check_fraction("p", draw(self.p, gen, "p"))
        width, height, _ = self.sensor_size
        dead = gen.random((height, width)) < p
        return ev[~dead[ycoord(ev).astype(np.int64), ev["x"].astype(np.int64)]]


@dataclass(frozen=True)
class EventDrop:
    """EventDrop (Gu et al., IJCAI 2021): one of identity, :class:`DropByTime`,
    :class:`DropByArea` and :class:`DropEvent`, chosen at random per call, each drop with
    its ratio drawn from ``ratio`` (default (0.1, 0.6))."""

    sensor_size: tuple[int, int, int]
    ratio: tuple[float, float] = (0.1, 0.6)

    def __post_init__(self) -> None:
        check_sensor_size(self.sensor_size)
        lo, hi = self.ratio
        if not 0.0 < lo <= hi < 1.0:
            raise ValueError(f"ratio must be (lo, hi) with 0 < lo <= hi < 1; got {self.ratio!r}")

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        ev = checked(events, self.sensor_size)
        gen = as_rng(rng)
        choice = int(gen.integers(0, 4))
        ratio = draw(self.ratio, gen, "ratio")
        if choice == 0:
            return ev.copy()
        if choice == 1:
            return DropByTime(duration_ratio=ratio)(ev, rng=gen)
        if choice == 2:
            return DropByArea(self.sensor_size, area_ratio=ratio)(ev, rng=gen)
        return DropEvent(p=ratio)(ev, rng=gen)


@dataclass(frozen=True)
class NumpyAsType:
    """The structured events as a plain ``[N, fields]`` array of ``dtype``, columns in the
    order of ``fields`` (default: the event fields, t x y p)."""

    dtype: Any = np.float32
    fields: tuple[str, ...] | None = None

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        ev = checked(events)
        names = self.fields or ev.dtype.names
        missing = [f for f in names if f not in ev.dtype.names]
        if missing:
            raise ValueError(f"events have no field(s) {missing}; they have {ev.dtype.names}")
        out = np.empty((len(ev), len(names)), dtype=self.dtype)
        for i, name in enumerate(names):
            out[:, i] = ev[name]
        return out
