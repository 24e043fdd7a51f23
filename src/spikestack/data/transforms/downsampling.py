"""Spatio-temporal event downsampling by integrate-and-fire pixels (Ghosh et al. 2023,
"Insect-inspired spatio-temporal downsampling of event-based input", ICONS).

Each pixel of the target grid (x' = floor(x W'/W), y' = floor(y H'/H)) is an
integrate-and-fire neuron without leak. Time is cut into windows of ``time_window`` µs
from the first event; in each window a pixel adds ON minus OFF events of its source block
(the differencing cancels camera shake), and at the window's end a pixel whose sum reached
+threshold emits one ON event, one that reached -threshold one OFF event, stamped with the
window's start, and goes back to zero ("integrator").

The "differentiator" runs the integrator with windows ``differentiator_time_bins`` times
shorter, counts its output per pixel, polarity and frame of ``time_window`` µs, and emits an
event wherever a frame's count is above the previous frame's, stamped with the previous
frame's start: it keeps the leading edges of large objects that the integrator turns into
areas of constant activity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from spikestack.data.events import EVENT_DTYPE
from spikestack.data.transforms._common import check_sensor_size, checked, need_y, sorted_events
from spikestack.validation import check_positive

_METHODS = ("integrator", "differentiator")


@numba.njit(cache=True)
def _integrate(t, x, y, p, t0, window, width, height, threshold):  # pragma: no cover
    """The integrator's output as columns (t, x, y, p), in window order, ON before OFF,
    each by (y, x)."""
    n = t.shape[0]
    state = np.zeros(height * width, dtype=np.int64)
    touched_at = np.full(height * width, -1, dtype=np.int64)
    touched = np.empty(height * width, dtype=np.int64)
    out_t = np.empty(n, dtype=np.int64)
    out_x = np.empty(n, dtype=np.int64)
    out_y = np.empty(n, dtype=np.int64)
    out_p = np.empty(n, dtype=np.int64)
    m = 0
    i = 0
    while i < n:
        k = (t[i] - t0) // window
        count = 0
        while i < n and (t[i] - t0) // window == k:
            cell = y[i] * width + x[i]
            state[cell] += 1 if p[i] > 0 else -1
            if touched_at[cell] != k:
                touched_at[cell] = k
                touched[count] = cell
                count += 1
            i += 1
        cells = np.sort(touched[:count])
        stamp = t0 + k * window
        for sign in (1, -1):
            for cell in cells:
                if sign * state[cell] >= threshold:
                    out_t[m] = stamp
                    out_x[m] = cell % width
                    out_y[m] = cell // width
                    out_p[m] = 1 if sign > 0 else 0
                    m += 1
        for cell in cells:
            if state[cell] >= threshold or -state[cell] >= threshold:
                state[cell] = 0
    return out_t[:m], out_x[:m], out_y[:m], out_p[:m]


def _events(t: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray) -> np.ndarray:
    out = np.empty(t.shape[0], dtype=EVENT_DTYPE)
    out["t"], out["x"], out["y"], out["p"] = t, x, y, p
    return out


@dataclass(frozen=True)
class EventDownsampling:
    """Downsample 2-D events to ``target_size`` (W', H') by integrate-and-fire pixels
    (see the module docstring for both methods).

    Args:
        sensor_size: (W, H, P) of the input.
        target_size: (W', H'), each at most the sensor's.
        time_window: the integration window in µs (Tonic's ``dt`` is in ms: dt=0.5 there
            is time_window=500 here).
        method: "integrator" or "differentiator".
        noise_threshold: net events a target pixel needs to emit one (at least 1: a pixel
            whose sum is zero never emits).
        differentiator_time_bins: integrator windows per differentiator frame (the
            integrator runs on floor(time_window / bins) µs, frames are bins times that).
    """

    sensor_size: tuple[int, int, int]
    target_size: tuple[int, int]
    time_window: float
    method: str = "integrator"
    noise_threshold: int = 1
    differentiator_time_bins: int = 2

    def __post_init__(self) -> None:
        check_sensor_size(self.sensor_size)
        w, h, _ = self.sensor_size
        if (
            len(self.target_size) != 2
            or not all(isinstance(v, int | np.integer) for v in self.target_size)
            or not (1 <= self.target_size[0] <= w and 1 <= self.target_size[1] <= h)
        ):
            raise ValueError(
                f"target_size must be (W', H') with 1 <= W' <= {w} and 1 <= H' <= {h}; "
                f"got {self.target_size!r}"
            )
        check_positive("time_window", self.time_window)
        if self.method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}; got {self.method!r}")
        if not isinstance(self.noise_threshold, int | np.integer) or self.noise_threshold < 1:
            raise ValueError(
                f"noise_threshold must be an integer >= 1; got {self.noise_threshold!r}"
            )
        if (
            not isinstance(self.differentiator_time_bins, int | np.integer)
            or self.differentiator_time_bins < 1
        ):
            raise ValueError(
                "differentiator_time_bins must be an integer >= 1; "
                f"got {self.differentiator_time_bins!r}"
            )

    def __call__(self, events: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        ev = sorted_events(checked(events, self.sensor_size))
        need_y(ev, "EventDownsampling")
        if len(ev) == 0:
            return np.empty(0, dtype=EVENT_DTYPE)
        (w, h, _), (tw, th) = self.sensor_size, self.target_size
        x = (ev["x"].astype(np.int64) * tw) // w  # floor(x W'/W), exact in integers
        y = (ev["y"].astype(np.int64) * th) // h
        t = ev["t"].astype(np.int64)
        t0 = int(t[0])
        bins = self.differentiator_time_bins if self.method == "differentiator" else 1
        window = max(int(self.time_window) // bins, 1)
        columns = _integrate(
            t, x, y, ev["p"].astype(np.int64), t0, window, tw, th, int(self.noise_threshold)
        )
        if self.method == "integrator":
            return _events(*columns)
        return self._differentiate(*columns, t0=t0, frame=window * bins)

    def _differentiate(self, t, x, y, p, *, t0: int, frame: int) -> np.ndarray:
        """Events where a frame holds more integrator output than the frame before, for each
        pixel and polarity; counted sparsely (memory follows the output, not the frames)."""
        tw, th = self.target_size
        channels = th * tw * 2
        keys = ((t - t0) // frame) * channels + (y * tw + x) * 2 + p  # by frame, y, x, p
        keys, counts = np.unique(keys, return_counts=True)
        before = keys - channels  # the same pixel and polarity one frame earlier
        at = np.searchsorted(keys, before)
        found = (at < len(keys)) & (keys[np.minimum(at, len(keys) - 1)] == before)
        previous = np.where(found, counts[np.minimum(at, len(keys) - 1)], 0)
        rising = before[(keys >= channels) & (counts > previous)]
        k, rest = np.divmod(rising, channels)
        pixel, pp = np.divmod(rest, 2)
        yy, xx = np.divmod(pixel, tw)
        return _events(t0 + k * frame, xx, yy, pp)
