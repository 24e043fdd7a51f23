"""DSEC optical flow (Gehrig et al. 2021, "DSEC: A Stereo Event Camera Dataset for Driving
Scenarios", RA-L; flow ground truth: Gehrig et al. 2021, "E-RAFT", 3DV): events of the left
Prophesee Gen3.1 camera (640 x 480) with dense optical flow maps for 18 training
recordings (the test set's flow is withheld for the benchmark).

Facts of the published files used here:

- ``events.h5``: datasets ``events/x``, ``events/y``, ``events/t`` (µs from ``t_offset``),
  ``events/p`` (0/1), the scalar ``t_offset`` (µs) and ``ms_to_idx`` (``ms_to_idx[m]`` is the
  index of the first event at or after m ms), so a window is read without scanning;
- the flow maps: 16-bit RGB PNGs, flow_x = (R - 2^15) / 128 and flow_y = (G - 2^15) / 128
  pixels, B > 0 where the flow is valid; a timestamps file whose first line is a comment
  and whose other lines are ``from_us, to_us`` (absolute µs), one per map, in file order.

PNGs of 16 bits per channel are read with pypng (``pip install pypng``, or the ``data``
extra): Pillow reads them as 8 bits.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from spikestack.data.datasets.base import EventDataset, extract, pick_split
from spikestack.data.events import EventFormatError, make_events
from spikestack.data.io._common import data_extra

URL = "https://dsec.ifi.uzh.ch/dsec-datasets/download/ (train_events.zip, train_optical_flow.zip)"
# per-recording files (the same facts Tonic uses; no checksums are published for them)
FILES = "https://download.ifi.uzh.ch/rpg/DSEC/train/"
FLOW_RECORDINGS = (
    "thun_00_a", "zurich_city_01_a", "zurich_city_02_a", "zurich_city_02_c", "zurich_city_02_d",
    "zurich_city_02_e", "zurich_city_03_a", "zurich_city_05_a", "zurich_city_05_b",
    "zurich_city_06_a", "zurich_city_07_a", "zurich_city_08_a", "zurich_city_09_a",
    "zurich_city_10_a", "zurich_city_10_b", "zurich_city_11_a", "zurich_city_11_b",
    "zurich_city_11_c",
)  # fmt: skip


def download_recording(root: Path, rec: str) -> None:
    """Fetch one recording's left events, forward flow maps and their timestamps into
    Tonic's layout under ``root / rec`` (each archive extracted, then removed)."""
    from spikestack.data.download import fetch

    for name, kind in (("events_left", ".zip"), ("optical_flow_forward_event", ".zip"),
                       ("optical_flow_forward_timestamps", ".txt")):  # fmt: skip
        folder = root / rec / name
        target = folder / f"{rec}_{name}{kind}"
        done = (
            target.exists()
            if kind == ".txt"
            else any(folder.glob("*.h5")) or any(folder.glob("*.png"))
        )
        if done:
            continue
        fetch(f"{FILES}{rec}/{rec}_{name}{kind}", target)
        if kind == ".zip":
            extract(target, folder)
            target.unlink()


def _layouts(root: Path) -> dict[str, tuple[Path, Path, Path]]:
    """{recording: (events.h5, flow folder, timestamps file)} for every recording under
    ``root`` with both events and flow, in either layout:

    - DSEC's archives extracted: ``<rec>/events/left/events.h5``, ``<rec>/flow/forward/*.png``
      and ``<rec>/flow/forward_timestamps.txt`` (under any folder, e.g. ``train_events/``
      and ``train_optical_flow/``);
    - Tonic's per-recording files: ``<rec>/events_left/events.h5``,
      ``<rec>/optical_flow_forward_event/*.png`` and
      ``<rec>/optical_flow_forward_timestamps/<rec>_optical_flow_forward_timestamps.txt``.
    """
    found: dict[str, tuple[Path, Path, Path]] = {}
    events = {p.parents[2].name: p for p in root.glob("**/events/left/events.h5")}
    events.update({p.parents[1].name: p for p in root.glob("**/events_left/events.h5")})
    for rec, h5 in sorted(events.items()):
        for flow_glob, stamp_glob in (
            (f"**/{rec}/flow/forward", f"**/{rec}/flow/forward_timestamps.txt"),
            (f"**/{rec}/optical_flow_forward_event",
             f"**/{rec}/optical_flow_forward_timestamps/*.txt"),
        ):  # fmt: skip
            flows = sorted(p for p in root.glob(flow_glob) if p.is_dir())
            stamps = sorted(root.glob(stamp_glob))
            if flows and stamps:
                found[rec] = (h5, flows[0], stamps[0])
                break
    return found


def read_flow_timestamps(path: Path) -> np.ndarray:
    """``[K, 2]`` int64 (from_us, to_us) of a DSEC flow timestamps file."""
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        parts = [v.strip() for v in text.split(",")]
        try:
            start, stop = (int(v) for v in parts)
        except ValueError:
            raise EventFormatError(
                f"{path}:{number}: expected 'from_timestamp_us, to_timestamp_us'; got {text!r}"
            ) from None
        if stop <= start:
            raise EventFormatError(f"{path}:{number}: the window ends before it starts ({text!r})")
        rows.append((start, stop))
    return np.asarray(rows, dtype=np.int64).reshape(-1, 2)


def read_flow_png(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A DSEC flow map: ``(flow [2, H, W] float32 in pixels, valid [H, W] bool)``."""
    png = data_extra("png", "reading DSEC's 16-bit flow PNGs", "pypng")
    try:
        width, height, rows, info = png.Reader(filename=str(path)).asDirect()
        image = np.vstack([np.asarray(row, dtype=np.uint16) for row in rows])
    except (png.Error, OSError, ValueError) as error:
        raise EventFormatError(f"{path}: not a readable PNG ({error})") from None
    if info["bitdepth"] != 16 or info["planes"] != 3:
        raise EventFormatError(
            f"{path}: a DSEC flow map is 16-bit RGB; this PNG has {info['planes']} channel(s) "
            f"of {info['bitdepth']} bits"
        )
    image = image.reshape(height, width, 3)
    flow = (image[..., :2].astype(np.float32) - 2.0**15) / 128.0
    return np.ascontiguousarray(flow.transpose(2, 0, 1)), image[..., 2] > 0


class DSECFlow(EventDataset):
    """DSEC's optical flow ground truth as samples: sample k of a recording is the left
    camera's events in the k-th flow window ``[from_us, to_us)`` (100 ms apart in DSEC),
    and its target ``(flow [2, 480, 640] float32, valid [480, 640] bool)``.

    Expected under ``root``: the recordings in either layout of :func:`_layouts` (DSEC's
    ``train_events.zip`` and ``train_optical_flow.zip`` extracted, or Tonic's
    per-recording files); recordings without flow are left out. ``recordings`` picks some
    by name. ``download=True`` fetches the missing ones of ``recordings`` (default: the 18
    with flow) from DSEC's server into Tonic's layout: several GB per recording, and no
    checksums are published for these files. The only split is ``"train"`` (the published
    flow). Event times are absolute
    µs (``t_offset`` added), so windows and events share one clock. With ``frames`` (e.g.
    ``ToFrame((640, 480, 2), n_time_bins=10)``) the frames of a window are cached like any
    data set's.
    """

    sensor_size = (640, 480, 2)
    splits: ClassVar[tuple[str, ...]] = ("train",)
    classes: list[str] = []

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        split: str = "train",
        recordings: list[str] | None = None,
        download: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(root, **kwargs)
        self.split = pick_split("DSECFlow", self.splits, split)
        found = _layouts(self.root)
        if download:
            wanted = FLOW_RECORDINGS if recordings is None else recordings
            unknown = sorted(set(wanted) - set(FLOW_RECORDINGS))
            if unknown:
                raise ValueError(
                    f"DSEC optical flow: {unknown} have no published flow; the recordings "
                    f"with flow are {list(FLOW_RECORDINGS)}"
                )
            for rec in wanted:
                if rec not in found:
                    download_recording(self.root, rec)
            found = _layouts(self.root)
        if not found:
            raise FileNotFoundError(
                f"DSEC optical flow not found under {self.root}: expected <recording>/events/"
                f"left/events.h5 with <recording>/flow/forward/*.png and forward_timestamps.txt "
                f"(train_events.zip and train_optical_flow.zip from {URL}, extracted), or "
                "Tonic's <recording>/events_left and optical_flow_forward_* folders"
            )
        if recordings is not None:
            missing = sorted(set(recordings) - set(found))
            if missing:
                raise FileNotFoundError(
                    f"DSEC optical flow: no events and flow for {missing} under {self.root}; "
                    f"found {sorted(found)}"
                )
            found = {r: found[r] for r in recordings}
        self.recordings = list(found)
        self.windows: list[tuple[int, int]] = []
        self.flow_files: list[Path] = []
        for rec, (h5, flow_dir, stamps) in found.items():
            windows = read_flow_timestamps(stamps)
            maps = sorted(flow_dir.glob("*.png"))
            if len(maps) != len(windows):
                raise EventFormatError(
                    f"DSEC optical flow, {rec}: {len(maps)} flow maps in {flow_dir} but "
                    f"{len(windows)} windows in {stamps}"
                )
            for k, (window, flow_png) in enumerate(zip(windows, maps, strict=True)):
                self.samples.append((h5, k))
                self.windows.append((int(window[0]), int(window[1])))
                self.flow_files.append(flow_png)
        self._index: dict[Path, tuple[int, np.ndarray]] = {}

    def cache_identity(self, index: int) -> tuple[Path, object]:
        return self.samples[index][0], self.windows[index]

    def target(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return read_flow_png(self.flow_files[index])

    def _offset_and_index(self, h5: Any, path: Path) -> tuple[int, np.ndarray]:
        if path not in self._index:
            for name in ("events/x", "events/y", "events/t", "events/p", "t_offset", "ms_to_idx"):
                if name not in h5:
                    raise EventFormatError(
                        f"{path}: a DSEC events file has {name}; this one has not"
                    )
            self._index[path] = (int(h5["t_offset"][()]), np.asarray(h5["ms_to_idx"][()], np.int64))
        return self._index[path]

    def read(self, index: int) -> np.ndarray:
        from spikestack.data.io.hdf5 import _h5py

        path = self.samples[index][0]
        start, stop = self.windows[index]
        try:
            with _h5py().File(path, "r") as h5:
                offset, ms_to_idx = self._offset_and_index(h5, path)
                n = h5["events/t"].shape[0]
                # the candidate range from ms_to_idx, then exact bounds inside it
                lo_ms, hi_ms = (start - offset) // 1000, -(-(stop - offset) // 1000)
                lo = int(ms_to_idx[min(max(lo_ms, 0), len(ms_to_idx) - 1)]) if lo_ms >= 0 else 0
                hi = int(ms_to_idx[hi_ms]) if 0 <= hi_ms < len(ms_to_idx) else n
                t = np.asarray(h5["events/t"][lo:hi], np.int64) + offset
                a, b = np.searchsorted(t, [start, stop], side="left")
                cols = [np.asarray(h5[f"events/{c}"][lo + a : lo + b]) for c in "xyp"]
        except OSError as error:
            raise EventFormatError(f"{path}: not a readable HDF5 events file ({error})") from None
        x, y, p = cols
        if len(x) and (x.max() >= 640 or y.max() >= 480 or p.max() > 1):
            raise EventFormatError(f"{path}: events outside the 640 x 480 sensor or polarity > 1")
        return make_events(t[a:b], x, y, p, sort=False)
