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
    """

    sensor_size = (128, 128, 2)
    classes = list(CLASSES)
    splits: ClassVar[tuple[str, ...]] = ("train", "test")

    def __init__(
        self, root: str | os.PathLike[str], *, split: str = "train", **kwargs: Any
    ) -> None:
        super().__init__(root, **kwargs)
        self.split = pick_split("DVS128Gesture", self.splits, split)
        train = self.split == "train"
        folder = locate(
            self.root,
            "DvsGesture",
            [Resource("DvsGesture.tar.gz", None, "DvsGesture")],
            dataset="DVS128 Gesture",
            url=URL,
        )
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
        self.intervals: list[tuple[int, int]] = []
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
        self._last: tuple[Path, np.ndarray] | None = None

    def cache_identity(self, index: int) -> tuple[Path, object]:
        return self.samples[index][0], self.intervals[index]

    def read(self, index: int) -> np.ndarray:
        from spikestack.data import read_events

        path = self.samples[index][0]
        if self._last is None or self._last[0] != path:
            self._last = (path, read_events(path, format="aedat3"))
        events = self._last[1]
        start, end = self.intervals[index]
        lo, hi = np.searchsorted(events["t"], [start, end], side="left")
        return events[lo:hi].copy()
