"""ES-ImageNet (Lin et al. 2021, "ES-ImageNet: A Million Event-Stream Classification
Dataset for Spiking Neural Networks", Frontiers in Neuroscience 15:726582)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from spikestack.data.datasets.base import EventDataset, class_folders
from spikestack.data.datasets.event_folder import parse_labels
from spikestack.data.events import EVENT_DTYPE

URL = "https://openi.pcl.ac.cn/ (ES-ImageNet, see the paper's data availability statement)"


class ESImageNet(EventDataset):
    """ES-ImageNet: ImageNet-1k converted to events by ODG (see :mod:`spikestack.data.odg`);
    1 000 classes, 8 time steps, 224 x 224 (unsure), ~1.26 M train / 50 000 val samples.

    Expected under ``root`` (or ``root/ES-imagenet-0.18``), already extracted (the
    official distribution is a multi-part RAR, which Python cannot extract):
    ``train/<class>/*.npz`` and ``val/<class>/*.npz``, or ``val/*.npz`` with
    ``vallabel.txt`` (``name class`` lines). Each ``.npz`` holds ``pos`` and ``neg``, arrays
    of rows ``(x, y, t)`` with t the frame index 0..7 (unsure: this is the layout the
    public loaders read). Events come back with t = frame index (1 "µs" per frame),
    p = 1 for ``pos`` and 0 for ``neg``, sorted by t.
    """

    sensor_size = (224, 224, 2)

    def __init__(self, root: str | os.PathLike[str], *, train: bool = True, **kwargs: Any) -> None:
        super().__init__(root, **kwargs)
        self.train = train
        base = self.root / "ES-imagenet-0.18"
        base = base if base.is_dir() else self.root
        folder = base / ("train" if train else "val")
        if not folder.is_dir():
            raise FileNotFoundError(
                f"ES-ImageNet not found: expected {folder} (extracted from the official RAR "
                f"parts, see {URL}); spikestack does not download or unpack RAR files"
            )
        labels = base / ("trainlabel.txt" if train else "vallabel.txt")
        if any(p.is_dir() for p in folder.iterdir()):
            self.classes, self.samples = class_folders(folder, extensions=(".npz",))
        elif labels.exists():
            rows = parse_labels(labels)
            self.samples = [(self._resolve(folder, name), int(c)) for name, c in rows]
            self.classes = [str(i) for i in range(1000)]
        else:
            raise FileNotFoundError(
                f"ES-ImageNet: {folder} has no class folders and {labels} is missing"
            )

    @staticmethod
    def _resolve(folder: Path, name: str) -> Path:
        path = folder / Path(name).name
        return path if path.suffix == ".npz" else path.with_suffix(".npz")

    def read(self, index: int) -> np.ndarray:
        with np.load(self.samples[index][0], allow_pickle=False) as f:
            pos, neg = np.asarray(f["pos"]).reshape(-1, 3), np.asarray(f["neg"]).reshape(-1, 3)
        rows = np.concatenate([pos, neg])
        events = np.empty(len(rows), dtype=EVENT_DTYPE)
        events["x"], events["y"], events["t"] = rows[:, 0], rows[:, 1], rows[:, 2]
        events["p"] = np.r_[np.ones(len(pos), np.int8), np.zeros(len(neg), np.int8)]
        return events[np.argsort(events["t"], kind="stable")]
