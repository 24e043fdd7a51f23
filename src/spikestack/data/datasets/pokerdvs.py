"""POKER-DVS (Serrano-Gotarredona and Linares-Barranco 2015, "Poker-DVS and MNIST-DVS. Their
history, how they were made, and other details", Frontiers in Neuroscience 9:481)."""

from __future__ import annotations

import os
from typing import Any, ClassVar

import numpy as np

from spikestack.data.datasets.base import EventDataset, Resource, class_folders, locate, pick_split

# the archives of the packaging Tonic distributes (and their md5s, the same facts Tonic checks)
MD5 = {"train": "412bcfb96826e4fcb290558e8c150aae", "test": "eef2bf7d0d3defae89a6fa98b07c17af"}
URL = "http://www2.imse-cnm.csic.es/caviar/POKERDVS.html (npy packaging: Tonic's pips_*.tar.gz)"


class POKERDVS(EventDataset):
    """Card suits (clubs, hearts, diamonds, spades) flashed past a 128 x 128 DVS, cropped
    to 35 x 35 around the symbol; 48 train / 20 test samples, 4 classes.

    Expected under ``root``: ``pips_train/<suit>/*.npy`` and ``pips_test/<suit>/*.npy``
    (suits ``cl``, ``di``, ``he``, ``sp``; each file an (N, 4) integer array of t, x, y, p),
    or the archives ``pips_train.tar.gz`` / ``pips_test.tar.gz`` (md5-checked, extracted
    once). Classes are the suit folders in sorted order: cl, di, he, sp.
    """

    sensor_size = (35, 35, 2)
    splits: ClassVar[tuple[str, ...]] = ("train", "test")

    def __init__(
        self, root: str | os.PathLike[str], *, split: str = "train", **kwargs: Any
    ) -> None:
        super().__init__(root, **kwargs)
        self.split = pick_split("POKERDVS", self.splits, split)
        name = f"pips_{self.split}"
        folder = locate(
            self.root, name, [Resource(f"{name}.tar.gz", MD5[self.split], name)],
            dataset="POKER-DVS", url=URL,
        )  # fmt: skip
        self.classes, self.samples = class_folders(folder, extensions=(".npy",))
        if not self.samples:
            raise FileNotFoundError(f"POKER-DVS: no <suit>/*.npy files under {folder}")

    def read(self, index: int) -> np.ndarray:
        from spikestack.data import read_events

        return read_events(self.samples[index][0], format="npy")
