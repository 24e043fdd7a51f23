"""SHD and SSC (Cramer et al. 2022, "The Heidelberg Spiking Data Sets for the Systematic
Evaluation of Spiking Neural Networks", IEEE TNNLS)."""

from __future__ import annotations

import gzip
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from spikestack.atomic import atomic_write
from spikestack.data.datasets.base import EventDataset, pick_split

URL = "https://zenkelab.org/datasets/"
# md5 of the .h5.zip files at URL (the values Tonic checks); download=True fetches these
MD5 = {
    "shd_train.h5.zip": "f3252aeb598ac776c1b526422d90eecb",
    "shd_test.h5.zip": "1503a5064faa34311c398fb0a1ed0a6f",
    "ssc_train.h5.zip": "d102be95e7144fcc0553d1f45ba94170",
    "ssc_valid.h5.zip": "b4eee3516a4a90dd0c71a6ac23a8ae43",
    "ssc_test.h5.zip": "a35ff1e9cffdd02a20eb850c17c37748",
}


def _h5_file(root: Path, name: str, dataset: str, *, download: bool = False) -> Path:
    """``root/name`` (.h5), unpacked once from ``root/name.gz`` or ``root/name.zip`` if
    needed; with ``download``, the .zip is fetched from :data:`URL` first (md5-checked)."""
    path = root / name
    if path.exists():
        return path
    packed, zipped = root / f"{name}.gz", root / f"{name}.zip"
    if download and not packed.exists() and not zipped.exists():
        from spikestack.data.download import fetch

        fetch(URL + zipped.name, zipped, md5=MD5.get(zipped.name))
    if packed.exists():
        with gzip.open(packed, "rb") as src:
            atomic_write(path, lambda dst: shutil.copyfileobj(src, dst, 1 << 20))
        return path
    if zipped.exists():
        with zipfile.ZipFile(zipped) as archive:
            members = [m for m in archive.namelist() if Path(m).name == name]
            if not members:
                raise FileNotFoundError(f"{dataset}: {zipped} holds no {name}")
            with archive.open(members[0]) as src:
                atomic_write(path, lambda dst: shutil.copyfileobj(src, dst, 1 << 20))
        return path
    raise FileNotFoundError(
        f"{dataset} not found: expected {path}, {packed} or {zipped}. Get one from {URL} "
        f"and put it in {root}, or pass download=True to fetch {zipped.name}"
    )


class SHD(EventDataset):
    """Spiking Heidelberg Digits: spoken digits 0-9 in English and German (20 classes)
    through a model cochlea; 700 channels; 8 156 train / 2 264 test samples.

    Expected under ``root``: ``shd_train.h5`` / ``shd_test.h5``, or the official
    ``shd_train.h5.gz`` / ``.h5.zip`` (unpacked once). ``download=True`` fetches the
    ``.h5.zip`` from zenkelab.org (md5-checked, resumable) when none is there.
    Samples are 1-D events (``EVENT_DTYPE_1D``): x = channel, t in µs, p = 1.
    ``split`` is ``"train"`` or ``"test"``. Needs h5py.
    """

    sensor_size = (700, 1, 1)
    prefix = "shd"
    splits: ClassVar[tuple[str, ...]] = ("train", "test")
    files: ClassVar[dict[str, str]] = {}  # split -> the files' own name, where it differs
    num_classes = 20

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        split: str = "train",
        download: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(root, **kwargs)
        self.split = pick_split(type(self).__name__, self.splits, split)
        name = self.files.get(self.split, self.split)
        self.path = _h5_file(
            self.root, f"{self.prefix}_{name}.h5", type(self).__name__, download=download
        )
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
