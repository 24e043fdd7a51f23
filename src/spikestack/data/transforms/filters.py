"""Transforms that remove events: noise filters and random drops."""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from spikestack.data.transforms._common import (
    as_rng,
    check_sensor_size,
    checked,
    sorted_events,
    ycoord,
)
from spikestack.validation import check_fraction, check_positive


@numba.njit(cache=True)
def _denoise_mask(t, x, y, width, height, filter_time):  # pragma: no cover - compiled
    last = np.full((height + 2, width + 2), np.iinfo(np.int64).min // 2, dtype=np.int64)
    keep = np.zeros(t.shape[0], dtype=np.bool_)
    for i in range(t.shape[0]):
        xi, yi, ti = x[i] + 1, y[i] + 1, t[i]
        support = False
        for dy in range(-1, 2):
            for dx in range(-1, 2):
                if (dx != 0 or dy != 0) and ti - last[yi + dy, xi + dx] <= filter_time:
                    support = True
        keep[i] = support
        last[yi, xi] = ti
    return keep


@numba.njit(cache=True)
def _refractory_mask(t, pixel, num_pixels, period):  # pragma: no cover - compiled
    last = np.full(num_pixels, np.iinfo(np.int64).min // 2, dtype=np.int64)
    keep = np.zeros(t.shape[0], dtype=np.bool_)
    for i in range(t.shape[0]):
        if t[i] - last[pixel[i]] >= period:
            keep[i] = True
            last[pixel[i]] = t[i]
    return keep


@dataclass(frozen=True)
class Denoise:
    """Background-activity filter: keep an event only if one of its 8 neighbouring
    pixels (not the pixel itself) had an earlier event at most ``filter_time`` µs before.

    keep_i  <=>  exists j < i: |x_j - x_i| <= 1, |y_j - y_i| <= 1, (x_j, y_j) != (x_i, y_i),
    t_i - t_j <= filter_time. Polarity is ignored (Delbruck, 2008, "Frame-free dynamic
    digital vision").
    """

    sensor_size: tuple[int, int, int]
    filter_time: float

    def __post_init__(self) -> None:
        check_sensor_size(self.sensor_size)
        check_positive("filter_time", self.filter_time)

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        ev = sorted_events(checked(events, self.sensor_size))
        w, h, _ = self.sensor_size
        keep = _denoise_mask(
            ev["t"].astype(np.int64),
            ev["x"].astype(np.int64),
            ycoord(ev).astype(np.int64),
            w,
            h,
            np.int64(self.filter_time),
        )
        return ev[keep]


@dataclass(frozen=True)
class RefractoryPeriod:
    """Drop events that come less than ``refractory_period`` µs after the last *kept*
    event at the same pixel (either polarity): keep_i <=> t_i - t_last_kept(x_i, y_i) >= period.
    """

    sensor_size: tuple[int, int, int]
    refractory_period: float

    def __post_init__(self) -> None:
        check_sensor_size(self.sensor_size)
        check_positive("refractory_period", self.refractory_period, allow_zero=True)

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        ev = sorted_events(checked(events, self.sensor_size))
        w, h, _ = self.sensor_size
        pixel = ycoord(ev).astype(np.int64) * w + ev["x"]
        keep = _refractory_mask(
            ev["t"].astype(np.int64), pixel, w * h, np.int64(self.refractory_period)
        )
        return ev[keep]


@dataclass(frozen=True)
class DropEvent:
    """Drop each event independently with probability ``p`` (EventDrop, Gu et al., IJCAI 2021)."""

    p: float

    def __post_init__(self) -> None:
        check_fraction("p", self.p)

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        ev = checked(events)
        return ev[as_rng(rng).random(len(ev)) >= self.p]


@dataclass(frozen=True)
class DropPixel:
    """Remove all events of given pixels, or of hot pixels.

    Args:
        coordinates: ``(x, y)`` pairs whose events are dropped.
        hot_pixel_frequency: drop pixels whose event rate, count / (t_last - t_0) in Hz,
            is above this value.
    """

    coordinates: tuple[tuple[int, int], ...] | None = None
    hot_pixel_frequency: float | None = None

    def __post_init__(self) -> None:
        if (self.coordinates is None) == (self.hot_pixel_frequency is None):
            raise ValueError("DropPixel needs exactly one of coordinates, hot_pixel_frequency")
        if self.hot_pixel_frequency is not None:
            check_positive("hot_pixel_frequency", self.hot_pixel_frequency)
        if self.coordinates is not None:
            object.__setattr__(
                self, "coordinates", tuple(tuple(map(int, c)) for c in self.coordinates)
            )
            if any(len(c) != 2 for c in self.coordinates):
                raise ValueError(f"coordinates must be (x, y) pairs; got {self.coordinates!r}")

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        ev = checked(events)
        y = ycoord(ev).astype(np.int64)
        key = y * 65536 + ev["x"]
        if self.coordinates is not None:
            bad = np.array([cy * 65536 + cx for cx, cy in self.coordinates], dtype=np.int64)
        else:
            if len(ev) < 2:
                return ev.copy()
            seconds = max(int(ev["t"].max() - ev["t"].min()), 1) * 1e-6
            uniq, counts = np.unique(key, return_counts=True)
            bad = uniq[counts / seconds > self.hot_pixel_frequency]
        return ev[~np.isin(key, bad)]


@dataclass(frozen=True)
class DropByTime:
    """Drop all events inside one random time window of ``duration_ratio`` x the recording
    length (EventDrop, Gu et al., IJCAI 2021). The window start is uniform so that the window
    lies within [t_0, t_last]."""

    duration_ratio: float

    def __post_init__(self) -> None:
        if not 0.0 < self.duration_ratio < 1.0:
            raise ValueError(f"duration_ratio must be in (0, 1); got {self.duration_ratio}")

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        ev = checked(events)
        rng = as_rng(rng)
        if not len(ev):
            return ev.copy()
        t0, t1 = int(ev["t"].min()), int(ev["t"].max())
        length = self.duration_ratio * (t1 - t0)
        start = t0 + rng.random() * (t1 - t0 - length)
        return ev[(ev["t"] < start) | (ev["t"] > start + length)]


@dataclass(frozen=True)
class DropByArea:
    """Drop all events inside one random box of (area_ratio W) x (area_ratio H) pixels
    (EventDrop, Gu et al., IJCAI 2021). The box lies within the sensor."""

    sensor_size: tuple[int, int, int]
    area_ratio: float

    def __post_init__(self) -> None:
        check_sensor_size(self.sensor_size)
        if not 0.0 < self.area_ratio < 1.0:
            raise ValueError(f"area_ratio must be in (0, 1); got {self.area_ratio}")

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        ev = checked(events, self.sensor_size)
        rng = as_rng(rng)
        w, h, _ = self.sensor_size
        bw, bh = max(1, int(round(self.area_ratio * w))), max(1, int(round(self.area_ratio * h)))
        x0 = int(rng.integers(0, w - bw + 1))
        y0 = int(rng.integers(0, h - bh + 1))
        y = ycoord(ev)
        inside = (ev["x"] >= x0) & (ev["x"] < x0 + bw) & (y >= y0) & (y < y0 + bh)
        return ev[~inside]
