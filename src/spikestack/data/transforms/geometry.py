"""Transforms that move events in space, time or polarity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikestack.data.transforms._common import (
    as_rng,
    check_sensor_size,
    checked,
    need_y,
    sorted_events,
)
from spikestack.validation import check_fraction, check_positive


def _flip_p(p: np.ndarray) -> np.ndarray:
    # {0, 1} polarities flip to 1 - p; signed {-1, 1} polarities flip to -p.
    return (-p if np.any(p < 0) else 1 - p).astype(p.dtype)


@dataclass(frozen=True)
class RandomFlipLR:
    """With probability ``p`` mirror left-right: x -> W - 1 - x."""

    sensor_size: tuple[int, int, int]
    p: float = 0.5

    def __post_init__(self) -> None:
        check_sensor_size(self.sensor_size)
        check_fraction("p", self.p)

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        out = checked(events, self.sensor_size).copy()
        if as_rng(rng).random() < self.p:
            out["x"] = self.sensor_size[0] - 1 - out["x"]
        return out


@dataclass(frozen=True)
class RandomFlipUD:
    """With probability ``p`` mirror up-down: y -> H - 1 - y."""

    sensor_size: tuple[int, int, int]
    p: float = 0.5

    def __post_init__(self) -> None:
        check_sensor_size(self.sensor_size)
        check_fraction("p", self.p)

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        out = checked(events, self.sensor_size).copy()
        need_y(out, "RandomFlipUD")
        if as_rng(rng).random() < self.p:
            out["y"] = self.sensor_size[1] - 1 - out["y"]
        return out


@dataclass(frozen=True)
class RandomFlipPolarity:
    """With probability ``p`` swap ON and OFF: p -> 1 - p ({0, 1}) or p -> -p ({-1, 1})."""

    p: float = 0.5

    def __post_init__(self) -> None:
        check_fraction("p", self.p)

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        out = checked(events).copy()
        if as_rng(rng).random() < self.p:
            out["p"] = _flip_p(out["p"])
        return out


@dataclass(frozen=True)
class MergePolarities:
    """Set every polarity to 0, so that frames of a ``(W, H, 1)`` sensor count all events."""

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        out = checked(events).copy()
        out["p"] = 0
        return out


@dataclass(frozen=True)
class Downsample:
    """Scale coordinates and time: x' = floor(x sx), y' = floor(y sy), t' = floor(t st).

    Args:
        spatial_factor: sx = sy (e.g. 0.5 halves the resolution), or a pair ``(sx, sy)``.
        time_factor: st (e.g. 1e-3 turns µs into ms).
        sensor_size, target_size: instead of a factor, the sensor ``(W, H, P)`` and the
            size ``(W', H')`` to reach: sx = W'/W, sy = H'/H.
    """

    spatial_factor: float | tuple[float, float] = 1.0
    time_factor: float = 1.0
    sensor_size: tuple[int, int, int] | None = None
    target_size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if (self.sensor_size is None) != (self.target_size is None):
            raise ValueError("Downsample needs both sensor_size and target_size, or neither")
        if self.target_size is not None:
            check_sensor_size(self.sensor_size)  # type: ignore[arg-type]
            if self.spatial_factor != 1.0:
                raise ValueError("give spatial_factor or target_size, not both")
            if len(self.target_size) != 2 or min(self.target_size) < 1:
                raise ValueError(f"target_size must be (W', H') >= 1; got {self.target_size!r}")
            w, h, _ = self.sensor_size  # type: ignore[misc]
            object.__setattr__(
                self, "spatial_factor", (self.target_size[0] / w, self.target_size[1] / h)
            )
        factors = (
            self.spatial_factor
            if isinstance(self.spatial_factor, (tuple, list))
            else (self.spatial_factor,)
        )
        if len(factors) not in (1, 2):
            raise ValueError(
                f"spatial_factor must be one factor or (sx, sy); got {self.spatial_factor!r}"
            )
        for value in factors:
            check_positive("spatial_factor", value)
        check_positive("time_factor", self.time_factor)

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        out = checked(events).copy()
        sx, sy = (
            self.spatial_factor if isinstance(self.spatial_factor, (tuple, list))
            else (self.spatial_factor, self.spatial_factor)
        )  # fmt: skip
        out["x"] = np.floor(out["x"] * sx)
        if "y" in out.dtype.names:
            out["y"] = np.floor(out["y"] * sy)
        out["t"] = np.floor(out["t"] * self.time_factor)
        return out


def _crop(events: np.ndarray, x0: int, y0: int, w: int, h: int) -> np.ndarray:
    need_y(events, "CenterCrop/RandomCrop")
    inside = (
        (events["x"] >= x0) & (events["x"] < x0 + w) & (events["y"] >= y0) & (events["y"] < y0 + h)
    )
    out = events[inside]  # fancy indexing copies
    out["x"] -= np.uint16(x0)
    out["y"] -= np.uint16(y0)
    return out


@dataclass(frozen=True)
class CenterCrop:
    """Keep the central ``size=(w, h)`` box and shift it to the origin:
    x0 = (W - w) // 2, y0 = (H - h) // 2, x' = x - x0, y' = y - y0."""

    sensor_size: tuple[int, int, int]
    size: tuple[int, int]

    def __post_init__(self) -> None:
        check_sensor_size(self.sensor_size)
        w, h = self.size
        if not (0 < w <= self.sensor_size[0] and 0 < h <= self.sensor_size[1]):
            raise ValueError(
                f"size must be (w, h) within sensor_size {self.sensor_size}; got {self.size}"
            )

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        ev = checked(events, self.sensor_size)
        w, h = self.size
        return _crop(ev, (self.sensor_size[0] - w) // 2, (self.sensor_size[1] - h) // 2, w, h)


@dataclass(frozen=True)
class RandomCrop:
    """Keep a ``size=(w, h)`` box at a uniformly random offset, shifted to the origin."""

    sensor_size: tuple[int, int, int]
    size: tuple[int, int]

    def __post_init__(self) -> None:
        CenterCrop(self.sensor_size, self.size)  # same validation

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        ev = checked(events, self.sensor_size)
        rng = as_rng(rng)
        w, h = self.size
        x0 = int(rng.integers(0, self.sensor_size[0] - w + 1))
        y0 = int(rng.integers(0, self.sensor_size[1] - h + 1))
        return _crop(ev, x0, y0, w, h)


@dataclass(frozen=True)
class SpatialJitter:
    """Move each event by rounded Gaussian noise: x' = round(x + N(0, std_x^2)), same for y.
    Events that land outside the sensor are dropped (``clip_outliers=True``) or clamped."""

    sensor_size: tuple[int, int, int]
    std_x: float = 1.0
    std_y: float = 1.0
    clip_outliers: bool = True

    def __post_init__(self) -> None:
        check_sensor_size(self.sensor_size)
        check_positive("std_x", self.std_x, allow_zero=True)
        check_positive("std_y", self.std_y, allow_zero=True)

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        ev = checked(events, self.sensor_size)
        need_y(ev, "SpatialJitter")
        rng = as_rng(rng)
        w, h, _ = self.sensor_size
        x = np.rint(ev["x"] + rng.normal(0.0, self.std_x, len(ev))).astype(np.int64)
        y = np.rint(ev["y"] + rng.normal(0.0, self.std_y, len(ev))).astype(np.int64)
        out = ev.copy()
        if self.clip_outliers:
            ok = (x >= 0) & (x < w) & (y >= 0) & (y < h)
            out, x, y = out[ok], x[ok], y[ok]
        out["x"] = np.clip(x, 0, w - 1)
        out["y"] = np.clip(y, 0, h - 1)
        return out


@dataclass(frozen=True)
class TimeJitter:
    """Add rounded Gaussian noise to timestamps, t' = round(t + N(0, std^2)) µs, then re-sort
    (stable). With ``clip_negative`` events with t' < 0 are dropped."""

    std: float
    clip_negative: bool = True

    def __post_init__(self) -> None:
        check_positive("std", self.std, allow_zero=True)

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        out = checked(events).copy()
        out["t"] = np.rint(out["t"] + as_rng(rng).normal(0.0, self.std, len(out)))
        if self.clip_negative:
            out = out[out["t"] >= 0]
        return sorted_events(out)


@dataclass(frozen=True)
class TimeSkew:
    """Linear time warp t' = round(coefficient t + offset) (coefficient > 0 keeps the order)."""

    coefficient: float
    offset: float = 0.0

    def __post_init__(self) -> None:
        check_positive("coefficient", self.coefficient)

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        out = checked(events).copy()
        out["t"] = np.rint(out["t"] * self.coefficient + self.offset)
        return out
