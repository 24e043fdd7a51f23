"""ASL-DVS (Bi et al. 2019, "Graph-Based Object Classification for Neuromorphic Vision
Sensing", ICCV)."""

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

URL = "https://github.com/PIX2NVS/NVS2Graph (Dropbox: ICCV2019_DVS_dataset.zip)"


class ASLDVS(EventDataset):
    """ASL-DVS: 24 American-sign-language letters (A-Y without J), 4 200 samples each,
    recorded with a DAVIS240c (240 x 180, 2 polarities), one MATLAB ``.mat`` file per
    sample (fields ``ts``, ``x``, ``y``, ``pol``). No official split: the only split is
    ``"all"``.

    Expected under ``root``: letter folders ``a/ ... y/`` of ``.mat`` files, either directly
    in ``root`` or in ``root/ICCV2019_DVS_dataset``, or the official archive
    ``ICCV2019_DVS_dataset.zip`` (extracted once; md5 not recorded here, presence only).
    """

    sensor_size = (240, 180, 2)
    splits: ClassVar[tuple[str, ...]] = ("all",)

    def __init__(self, root: str | os.PathLike[str], *, split: str = "all", **kwargs: Any) -> None:
        super().__init__(root, **kwargs)
        self.split = pick_split("ASLDVS", self.splits, split)
        if (self.root / "a").is_dir():
            folder = self.root
        else:
            folder = locate(
                self.root,
                "ICCV2019_DVS_dataset",
                [Resource("ICCV2019_DVS_dataset.zip", None, "ICCV2019_DVS_dataset")],
                dataset="ASL-DVS",
                url=URL,
            )
        self.classes, self.samples = class_folders(folder, extensions=(".mat",))

    def read(self, index: int) -> np.ndarray:
        from spikestack.data import read_events

        return read_events(self.samples[index][0], format="mat")
