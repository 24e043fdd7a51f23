"""SHD and SSC (Cramer et al. 2022, "The Heidelberg Spiking Data Sets for the Systematic
Evaluation of Spiking Neural Networks", IEEE TNNLS)."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from spikestack.atomic import atomic_write
from spikestack.data.datasets.base import EventDataset, pick_split

URL = "https://zenkelab.org/datasets/"


def _h5_file(root: Path, name: str, dataset: str) -> Path:
    """``root/name`` (.h5), decompressed once from ``root/name.gz`` if needed."""
    path = root / name
    if path.exists():
        return path
    packed = root / f"{name}.gz"
    if not packed.exists():
        raise FileNotFoundError(
            f"{dataset} not found: expected {path} or {packed}. spikestack does not "
            f"download datasets; get {packed.name} from {URL} and put it in {root}"
        )
    with gzip.open(packed, "rb") as src:
        atomic_write(path, lambda dst: shutil.copyfileobj(src, dst, 1 << 20))
    return path


class SHD(EventDataset):
    """Spiking Heidelberg Digits: spoken digits 0-9 in English and German (20 classes)
    through a model cochlea; 700 channels; 8 156 train / 2 264 test samples.

    Expected under ``root``: ``shd_train.h5`` / ``shd_test.h5`` or the official
    ``shd_train.h5.gz`` / ``shd_test.h5.gz`` (decompressed once; md5 not recorded here).
    Samples are 1-D events (``EVENT_DTYPE_1D``): x = channel, t in µs, p = 1.
    ``split`` is ``"train"`` or ``"test"``. Needs h5py.
    """

    sensor_size = (700, 1, 1)
    prefix = "shd"
    splits: ClassVar[tuple[str, ...]] = ("train", "test")
    files: ClassVar[dict[str, str]] = {}  # split -> the files' own name, where it differs
    num_classes = 20

    def __init__(
        self, root: str | os.PathLike[str], *, split: str = "train", **kwargs: Any
    ) -> None:
        super().__init__(root, **kwargs)
        self.split = pick_split(type(self).__name__, self.splits, split)
        name = self.files.get(self.split, self.split)
        self.path = _h5_file(self.root, f"{self.prefix}_{name}.h5", type(self).__name__)
        import h5py

        with h5py.File(self.path, "r") as f:
            labels = np.asarray(f["labels"], dtype=np.int64)
        self.classes = [str(i) for i in range(self.num_classes)]
        self.samples = [(self.path, int(label)) for label in labels]

    def cache_identity(self, index: int) -> tuple[Path, object]:
        return self.path, index

    def read(self, index: int) -> np.ndarray:
        from spikestack.data import read_events

        return read_events(self.path, format="hdf5", index=index)


class SSC(SHD):
    """Spiking Speech Commands: 35 words of Speech Commands v0.2 through the same cochlea
    model; 700 channels; splits ``"train"`` / ``"val"`` / ``"test"`` in ``ssc_train.h5``,
    ``ssc_valid.h5``, ``ssc_test.h5`` (or their ``.gz``).
    """

    prefix = "ssc"
    splits: ClassVar[tuple[str, ...]] = ("train", "val", "test")
    files: ClassVar[dict[str, str]] = {"val": "valid"}
    num_classes = 35
