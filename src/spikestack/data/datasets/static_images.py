"""Static image data sets read from their official files: MNIST, Fashion-MNIST, CIFAR-10.

They are encoded into spikes by :mod:`spikestack.encoders` (the training CLI's
``--encoding``). Like every data set here they never download: the official files must
be under ``root`` and the error says which ones. Samples are ``(image, label)`` with
``image`` a float32 tensor ``[C, H, W]`` in [0, 1].
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch.utils.data import Dataset

from spikestack.data.datasets.base import Resource, locate, pick_split, verify_md5

# MNIST's official files and their md5 (the values published with the files).
MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
CIFAR10_ARCHIVE = Resource(
    "cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530", "cifar-10-batches-bin"
)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """An IDX file (the MNIST format; ``.gz`` or plain): big-endian magic, dims, uint8 data."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes (magic {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = tuple(int(d) for d in np.frombuffer(raw[4:header], dtype=">u4"))
    expected = int(np.prod(dims))
    if len(raw) - header != expected:
        raise ValueError(
            f"{path} is truncated or padded: {len(raw) - header} data bytes for dims {dims}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


class _ImageArrays(Dataset):
    classes: list[str]
    splits: ClassVar[tuple[str, ...]] = ("train", "test")

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images = images
        self.labels = labels.astype(np.int64)

    @property
    def targets(self) -> list[int]:
        return self.labels.tolist()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = torch.tensor(self.images[index], dtype=torch.float32) / 255.0
        return (image.unsqueeze(0) if image.dim() == 2 else image), int(self.labels[index])


class MNIST(_ImageArrays):
    """MNIST (LeCun et al. 1998) from the four official ``*-idx?-ubyte.gz`` files under ``root``
    (md5-checked; un-gzipped files of the same names without ``.gz`` are accepted too);
    ``split`` is ``"train"`` (``train-*``) or ``"test"`` (``t10k-*``)."""

    files = MNIST_FILES
    name = "MNIST"
    classes = [str(d) for d in range(10)]

    def __init__(self, root: str | os.PathLike[str], *, split: str = "train") -> None:
        self.split = pick_split(type(self).__name__, self.splits, split)
        prefix = "train" if self.split == "train" else "t10k"
        self.root = Path(root).expanduser()
        images = read_idx(self._file(f"{prefix}-images-idx3-ubyte.gz"))
        labels = read_idx(self._file(f"{prefix}-labels-idx1-ubyte.gz"))
        if len(images) != len(labels):
            raise ValueError(
                f"{self.name}: {len(images)} images but {len(labels)} labels in {self.root}"
            )
        super().__init__(images, labels)

    def _file(self, name: str) -> Path:
        for candidate in (self.root / name, self.root / name[:-3]):
            if candidate.is_file():
                md5 = self.files.get(name)
                if candidate.suffix == ".gz" and md5 is not None:
                    verify_md5(candidate, md5, dataset=self.name,
                               remedy="corrupt or not the official file")  # fmt: skip
                return candidate
        raise FileNotFoundError(
            f"{self.name}: {self.root / name} not found. spikestack does not download data sets; "
            f"put the official files {', '.join(self.files)} in {self.root}"
        )


class FashionMNIST(MNIST):
    """Fashion-MNIST (Xiao et al. 2017): the same IDX file names and layout as MNIST
    (presence is checked, not md5)."""

    files = dict.fromkeys(MNIST_FILES)  # type: ignore[arg-type]
    name = "Fashion-MNIST"
    classes = [
        "t-shirt",
        "trouser",
        "pullover",
        "dress",
        "coat",
        "sandal",
        "shirt",
        "sneaker",
        "bag",
        "boot",
    ]


class CIFAR10(_ImageArrays):
    """CIFAR-10 (Krizhevsky 2009), binary version: ``cifar-10-binary.tar.gz`` (md5-checked,
    extracted once) or its folder ``cifar-10-batches-bin`` under ``root``. Each record is one
    label byte and 3072 image bytes (R, G, B planes of 32×32); ``split="train"`` reads
    ``data_batch_1..5.bin``, ``split="test"`` ``test_batch.bin``. The pickled Python
    version is not read: unpickling a file can run code."""

    classes = [
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ]

    def __init__(self, root: str | os.PathLike[str], *, split: str = "train") -> None:
        self.split = pick_split("CIFAR10", self.splits, split)
        folder = locate(
            Path(root).expanduser(), CIFAR10_ARCHIVE.extracts_to or "", [CIFAR10_ARCHIVE],
            dataset="CIFAR-10", url="https://www.cs.toronto.edu/~kriz/cifar.html (binary version)",
        )  # fmt: skip
        names = (
            [f"data_batch_{i}.bin" for i in range(1, 6)]
            if self.split == "train"
            else ["test_batch.bin"]
        )
        records = []
        for name in names:
            path = folder / name
            if not path.is_file():
                raise FileNotFoundError(f"CIFAR-10: {path} is missing from {folder}")
            raw = np.fromfile(path, dtype=np.uint8)
            if raw.size % 3073:
                raise ValueError(f"CIFAR-10: {path} is not a whole number of 3073-byte records")
            records.append(raw.reshape(-1, 3073))
        data = np.concatenate(records)
        super().__init__(data[:, 1:].reshape(-1, 3, 32, 32), data[:, 0])
