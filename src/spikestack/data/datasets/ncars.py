"""N-CARS (Sironi et al. 2018, "HATS: Histograms of Averaged Time Surfaces for Robust
Event-based Object Classification", CVPR)."""

from __future__ import annotations

import os
from typing import Any, ClassVar

import numpy as np

from spikestack.data.datasets.base import (
    EventDataset,
    Resource,
    class_folders,
    extract,
    locate,
    pick_split,
)

URL = "https://www.prophesee.ai/2018/03/13/dataset-n-cars/"


class NCARS(EventDataset):
    """N-CARS: 100 ms clips from an ATIS camera in a car, ``background`` (label 0) or
    ``cars`` (label 1); 15 422 train / 8 607 test samples; Prophesee ``.dat`` files,
    up to 120 x 100 pixels. ``split`` is ``"train"`` or ``"test"``.

    Expected under ``root``: ``n-cars_train/{background,cars}/*.dat`` and
    ``n-cars_test/...``, or the archives ``n-cars_train.zip`` / ``n-cars_test.zip``, or the
    official bundle ``Prophesee_Dataset_n_cars.zip`` that holds them (each extracted once;
    md5 not recorded here, presence only).
    """

    sensor_size = (120, 100, 2)
    splits: ClassVar[tuple[str, ...]] = ("train", "test")

    def __init__(
        self, root: str | os.PathLike[str], *, split: str = "train", **kwargs: Any
    ) -> None:
        super().__init__(root, **kwargs)
        self.split = pick_split("NCARS", self.splits, split)
        name = f"n-cars_{self.split}"
        bundle = self.root / "Prophesee_Dataset_n_cars.zip"
        if not (self.root / name).exists() and not (self.root / f"{name}.zip").exists():
            if bundle.exists():
                extract(bundle, self.root)
                for inner in sorted(self.root.glob(f"*/{name}.zip")):  # zips wrapped in a folder
                    inner.replace(self.root / inner.name)
        folder = locate(
            self.root,
            name,
            [Resource(f"{name}.zip", None, name), Resource(bundle.name, None, name)],
            dataset="N-CARS",
            url=URL,
        )
        self.classes, self.samples = class_folders(folder, extensions=(".dat",))
        if self.classes != ["background", "cars"]:
            raise FileNotFoundError(
                f"N-CARS: expected the folders background/ and cars/ in {folder}; "
                f"found {self.classes}"
            )

    def read(self, index: int) -> np.ndarray:
        from spikestack.data import read_events

        return read_events(self.samples[index][0], format="dat")
