"""Event frames as pictures that can be read: a dark background, ON events in green and
OFF events in magenta, brightness from counts clipped at a high percentile (not the
busiest pixel, which made everything else vanish), a square-root tone curve, sparse
events thickened on large sensors, and an optional crop to where the events are."""

from __future__ import annotations

import numpy as np

__all__ = ["active_box", "event_rgb"]

ON = np.array([0.25, 1.0, 0.45])  # green
OFF = np.array([1.0, 0.25, 0.85])  # magenta


def active_box(frames: np.ndarray, margin: int = 4, keep: float = 0.99) -> tuple[slice, slice]:
    """(rows, cols) slices around where the events of ``frames [T, P, H, W]`` are: the
    central ``keep`` of them along each axis (a few stray events do not widen it)."""
    counts = frames.reshape(-1, *frames.shape[-2:]).sum(0)
    if counts.sum() <= 0:
        return slice(None), slice(None)
    h, w = counts.shape
    tail = (1.0 - keep) / 2

    def span(profile: np.ndarray, size: int) -> slice:
        cdf = np.cumsum(profile) / profile.sum()
        lo = int(np.searchsorted(cdf, tail, side="right"))
        hi = int(np.searchsorted(cdf, 1.0 - tail))
        return slice(max(lo - margin, 0), min(hi + margin + 1, size))

    return span(counts.sum(1), h), span(counts.sum(0), w)


def _thicken(counts: np.ndarray, k: int) -> np.ndarray:
    """Each pixel takes the max of its k x k neighbourhood (frames [T, H, W])."""
    if k <= 1:
        return counts
    pad = k // 2
    padded = np.pad(counts, ((0, 0), (pad, pad), (pad, pad)))
    out = np.zeros_like(counts)
    for dy in range(k):
        for dx in range(k):
            out = np.maximum(out, padded[:, dy : dy + counts.shape[1], dx : dx + counts.shape[2]])
    return out


def event_rgb(frames: np.ndarray, *, percentile: float = 99.0, crop: bool = True) -> np.ndarray:
    """``frames [T, P, H, W]`` (P = 2: OFF, ON; or 1) as RGB images ``[T, H', W', 3]`` in [0, 1]."""
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim != 4:
        raise ValueError(f"frames must be [T, P, H, W]; got shape {frames.shape}")
    if crop:
        rows, cols = active_box(frames)
        frames = frames[..., rows, cols]
    on = frames[:, -1]
    off = frames[:, 0] if frames.shape[1] > 1 else np.zeros_like(on)
    active = (on + off) > 0
    density = active.mean() if active.size else 0.0
    # sparse events on a big picture: thicken so that one event survives the downscaling
    k = 1 if density > 0.02 else max(1, round(max(on.shape[-2:]) / 250))
    on, off = _thicken(on, k), _thicken(off, k)
    nonzero = np.concatenate([on[on > 0], off[off > 0]])
    top = float(np.percentile(nonzero, percentile)) if nonzero.size else 1.0
    level_on = np.sqrt(np.clip(on / max(top, 1e-12), 0, 1))[..., None]
    level_off = np.sqrt(np.clip(off / max(top, 1e-12), 0, 1))[..., None]
    return np.clip(level_on * ON + level_off * OFF, 0.0, 1.0)
