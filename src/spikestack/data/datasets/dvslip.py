"""DVS-Lip (Tan et al. 2022, "Multi-grained spatio-temporal features perceived network for
event-based lip-reading", CVPR)."""

from __future__ import annotations

import os
from typing import Any, ClassVar

import numpy as np

from spikestack.data.datasets.base import EventDataset, Resource, class_folders, locate, pick_split

MD5 = "2dcb959255122d4cdeb6094ca282494b"  # DVS-Lip.zip (the value Tonic checks)
URL = "https://sites.google.com/view/event-based-lipreading (DVS-Lip.zip, Google Drive)"


class DVSLip(EventDataset):
    """Lip movements of 100 words recorded with a DAVIS346 and cropped to 128 x 128 around
    the mouth; 14,896 train / 4,975 test samples.

    Expected under ``root``: ``DVS-Lip/train/<word>/*.npy`` and ``DVS-Lip/test/<word>/*.npy``
    (structured arrays with fields x, y, t, p), or ``DVS-Lip.zip`` (md5-checked, extracted
    once). Classes are the word folders in sorted order (the paper's 100 words).
    """

    sensor_size = (128, 128, 2)
    splits: ClassVar[tuple[str, ...]] = ("train", "test")

    def __init__(
        self, root: str | os.PathLike[str], *, split: str = "train", **kwargs: Any
    ) -> None:
        super().__init__(root, **kwargs)
        self.split = pick_split("DVSLip", self.splits, split)
        base = locate(
            self.root, "DVS-Lip", [Resource("DVS-Lip.zip", MD5, "DVS-Lip")],
            dataset="DVS-Lip", url=URL,
        )  # fmt: skip
        folder = base / self.split
        if not folder.is_dir():
            raise FileNotFoundError(f"DVS-Lip: expected the folder {folder} (train/ and test/)")
        self.classes, self.samples = class_folders(folder, extensions=(".npy",))

    def read(self, index: int) -> np.ndarray:
        from spikestack.data import read_events

        return read_events(self.samples[index][0], format="npy")
