"""Dense representations of event streams: frames, voxel grids, time surfaces."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from spikestack.data.transforms._common import (
    check_sensor_size,
    checked,
    polarity_channel,
    sorted_events,
    ycoord,
)
from spikestack.validation import check_int, check_positive


def _time_slices(t: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Index ranges ``[lo, hi)`` of the sorted times ``t`` in windows ``[start, end)``."""
    tf = t.astype(np.float64)
    lo = np.searchsorted(tf, starts, side="left")
    hi = np.searchsorted(tf, ends, side="left")
    return np.stack([lo, hi], axis=1)


@dataclass(frozen=True)
class ToFrame:
    """Accumulate events into ``[T, P, H, W]`` float32 count frames.

    Exactly one slicing mode is chosen:

    - ``n_time_bins=T``: T windows of equal duration L covering the recording,
      span = t_last - t_0 + 1 µs, L = span / ((T - 1)(1 - overlap) + 1),
      window i = [t_0 + i L (1 - overlap), ... + L).
    - ``n_event_bins=T``: T windows of equal event count, same formula on event indices.
    - ``time_window=L`` (µs): windows of length L with stride L - overlap (overlap in µs)
      starting at t_0; ``include_incomplete`` keeps a last, partly filled window.
    - ``event_count=N``: windows of N events with stride N - overlap (overlap in events).

    ``overlap`` is a fraction in [0, 1) for the two ``n_*_bins`` modes. Polarity
    channel is 1 for p > 0 and 0 otherwise (all events go to channel 0 when P == 1).

    ``start_time``/``end_time`` (µs) set the span the time modes cover instead of the first
    and last event, [start_time, end_time): events outside it are left out, and equal
    spans give equal windows across recordings.

    Never zero frames: a recording shorter than one ``time_window`` or ``event_count``
    gives one frame (its events in one partial window), an empty one a frame of zeros, so
    that every sample of a data set has at least one step.

    Args:
        sensor_size: ``(W, H, P)``.
    """

    sensor_size: tuple[int, int, int]
    n_time_bins: int | None = None
    n_event_bins: int | None = None
    time_window: float | None = None
    event_count: int | None = None
    overlap: float = 0.0
    include_incomplete: bool = False
    start_time: int | None = None
    end_time: int | None = None

    def __post_init__(self) -> None:
        check_sensor_size(self.sensor_size)
        if self.start_time is not None and self.end_time is not None:
            if self.end_time <= self.start_time:
                raise ValueError(
                    f"end_time {self.end_time} must be after start_time {self.start_time}"
                )
        modes = {
            "n_time_bins": self.n_time_bins,
            "n_event_bins": self.n_event_bins,
            "time_window": self.time_window,
            "event_count": self.event_count,
        }
        chosen = [k for k, v in modes.items() if v is not None]
        if len(chosen) != 1:
            raise ValueError(
                "ToFrame needs exactly one of n_time_bins, n_event_bins, time_window, "
                f"event_count; got {chosen or 'none'}"
            )
        mode = chosen[0]
        check_positive(mode, modes[mode])
        if mode in ("n_time_bins", "n_event_bins"):
            if not 0.0 <= self.overlap < 1.0:
                raise ValueError(
                    f"overlap must be a fraction in [0, 1) for {mode}; got {self.overlap}"
                )
        elif not 0 <= self.overlap < modes[mode]:
            raise ValueError(f"overlap must be in [0, {mode}={modes[mode]}); got {self.overlap}")

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        ev = sorted_events(checked(events, self.sensor_size))
        if self.start_time is not None:
            ev = ev[ev["t"] >= self.start_time]
        if self.end_time is not None:
            ev = ev[ev["t"] < self.end_time]
        w, h, p = self.sensor_size
        slices = self._slices(ev["t"])
        if len(slices) == 0:  # shorter than one window, or empty: one (partial) frame
            slices = np.array([[0, len(ev)]], dtype=np.int64)
        frames = np.zeros((len(slices), p, h, w), dtype=np.float32)
        flat = (polarity_channel(ev, p) * h + ycoord(ev).astype(np.int64)) * w + ev["x"]
        for i, (lo, hi) in enumerate(slices):
            if hi > lo:
                counts = np.bincount(flat[lo:hi], minlength=p * h * w)
                frames[i] = counts.reshape(p, h, w)
        return frames

    def _origin_and_span(self, t: np.ndarray) -> tuple[int, int]:
        """The time span the windows cover: [start_time, end_time) where given, else from
        the first event to the last (inclusive)."""
        first = self.start_time if self.start_time is not None else (int(t[0]) if len(t) else 0)
        if self.end_time is not None:
            return first, int(self.end_time) - first
        return first, (int(t[-1]) - first + 1) if len(t) else 0

    def _slices(self, t: np.ndarray) -> np.ndarray:
        n = len(t)
        origin, time_span = self._origin_and_span(t)
        if self.n_event_bins is not None or self.n_time_bins is not None:
            bins = self.n_event_bins if self.n_event_bins is not None else self.n_time_bins
            if n == 0 and (self.n_event_bins is not None or time_span <= 0):
                return np.zeros((bins, 2), dtype=np.int64)
            span = n if self.n_event_bins is not None else time_span
            length = span / ((bins - 1) * (1.0 - self.overlap) + 1.0)
            starts = np.arange(bins) * length * (1.0 - self.overlap)
            ends = starts + length
            ends[-1] = span  # guard against rounding: the last window ends at the last event
            if self.n_event_bins is not None:
                return np.stack([np.floor(starts), np.floor(ends)], axis=1).astype(np.int64)
            return _time_slices(t, origin + starts, origin + ends)
        if self.event_count is not None:
            size, stride, span = self.event_count, self.event_count - self.overlap, n
        else:
            size, stride = self.time_window, self.time_window - self.overlap
            span = time_span if n or self.end_time is not None else 0
        if span == 0:
            count = 0
        elif self.include_incomplete:
            count = math.ceil(max(span - size, 0) / stride) + 1
        else:
            count = math.floor((span - size) / stride) + 1 if span >= size else 0
        starts = np.arange(count) * stride
        if count == 0:
            return np.zeros((0, 2), dtype=np.int64)
        if self.event_count is not None:
            idx = np.stack([starts, np.minimum(starts + size, n)], axis=1)
            return np.asarray(idx, dtype=np.int64).reshape(count, 2)
        return _time_slices(t, origin + starts, origin + starts + size).reshape(count, 2)


@dataclass(frozen=True)
class ToVoxelGrid:
    """Bilinear-in-time voxel grid ``[T, H, W]`` (Zhu et al., CVPR 2019, "Unsupervised
    event-based learning of optical flow, depth, and egomotion").

    t*_i = (T - 1)(t_i - t_0) / (t_last - t_0);  V[b, y, x] = sum_i s_i max(0, 1 - |b - t*_i|),
    with s_i = +1 for p > 0 and -1 otherwise. A recording with a single timestamp puts
    everything into bin 0.
    """

    sensor_size: tuple[int, int, int]
    n_time_bins: int

    def __post_init__(self) -> None:
        check_sensor_size(self.sensor_size)
        check_positive("n_time_bins", self.n_time_bins)

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        ev = checked(events, self.sensor_size)
        w, h, _ = self.sensor_size
        bins = self.n_time_bins
        grid = np.zeros(bins * h * w, dtype=np.float64)
        if len(ev):
            t = ev["t"].astype(np.float64)
            dur = t.max() - t.min()
            ts = (bins - 1) * (t - t.min()) / dur if dur > 0 else np.zeros_like(t)
            sign = np.where(ev["p"] > 0, 1.0, -1.0)
            pix = ycoord(ev).astype(np.int64) * w + ev["x"]
            left = np.floor(ts).astype(np.int64)
            frac = ts - left
            np.add.at(grid, left * h * w + pix, sign * (1.0 - frac))
            right = left + 1
            ok = right < bins
            np.add.at(grid, right[ok] * h * w + pix[ok], sign[ok] * frac[ok])
        return grid.reshape(bins, h, w).astype(np.float32)


@dataclass(frozen=True)
class ToTimeSurface:
    """Exponentially decaying time surfaces ``[T, P, H, W]`` (Lagorce et al., TPAMI 2017, HOTS).

    Surfaces are sampled at s_k = t_0 + (k + 1) dt, k = 0 .. ceil(span / dt) - 1, with
    span = t_last - t_0 + 1 µs. S_k[p, y, x] = exp(-(s_k - t_last(p, y, x)) / tau), where
    t_last is the time of the latest event at that pixel and polarity with t < s_k; pixels
    without such an event are 0.

    Args:
        dt: sampling interval in µs. tau: decay constant in µs.
    """

    sensor_size: tuple[int, int, int]
    dt: float
    tau: float

    def __post_init__(self) -> None:
        check_sensor_size(self.sensor_size)
        check_positive("dt", self.dt)
        check_positive("tau", self.tau)

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        ev = sorted_events(checked(events, self.sensor_size))
        w, h, p = self.sensor_size
        if not len(ev):
            return np.zeros((0, p, h, w), dtype=np.float32)
        t = ev["t"]
        span = int(t[-1] - t[0]) + 1
        count = math.ceil(span / self.dt)
        samples = t[0] + (np.arange(count) + 1) * self.dt
        bounds = np.searchsorted(t.astype(np.float64), samples, side="left")
        flat = (polarity_channel(ev, p) * h + ycoord(ev).astype(np.int64)) * w + ev["x"]
        memory = np.full(p * h * w, -np.inf)
        out = np.zeros((count, p * h * w), dtype=np.float32)
        lo = 0
        for k, hi in enumerate(bounds):
            np.maximum.at(memory, flat[lo:hi], t[lo:hi].astype(np.float64))
            lo = hi
            out[k] = np.exp(-(samples[k] - memory) / self.tau)
        return out.reshape(count, p, h, w)


@dataclass(frozen=True)
class ToImage:
    """All events of the recording counted into one ``[P, H, W]`` float32 image."""

    sensor_size: tuple[int, int, int]

    def __post_init__(self) -> None:
        check_sensor_size(self.sensor_size)

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        ev = checked(events, self.sensor_size)
        w, h, p = self.sensor_size
        flat = (polarity_channel(ev, p) * h + ycoord(ev).astype(np.int64)) * w + ev["x"]
        return np.bincount(flat, minlength=p * h * w).reshape(p, h, w).astype(np.float32)


@dataclass(frozen=True)
class ToBinaRep:
    """Bina-Rep (Barchid et al., 2022): ``n_frames * n_bits`` binary event frames (a pixel
    is 1 where it had an event in that time bin), each group of ``n_bits`` consecutive ones
    read as the bits of a number, most significant first, scaled to [0, 1]:
    frame_i = sum_b B[i n_bits + b] 2^(n_bits - 1 - b) / (2^n_bits - 1).
    Returns ``[n_frames, P, H, W]`` float32."""

    sensor_size: tuple[int, int, int]
    n_frames: int = 1
    n_bits: int = 8

    def __post_init__(self) -> None:
        check_sensor_size(self.sensor_size)
        check_int("n_frames", self.n_frames)
        check_int("n_bits", self.n_bits)

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        binary = ToFrame(self.sensor_size, n_time_bins=self.n_frames * self.n_bits)(events) > 0
        if len(binary) < self.n_frames * self.n_bits:  # an empty recording has no frames
            binary = np.zeros((self.n_frames * self.n_bits, *binary.shape[1:]), dtype=bool)
        bits = binary.reshape(self.n_frames, self.n_bits, *binary.shape[1:]).astype(np.float64)
        weights = 2.0 ** np.arange(self.n_bits - 1, -1, -1)
        value = np.tensordot(weights, bits, axes=([0], [1]))  # [n_frames, P, H, W]
        return (value / (2.0**self.n_bits - 1)).astype(np.float32)


@dataclass(frozen=True)
class ToSparseTensor:
    """The count frames of ``frames`` (a :class:`ToFrame`) as a torch sparse COO tensor
    ``[T, P, H, W]``: for sparse recordings it keeps only the non-zero counts."""

    frames: ToFrame

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> Any:
        import torch

        return torch.from_numpy(self.frames(events)).to_sparse_coo()


@dataclass(frozen=True)
class ToAveragedTimeSurface:
    """HATS, histograms of averaged time surfaces (Sironi et al., CVPR 2018).

    The sensor is cut into cells of ``cell_size`` x ``cell_size`` pixels. For each event e
    (pixel (x, y), polarity p, time t), its local time surface is the
    (2 ``surface_size`` + 1)-wide square around (x, y) holding, at each offset, the sum over
    the earlier events of the same cell and polarity there, no older than ``time_window``,
    of exp(-(t - t_j) / ``tau``); the event itself counts at the centre (t_j = t). The HATS
    of a cell and polarity is the mean of its events' local surfaces (zeros where a cell
    has none). Returns ``[cells, P, 2 surface_size + 1, 2 surface_size + 1]`` float32,
    cells in row-major order (ceil(H / cell_size) rows of ceil(W / cell_size)).
    """

    sensor_size: tuple[int, int, int]
    cell_size: int = 10
    surface_size: int = 3
    time_window: float = 1e5
    tau: float = 5e3

    def __post_init__(self) -> None:
        check_sensor_size(self.sensor_size)
        check_int("cell_size", self.cell_size)
        check_int("surface_size", self.surface_size, minimum=0)
        check_positive("time_window", self.time_window)
        check_positive("tau", self.tau)

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        ev = sorted_events(checked(events, self.sensor_size))
        w, h, p = self.sensor_size
        k, r = self.cell_size, self.surface_size
        cols, rows = -(-w // k), -(-h // k)
        side = 2 * r + 1
        x = ev["x"].astype(np.int64)
        y = ycoord(ev).astype(np.int64)
        pol = polarity_channel(ev, p)
        cell = (y // k) * cols + x // k
        out = np.zeros((rows * cols, p, side, side), dtype=np.float64)
        counts = np.zeros((rows * cols, p), dtype=np.int64)
        _hats(ev["t"].astype(np.float64), x, y, pol, cell, out, counts, r,
              float(self.time_window), float(self.tau))  # fmt: skip
        nonempty = counts > 0
        out[nonempty] /= counts[nonempty][:, None, None]
        return out.astype(np.float32)


@numba.njit(cache=True, nogil=True)
def _hats(t, x, y, pol, cell, out, counts, r, window, tau):  # type: ignore[no-untyped-def]
    """Accumulate every event's local time surface into ``out[cell, pol]``."""
    n = len(t)
    # events of each (cell, polarity) in time order, as a linked list through ``prev``
    last = -np.ones(out.shape[0] * out.shape[1], dtype=np.int64)
    prev = -np.ones(n, dtype=np.int64)
    for i in range(n):
        key = cell[i] * out.shape[1] + pol[i]
        prev[i] = last[key]
        last[key] = i
        counts[cell[i], pol[i]] += 1
        out[cell[i], pol[i], r, r] += 1.0  # the event itself, at the centre
        j = prev[i]
        while j >= 0 and t[i] - t[j] <= window:
            dx, dy = x[j] - x[i], y[j] - y[i]
            if -r <= dx <= r and -r <= dy <= r:
                out[cell[i], pol[i], dy + r, dx + r] += np.exp(-(t[i] - t[j]) / tau)
            j = prev[j]
