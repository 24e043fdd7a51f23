"""DVS128 Gesture (Amir et al. 2017, "A Low Power, Fully Event-Based Gesture
Recognition System", CVPR)."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from spikestack.data.datasets.base import EventDataset, Resource, locate, pick_split

URL = "https://research.ibm.com/interactive/dvsgesture/ (IBM Box: DvsGesture.tar.gz)"
# Tonic's packaging on figshare (one .npy per gesture, times in ms) and its md5s: the same
# facts Tonic uses; the only packaging with a stable URL
PACKAGED = {
    "train": ("ibmGestureTrain", "3a8f0d4120a166bac7591f77409cb105",
              "https://figshare.com/ndownloader/files/38022171"),
    "test": ("ibmGestureTest", "56070e45dadaa85fff82e0fbfbc06de5",
             "https://figshare.com/ndownloader/files/38020584"),
}  # fmt: skip
CLASSES = (
    "hand_clapping", "right_hand_wave", "left_hand_wave", "right_arm_clockwise",
    "right_arm_counter_clockwise", "left_arm_clockwise", "left_arm_counter_clockwise",
    "arm_roll", "air_drums", "air_guitar", "other_gestures",
)  # fmt: skip


class DVS128Gesture(EventDataset):
    """DVS128 Gesture: 29 subjects x 3 lighting conditions, 11 gestures, DVS128
    (128 x 128, 2 polarities), AEDAT 3.1 recordings.

    Expected under ``root``: ``DvsGesture/userNN_<lighting>.aedat`` with their
    ``userNN_<lighting>_labels.csv`` (``class,startTime_usec,endTime_usec``, classes 1..11)
    and ``trials_to_train.txt`` / ``trials_to_test.txt``, or the official archive
    ``DvsGesture.tar.gz`` (extracted once; md5 not recorded here, presence only). Without
    the trial lists, users 1-23 are ``split="train"`` and 24-29 ``split="test"`` (the
    official split).

    Each labelled interval is one sample: the events with start <= t < end; labels are
    0-based (csv class - 1). The last file read is kept in memory, since consecutive
    samples usually come from the same recording.

    Where the official files are absent, the packaging Tonic distributes is read:
    ``ibmGestureTrain/userNN_<lighting>/<label>.npy`` (and ``ibmGestureTest``), each an
    (N, 4) array of x, y, p and t in milliseconds (the gestures already cut; times become
    µs here, so they carry ms precision), or its archive ``ibmGestureTrain.tar.gz`` /
    ``ibmGestureTest.tar.gz`` (md5-checked, extracted once). ``download=True`` fetches that
    archive from figshare when neither packaging is there.
    """

    sensor_size = (128, 128, 2)
    classes = list(CLASSES)
    splits: ClassVar[tuple[str, ...]] = ("train", "test")

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        split: str = "train",
        download: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(root, **kwargs)
        self.split = pick_split("DVS128Gesture", self.splits, split)
        self.intervals: list[tuple[int, int]] = []
        self._last: tuple[Path, np.ndarray] | None = None
        self.packaged = False
        try:
            folder = locate(
                self.root,
                "DvsGesture",
                [Resource("DvsGesture.tar.gz", None, "DvsGesture")],
                dataset="DVS128 Gesture",
                url=URL,
            )
        except FileNotFoundError as official:
            name, md5, link = PACKAGED[self.split]
            try:
                packaged = locate(
                    self.root, name, [Resource(f"{name}.tar.gz", md5, name, url=link)],
                    dataset="DVS128 Gesture (Tonic's packaging)", url=link, download=download,
                )  # fmt: skip
            except FileNotFoundError as error:
                raise FileNotFoundError(f"{official} Or else: {error}") from None
            self._read_packaged(packaged)
            return
        self._read_official(folder)

    def _read_packaged(self, folder: Path) -> None:
        self.packaged = True
        for recording in sorted(p for p in folder.iterdir() if p.is_dir()):
            if not re.fullmatch(r"user\d+_.+", recording.name):
                continue
            for f in sorted(recording.glob("*.npy"), key=lambda f: (len(f.stem), f.stem)):
                if not f.stem.isdigit() or int(f.stem) >= len(CLASSES):
                    raise ValueError(
                        f"DVS128 Gesture: {f} is not named by a class number 0-{len(CLASSES) - 1}"
                    )
                self.samples.append((f, int(f.stem)))
        if not self.samples:
            raise FileNotFoundError(
                f"DVS128 Gesture: no userNN_<lighting>/<label>.npy under {folder}"
            )

    def _read_official(self, folder: Path) -> None:
        train = self.split == "train"
        trials = folder / ("trials_to_train.txt" if train else "trials_to_test.txt")
        if trials.exists():
            names = [n.strip() for n in trials.read_text().splitlines() if n.strip()]
            files = [folder / n for n in names]
        else:
            files = [
                f
                for f in sorted(folder.glob("user*.aedat"))
                if (int(re.findall(r"\d+", f.name)[0]) <= 23) == train
            ]
        for f in files:
            labels = f.with_name(f.stem + "_labels.csv")
            if not f.exists() or not labels.exists():
                raise FileNotFoundError(f"DVS128 Gesture: missing {f} or {labels}")
            with open(labels, newline="") as fh:
                for row in csv.reader(fh):
                    if not row or not row[0].strip().isdigit():
                        continue  # header
                    cls, start, end = (int(v) for v in row[:3])
                    self.samples.append((f, cls - 1))
                    self.intervals.append((start, end))

    def cache_identity(self, index: int) -> tuple[Path, object]:
        return self.samples[index][0], None if self.packaged else self.intervals[index]

    def read(self, index: int) -> np.ndarray:
        from spikestack.data import read_events

        path = self.samples[index][0]
        if self.packaged:
            return _packaged_events(path)
        if self._last is None or self._last[0] != path:
            self._last = (path, read_events(path, format="aedat3"))
        events = self._last[1]
        start, end = self.intervals[index]
        lo, hi = np.searchsorted(events["t"], [start, end], side="left")
        return events[lo:hi].copy()


def _packaged_events(path: Path) -> np.ndarray:
    """One gesture of Tonic's packaging: an (N, 4) array of x, y, p, t (ms) -> events (µs)."""
    from spikestack.data.events import EventFormatError, make_events

    try:
        table = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise EventFormatError(f"{path}: not a readable .npy file ({error})") from None
    if table.ndim != 2 or table.shape[1] != 4 or table.dtype.kind not in "iuf":
        raise EventFormatError(
            f"{path}: expected an (N, 4) numeric array of x, y, p, t; got {table.dtype} {table.shape}"
        )
    if table.dtype.kind == "f" and not np.isfinite(table).all():
        raise EventFormatError(f"{path}: the array holds values that are not finite")
    x, y, p = (np.rint(table[:, i]).astype(np.int64) for i in range(3))
    t = np.rint(table[:, 3].astype(np.float64) * 1000.0).astype(np.int64)
    outside = (x < 0) | (x >= 128) | (y < 0) | (y >= 128) | ((p != 0) & (p != 1)) | (t < 0)
    if outside.any():
        raise EventFormatError(
            f"{path}: {int(outside.sum())} events outside the 128 x 128 sensor, with a polarity "
            "other than 0/1, or before time 0"
        )
    return make_events(t, x, y, p)
