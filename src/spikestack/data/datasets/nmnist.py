"""N-MNIST (Orchard et al. 2015, "Converting static image datasets to spiking
neuromorphic datasets using saccades", Frontiers in Neuroscience 9:437)."""

from __future__ import annotations

import os
from typing import Any, ClassVar

import numpy as np

from spikestack.data.datasets.base import (
    EventDataset,
    Resource,
    class_folders,
    locate,
    pick_split,
)

# md5 of the official archives (the same values Tonic checks), and their Mendeley Data files.
MD5 = {"Train": "20959b8e626244a1b502305a9e6e2031", "Test": "69ca8762b2fe404d9b9bad1103e97832"}
FILES = "https://data.mendeley.com/public-files/datasets/468j46mzdv/files/"
DOWNLOAD = {
    "Train": FILES + "39c25547-014b-4137-a934-9d29fa53c7a0/file_downloaded",
    "Test": FILES + "05a4d654-7e03-4c15-bdfa-9bb2bcbea494/file_downloaded",
}
URL = "https://www.garrickorchard.com/datasets/n-mnist (mirror: Mendeley Data 468j46mzdv)"


class NMNIST(EventDataset):
    """N-MNIST: MNIST digits recorded by an ATIS camera on a pan-tilt unit in three
    saccades; 34 x 34 pixels, 2 polarities, ~300 ms per sample, 60 000 train / 10 000
    test samples, 10 classes. ``split`` is ``"train"`` or ``"test"``.

    Expected under ``root``: the extracted folders ``Train/<digit>/*.bin`` and
    ``Test/<digit>/*.bin``, or the official archives ``Train.zip`` / ``Test.zip``
    (extracted once; the archives are md5-checked first). ``download=True`` fetches the
    archive from Mendeley Data when it is missing (verified, resumable). Events are read
    with :func:`spikestack.data.read_events` (5-byte ``.bin``).
    """

    sensor_size = (34, 34, 2)
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
        self.split = pick_split("NMNIST", self.splits, split)
        name = self.split.capitalize()  # the official folders: Train/, Test/
        folder = locate(
            self.root,
            name,
            [
                Resource(f"{name}.zip", MD5[name], name, url=DOWNLOAD[name]),
                Resource(f"{name.lower()}.zip", MD5[name], name),
            ],
            dataset="N-MNIST",
            url=URL,
            download=download,
        )
        self.classes, self.samples = class_folders(folder, extensions=(".bin",))

    def read(self, index: int) -> np.ndarray:
        from spikestack.data import read_events

        return read_events(self.samples[index][0], format="nmnist")
