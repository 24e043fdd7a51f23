"""CIFAR10-DVS (Li et al. 2017, "CIFAR10-DVS: An Event-Stream Dataset for Object
Classification", Frontiers in Neuroscience 11:309)."""

from __future__ import annotations

import os
import re
from typing import Any, ClassVar

import numpy as np

from spikestack.data.datasets.base import EventDataset, Resource, locate, pick_split

URL = "https://figshare.com/articles/dataset/CIFAR10-DVS_New/4724671"
# Tonic's packaging on figshare: one zip of the ten class archives, the recordings as
# AEDAT 4 files; its md5 (the same facts Tonic uses)
PACKAGED = ("CIFAR10DVS.zip", "ce3a4a0682dc0943703bd8f749a7701c",
            "https://figshare.com/ndownloader/files/38023437")  # fmt: skip
CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip


def _index(name: str) -> int:
    numbers = re.findall(r"\d+", name)
    return int(numbers[-1]) if numbers else -1


class CIFAR10DVS(EventDataset):
    """CIFAR10-DVS: 10 000 CIFAR-10 images (1 000 per class) moved on a monitor in front
    of a DVS128; 128 x 128, 2 polarities, AEDAT 2.0 files.

    Expected under ``root``: the folders ``<class>/cifar10_<class>_<n>.aedat`` for the ten
    classes, or the ten official archives ``<class>.zip`` (extracted once; md5 not
    recorded here, presence only). The packaging Tonic distributes is read too: the same
    class folders holding ``.aedat4`` files, in ``CIFAR10DVS.zip`` (md5-checked, extracted
    with the class archives inside it); ``download=True`` fetches that zip from figshare
    when nothing is there.

    Splits (no official one exists): the usual 9:1 per class, deterministic: files are
    sorted by their trailing number, the first ``train_ratio`` (90 %) of each class form
    ``split="train"`` and the rest ``split="test"``.

    The address layout is read as jAER's DAVIS layout (y = bits 30-22, x = bits 21-12,
    p = bit 11), which is what the published loaders use for these files; no flip of x
    or polarity is applied (unsure: some loaders use x -> 127 - x, p -> 1 - p).
    """

    sensor_size = (128, 128, 2)
    splits: ClassVar[tuple[str, ...]] = ("train", "test")
    split_rule: ClassVar[str] = (
        "no published split: per class, files sorted by their number, the first "
        "round(train_ratio x n) are train, the rest test"
    )

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        split: str = "train",
        train_ratio: float = 0.9,
        download: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(root, **kwargs)
        self.split = pick_split("CIFAR10DVS", self.splits, split)
        if not 0.0 < train_ratio < 1.0:
            raise ValueError(f"train_ratio must be in (0, 1); got {train_ratio}")
        self.train_ratio = train_ratio
        self.classes = list(CLASSES)
        for label, name in enumerate(CLASSES):
            folder = locate(
                self.root,
                name,
                [Resource(f"{name}.zip", None, name), Resource(*PACKAGED[:2], None, PACKAGED[2])],
                dataset="CIFAR10-DVS",
                url=URL,
                download=download,
            )
            files = sorted(
                (f for f in folder.rglob("*") if f.suffix in (".aedat", ".aedat4") and f.is_file()),
                key=lambda f: _index(f.stem),
            )
            cut = int(round(train_ratio * len(files)))
            chosen = files[:cut] if self.split == "train" else files[cut:]
            self.samples += [(f, label) for f in chosen]

    def read(self, index: int) -> np.ndarray:
        from spikestack.data import read_events

        path = self.samples[index][0]
        if path.suffix == ".aedat4":  # Tonic's packaging
            return read_events(path, format="aedat4")
        return read_events(path, format="aedat2", layout="davis", sensor_size=self.sensor_size)
