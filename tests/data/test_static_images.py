"""MNIST / Fashion-MNIST (IDX) and CIFAR-10 (binary) readers on small files written in the official layouts."""

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from spikestack.data.datasets import CIFAR10, MNIST, FashionMNIST, read_idx
from spikestack.train.config import TrainConfig
from spikestack.train.run import run_training


def write_idx(path: Path, array: np.ndarray, *, compress: bool = False) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def fake_mnist(root: Path, n_train: int = 60, n_test: int = 20) -> None:
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 50, (n, 28, 28))
        for i, label in enumerate(labels):  # a bright bar whose row encodes the class
            images[i, 2 + 2 * label : 4 + 2 * label, 4:24] = 255
        write_idx(root / f"{prefix}-images-idx3-ubyte", images)
        write_idx(root / f"{prefix}-labels-idx1-ubyte", labels)


def test_idx_reader_and_errors(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.gz", array, compress=True)
    assert np.array_equal(read_idx(tmp_path / "a.gz"), array)
    (tmp_path / "bad").write_bytes(b"\x00\x00\x0d\x01\x00\x00\x00\x01\x00")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    write_idx(tmp_path / "short", array)
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-3])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "short")


def test_mnist_layout_md5_and_missing_files(tmp_path):
    fake_mnist(tmp_path / "m")
    ds = MNIST(tmp_path / "m", split="train")
    image, label = ds[3]
    assert len(ds) == 60 and image.shape == (1, 28, 28) and label == 3
    assert float(image.max()) == 1.0 and float(image.min()) >= 0.0
    assert len(FashionMNIST(tmp_path / "m", split="test")) == 20
    # a .gz that is not the official file fails its md5 with a clear error
    (tmp_path / "g").mkdir()
    write_idx(tmp_path / "g" / "train-images-idx3-ubyte.gz", np.zeros((1, 28, 28)), compress=True)
    with pytest.raises(ValueError, match="md5"):
        MNIST(tmp_path / "g")
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte.gz"):
        MNIST(tmp_path / "empty", split="test")


def test_cifar10_binary_records(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        records = np.concatenate(
            [
                np.arange(4, dtype=np.uint8)[:, None] % 10,
                rng.integers(0, 256, (4, 3072), dtype=np.uint8),
            ],
            axis=1,
        )
        records.tofile(folder / name)
    ds = CIFAR10(tmp_path, split="train")
    image, label = ds[2]
    assert len(ds) == 20 and image.shape == (3, 32, 32) and label == 2
    raw = np.fromfile(folder / "data_batch_1.bin", dtype=np.uint8).reshape(4, 3073)
    assert np.allclose(image.numpy() * 255, raw[2, 1:].reshape(3, 32, 32))
    (folder / "test_batch.bin").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="3073-byte records"):
        CIFAR10(tmp_path, split="test")
    with pytest.raises(FileNotFoundError, match="cifar-10-binary.tar.gz"):
        CIFAR10(tmp_path / "elsewhere")


def test_train_on_mnist_layout_through_encoders(tmp_path):
    fake_mnist(tmp_path / "m", n_train=100, n_test=30)
    config = TrainConfig.from_dict(
        {
            "data": {"name": "mnist", "root": str(tmp_path / "m"), "encoding": "poisson", "T": 4},
            "model": {"model_kwargs": {"channels": 8}},
            "run": {"epochs": 1, "out": str(tmp_path / "run"), "progress": False},
        }
    )
    result = run_training(config, log=lambda *_: None)
    assert result["test_count"] == 30 and 0.0 <= result["test_accuracy"] <= 1.0
