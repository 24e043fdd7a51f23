"""Image -> event conversion by ODG, and Edge-Integral reconstruction (ES-ImageNet).

Lin, Y., Ding, W., Qiang, S., Deng, L., Li, G. "ES-ImageNet: A Million Event-Stream
Classification Dataset for Spiking Neural Networks", Frontiers in Neuroscience 15 (2021).

ODG (Omnidirectional Discrete Gradient) simulates a DVS looking at a still image while
the image moves along a fixed 9-position trajectory (8 moves of one or two pixels in
varying directions, so edges of every orientation fire):

1. resize the image so its longer side is ``resize`` (254 in ES-ImageNet; nearest
   neighbour, aspect ratio kept) and keep the V channel of HSV, V = max(R, G, B) in [0, 1];
2. place the image at position p_t for t = 0..8 (the published positions, in (x, y) pixels
   relative to the first: (0,0) (2,-1) (1,1) (0,0) (1,-1) (2,1) (0,0) (1,0) (1,1)); the
   view at step t is C_t(u) = V(u - p_t);
3. D_t(u) = C_t(u) - C_{t-1}(u), a discrete directional gradient along the move
   m_t = p_t - p_{t-1}: an ON event where D_t > threshold, an OFF event where
   D_t < -threshold (threshold 0.18 in ES-ImageNet; at most one event per pixel and step);
   pixels outside the image in either placement give no event (no edges from the image
   border moving);
4. keep the central ``crop x crop`` window (ES-ImageNet keeps canvas rows and columns
   17..239, i.e. about 224 x 224), T = 8 steps.

ES-ImageNet also drops images that give fewer than 1,000 events (``convert_folder``'s
``min_events``). The trajectory, resize, threshold and crop above are the values of the
authors' released converter; the resizing of the shorter side and the exact crop offset
(``(resize - crop) // 2`` here, 16 there) may differ by a pixel.

Events carry t = (step - 1) * ``time_step_us`` for steps 1..T, so ``ToFrame(..., time_window=
time_step_us)`` gives the T frames back.

Edge-Integral reconstruction (the paper's check that the events keep the image content):
each step's signed event map S_t in {-1, 0, 1} approximates D_t / threshold, minus a
gradient along m_t, so integrating it along m_t from the border, R_t(u) = R_t(u - m_t) - S_t(u),
estimates V / threshold up to a constant per integration line (and a shift of at most the
trajectory's reach); the grey image is the mean of R_t over the steps (here: integration from
the border with zero constant).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spikestack.data.events import EVENT_DTYPE, check_events

# The published positions as moves (dx, dy) between consecutive placements.
DEFAULT_TRAJECTORY = ((2, -1), (-1, 2), (-1, -1), (1, -1), (1, 2), (-2, -1), (1, 0), (0, 1))
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def load_image(path: str | os.PathLike[str]) -> np.ndarray:
    """An image file as float RGB ``[H, W, 3]`` in [0, 1] (Pillow, else matplotlib)."""
    try:
        from PIL import Image

        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"), dtype=np.float64) / 255.0
    except ImportError:  # pragma: no cover - Pillow is a matplotlib dependency
        import matplotlib.image as mpimg

        arr = np.asarray(mpimg.imread(path), dtype=np.float64)
        arr = arr / 255.0 if arr.max() > 1.0 else arr
        return np.repeat(arr[..., None], 3, axis=2) if arr.ndim == 2 else arr[..., :3]


@dataclass(frozen=True)
class ODG:
    """The ODG converter; call it on an image (``[H, W]`` grey or ``[H, W, 3]`` RGB in
    [0, 1], or uint8) to get canonical events on a ``(crop, crop, 2)`` sensor."""

    resize: int = 254
    crop: int = 224
    threshold: float = 0.18
    trajectory: tuple[tuple[int, int], ...] = DEFAULT_TRAJECTORY
    time_step_us: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "trajectory", tuple(tuple(int(v) for v in m) for m in self.trajectory)
        )
        if not self.trajectory or any(
            len(m) != 2 or max(map(abs, m)) not in (1, 2) for m in self.trajectory
        ):
            raise ValueError(
                f"trajectory must be non-empty moves (dx, dy) of 1 or 2 pixels; got {self.trajectory}"
            )
        reach = int(np.abs(np.cumsum(np.array(self.trajectory), axis=0)).max())
        if not 0 < self.crop <= self.resize - 2 * reach:
            raise ValueError(
                f"crop must be in 1..resize - 2 * {reach} (the trajectory's reach); "
                f"got crop={self.crop}, resize={self.resize}"
            )
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1) (V is in [0, 1]); got {self.threshold}")
        if self.time_step_us < 1:
            raise ValueError(f"time_step_us must be >= 1; got {self.time_step_us}")

    @property
    def sensor_size(self) -> tuple[int, int, int]:
        return (self.crop, self.crop, 2)

    def value_channel(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """V = max(R, G, B) resized (nearest) so the longer side is ``resize``, placed at the
        top left of a ``[resize, resize]`` canvas; returns ``(canvas, inside)`` where
        ``inside`` marks the pixels that belong to the image."""
        img = np.asarray(image)
        img = img / 255.0 if img.dtype == np.uint8 else img.astype(np.float64)
        if img.ndim == 2:
            img = img[..., None]
        if img.ndim != 3 or img.shape[2] not in (1, 3, 4) or min(img.shape[:2]) < 1:
            raise ValueError(f"image must be [H, W], [H, W, 3] or [H, W, 4]; got shape {img.shape}")
        value = img[..., :3].max(axis=2)
        h, w = value.shape
        scale = self.resize / max(h, w)
        new_h, new_w = max(1, int(h * scale)), max(1, int(w * scale))
        rows = np.minimum((np.arange(new_h) + 0.5) / scale, h - 1).astype(np.int64)
        cols = np.minimum((np.arange(new_w) + 0.5) / scale, w - 1).astype(np.int64)
        canvas = np.zeros((self.resize, self.resize))
        inside = np.zeros((self.resize, self.resize), dtype=bool)
        canvas[:new_h, :new_w] = np.clip(value[rows[:, None], cols[None, :]], 0.0, 1.0)
        inside[:new_h, :new_w] = True
        return canvas, inside

    def signed_frames(self, image: np.ndarray) -> np.ndarray:
        """``[T, crop, crop]`` int8: +1 ON, -1 OFF, 0 none, one map per trajectory step."""
        value, inside = self.value_channel(image)
        margin = (self.resize - self.crop) // 2
        c = self.crop

        def view(plane: np.ndarray, p: np.ndarray) -> np.ndarray:
            # C_t(u) = V(u - p_t) on the crop window
            return plane[margin - p[1] : margin - p[1] + c, margin - p[0] : margin - p[0] + c]

        positions = np.vstack([[0, 0], np.cumsum(np.array(self.trajectory), axis=0)])
        out = np.zeros((len(self.trajectory), c, c), dtype=np.int8)
        for t in range(1, len(positions)):
            diff = view(value, positions[t]) - view(value, positions[t - 1])
            both = view(inside, positions[t]) & view(inside, positions[t - 1])
            out[t - 1] = ((diff > self.threshold) & both).astype(np.int8) - (
                (diff < -self.threshold) & both
            )
        return out

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Canonical events (p = 1 ON, 0 OFF) sorted by t, then y, then x."""
        signed = self.signed_frames(image)
        t, y, x = np.nonzero(signed)
        events = np.empty(len(t), dtype=EVENT_DTYPE)
        events["t"] = t.astype(np.int64) * self.time_step_us
        events["x"], events["y"] = x, y
        events["p"] = signed[t, y, x] > 0
        return events

    def to_signed_frames(self, events: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`__call__`'s layout: events -> ``[T, crop, crop]`` int8."""
        ev = check_events(events)
        out = np.zeros((len(self.trajectory), self.crop, self.crop), dtype=np.int8)
        out[ev["t"] // self.time_step_us, ev["y"], ev["x"]] = np.where(ev["p"] > 0, 1, -1)
        return out


def _integrate(signed: np.ndarray, move: tuple[int, int]) -> np.ndarray:
    """R(u) = R(u - m) - S(u), R = 0 before the border (integration along the move m).

    With C_t(u) = V(u - p_t), the event map is S_t ≈ (V(w - m) - V(w)) / threshold at
    w = u - p_{t-1}, so V grows by -S along m.
    """
    dx, dy = move
    s = signed.astype(np.float64)
    r = -s.copy()  # R(u - m) = 0 where u - m is outside the crop
    h, w = s.shape
    if dy == 0:
        for x in range(w) if dx > 0 else range(w - 1, -1, -1):
            if 0 <= x - dx < w:
                r[:, x] = r[:, x - dx] - s[:, x]
        return r
    for y in range(h) if dy > 0 else range(h - 1, -1, -1):
        if not 0 <= y - dy < h:
            continue
        prev = r[y - dy]
        if dx > 0:
            r[y, dx:] = prev[:-dx] - s[y, dx:]
        elif dx < 0:
            r[y, :dx] = prev[-dx:] - s[y, :dx]
        else:
            r[y] = prev - s[y]
    return r


def reconstruct(events_or_frames: np.ndarray, *, odg: ODG | None = None) -> np.ndarray:
    """Edge-Integral reconstruction: a grey ``[crop, crop]`` image (in threshold units, up
    to an offset) from ODG events or from :meth:`ODG.signed_frames`."""
    odg = odg or ODG()
    data = np.asarray(events_or_frames)
    signed = odg.to_signed_frames(data) if data.dtype.names else data
    if signed.shape[0] != len(odg.trajectory):
        raise ValueError(
            f"expected {len(odg.trajectory)} steps (the trajectory); got {signed.shape[0]}"
        )
    return np.mean([_integrate(s, m) for s, m in zip(signed, odg.trajectory, strict=True)], axis=0)


def convert_folder(
    in_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    odg: ODG | None = None,
    ext: str = ".npz",
    progress: bool = True,
    min_events: int = 0,
) -> list[Path]:
    """Convert every image under ``in_dir`` (recursively) into one event file in ``out_dir``
    with the same relative path and extension ``ext`` (``.npz``, ``.npy`` or ``.h5``),
    written atomically with :func:`spikestack.data.write_events`. Returns the paths written.
    Images giving fewer than ``min_events`` events are skipped with a warning (ES-ImageNet
    dropped those under 1,000).
    """
    from tqdm import tqdm

    from spikestack.data import write_events

    odg = odg or ODG()
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    if not in_dir.is_dir():
        raise FileNotFoundError(f"in_dir {in_dir} is not a folder")
    images = sorted(
        p for p in in_dir.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )
    written = []
    for path in tqdm(images, desc="ODG", unit="img", disable=not progress):
        target = (out_dir / path.relative_to(in_dir)).with_suffix(ext)
        sensor = odg.sensor_size if ext != ".npy" else None
        events = odg(load_image(path))
        if len(events) < min_events:
            warnings.warn(
                f"{path}: {len(events)} ODG events < min_events={min_events}; skipped", stacklevel=2
            )
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        write_events(target, events, sensor_size=sensor)
        written.append(target)
    return written
