"""ES-ImageNet (Lin et al. 2021, "ES-ImageNet: A Million Event-Stream Classification
Dataset for Spiking Neural Networks", Frontiers in Neuroscience 15:726582)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from spikestack.data.datasets.base import EventDataset, class_folders, pick_split
from spikestack.data.events import EVENT_DTYPE

URL = "https://openi.pcl.ac.cn/ (ES-ImageNet, see the paper's data availability statement)"


CANVAS = 254  # ODG resizes the longer image side to 254 pixels
CROP_START, SIZE, STEPS = 16, 224, 8  # the official loader keeps [16, 240) of the centred canvas


class ESImageNet(EventDataset):
    """ES-ImageNet: ImageNet-1k converted to events by ODG (see :mod:`spikestack.data.odg`);
    1 000 classes, 8 time steps, 224 x 224, ~1.26 M train / 50 000 val samples.
    ``split="train"`` reads ``train/``; ``split="test"`` reads ``val/``, the held-out
    set on which the paper reports accuracy (ImageNet's validation images; there is no
    separate test set, so it is this data set's test split).

    Expected under ``root`` (or ``root/ES-imagenet-0.18``), already extracted (the
    official distribution is a multi-part RAR, which Python cannot extract):
    ``train/`` and ``val/`` with ``trainlabel.txt`` / ``vallabel.txt`` beside them, whose
    lines are ``classN/classN_k.npz N a b`` (file, class, and the resized image's height a
    and width b). Each ``.npz`` holds ``pos`` and ``neg``: rows ``(row, col, t)`` of ON and
    OFF events on the ODG canvas, t = 1..8. As the authors' loader does, the image is
    centred on the 254 x 254 canvas (row + (254 - a) // 2, col + (254 - b) // 2) and
    [16, 240) is kept: events come back with x = column, y = row in 0..223,
    t = frame index 0..7 (1 "µs" per frame), p = 1 for ``pos`` and 0 for ``neg``. Without a
    labels file, class sub-folders are read and images are taken as 254 x 254.
    """

    sensor_size = (SIZE, SIZE, 2)
    splits: ClassVar[tuple[str, ...]] = ("train", "test")

    def __init__(
        self, root: str | os.PathLike[str], *, split: str = "train", **kwargs: Any
    ) -> None:
        super().__init__(root, **kwargs)
        self.split = pick_split("ESImageNet", self.splits, split)
        train = self.split == "train"
        base = self.root / "ES-imagenet-0.18"
        base = base if base.is_dir() else self.root
        folder = base / ("train" if train else "val")
        if not folder.is_dir():
            raise FileNotFoundError(
                f"ES-ImageNet not found: expected {folder} (extracted from the official RAR "
                f"parts, see {URL}); spikestack does not download or unpack RAR files"
            )
        labels = base / ("trainlabel.txt" if train else "vallabel.txt")
        self.image_sizes: list[tuple[int, int]] = []
        if labels.exists():
            self._from_labels(folder, labels)
        elif any(p.is_dir() for p in folder.iterdir()):
            self.classes, self.samples = class_folders(folder, extensions=(".npz",))
            self.image_sizes = [(CANVAS, CANVAS)] * len(self.samples)
        else:
            raise FileNotFoundError(
                f"ES-ImageNet: {labels} is missing and {folder} has no class folders"
            )

    def _from_labels(self, folder: Path, labels: Path) -> None:
        self.classes = [str(i) for i in range(1000)]
        for number, line in enumerate(labels.read_text().splitlines(), start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 4:
                raise ValueError(
                    f"{labels}:{number}: expected 'file class height width'; got {line!r}"
                )
            name, label, a, b = fields[0], int(fields[1]), int(fields[2]), int(fields[3])
            self.samples.append((folder / Path(name).with_suffix(".npz"), label))
            self.image_sizes.append((a, b))

    def read(self, index: int) -> np.ndarray:
        with np.load(self.samples[index][0], allow_pickle=False) as f:
            pos, neg = np.asarray(f["pos"]).reshape(-1, 3), np.asarray(f["neg"]).reshape(-1, 3)
        rows = np.concatenate([pos, neg]).astype(np.int64)
        a, b = self.image_sizes[index]
        y = rows[:, 0] + (CANVAS - a) // 2 - CROP_START
        x = rows[:, 1] + (CANVAS - b) // 2 - CROP_START
        t = rows[:, 2] - 1
        p = np.r_[np.ones(len(pos), np.int8), np.zeros(len(neg), np.int8)]
        keep = (x >= 0) & (x < SIZE) & (y >= 0) & (y < SIZE) & (t >= 0) & (t < STEPS)
        events = np.empty(int(keep.sum()), dtype=EVENT_DTYPE)
        events["x"], events["y"], events["t"], events["p"] = x[keep], y[keep], t[keep], p[keep]
        return events[np.argsort(events["t"], kind="stable")]
