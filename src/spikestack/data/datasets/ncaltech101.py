"""N-Caltech101 (Orchard et al. 2015, same paper as N-MNIST)."""

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

URL = "https://www.garrickorchard.com/datasets/n-caltech101 (mirror: Mendeley Data cy6cvx3ryv)"
# Mendeley Data's archive (it wraps Caltech101.zip, Caltech101_annotations.zip and the
# readme) and its md5: the same facts Tonic uses
ARCHIVE = "N-Caltech101-archive.zip"
MD5 = "66201824eabb0239c7ab992480b50ba3"
DOWNLOAD = (
    "https://data.mendeley.com/public-files/datasets/cy6cvx3ryv/files/"
    "36b5c52a-b49d-4853-addb-a836a8883e49/file_downloaded"
)


class NCaltech101(EventDataset):
    """N-Caltech101: Caltech101 images recorded by an ATIS camera in saccades; 101
    categories (100 objects + ``BACKGROUND_Google``), 8 246 samples, no official split.
    Recordings differ in size (up to about 240 x 180), so ``sensor_size`` is None. The
    only split is ``"all"``.

    Expected under ``root``: ``Caltech101/<class>/image_XXXX.bin``, or the archive
    ``Caltech101.zip`` of the official page (no md5 published for it: presence only), or
    Mendeley Data's ``N-Caltech101-archive.zip`` that wraps it (md5-checked; both are
    extracted once). ``download=True`` fetches the Mendeley archive when none is there.
    """

    sensor_size = None
    splits: ClassVar[tuple[str, ...]] = ("all",)

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        split: str = "all",
        download: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(root, **kwargs)
        self.split = pick_split("NCaltech101", self.splits, split)
        folder = locate(
            self.root,
            "Caltech101",
            [
                Resource("Caltech101.zip", None, "Caltech101"),
                Resource(ARCHIVE, MD5, None, url=DOWNLOAD),  # wraps Caltech101.zip
            ],
            dataset="N-Caltech101",
            url=URL,
            download=download,
        )
        self.classes, self.samples = class_folders(folder, extensions=(".bin",))

    def read(self, index: int) -> np.ndarray:
        from spikestack.data import read_events

        return read_events(self.samples[index][0], format="nmnist")
