"""EventFolder, N-MNIST, N-Caltech101, CIFAR10-DVS on small files in the real on-disk
formats, written with spikestack's writers (the real N-MNIST folder is read in
test_real_files.py); the uniform split= argument."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from spikestack.data import make_events, write_events
from spikestack.data.datasets import (
    ASLDVS,
    CIFAR10DVS,
    HARDVS,
    NCARS,
    NMNIST,
    NTIDIGITS,
    POKERDVS,
    SHD,
    SSC,
    AudioFolder,
    DSECFlow,
    DVS128Gesture,
    DVSLip,
    ESImageNet,
    EventFolder,
    NCaltech101,
    parse_labels,
)
from spikestack.data.datasets.static_images import CIFAR10, MNIST, FashionMNIST
from spikestack.data.transforms import DropEvent, RandomFlipLR, ToFrame


def write_bin(path: Path, t, x, y, p) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_events(path, make_events(t, x, y, p), format="nmnist")


def sample(n: int, seed: int, size: int = 34) -> tuple:
    g = np.random.default_rng(seed)
    return (
        np.sort(g.integers(0, 300_000, n)),
        g.integers(0, size, n),
        g.integers(0, size, n),
        g.integers(0, 2, n),
    )


def make_nmnist(root: Path, split: str, per_class: int = 2) -> None:
    for digit in range(10):
        for k in range(per_class):
            write_bin(
                root / split / str(digit) / f"{k:05d}.bin", *sample(10 + digit, 100 * digit + k)
            )


def test_nmnist_from_folder(tmp_path: Path) -> None:
    make_nmnist(tmp_path, "Train")
    ds = NMNIST(tmp_path, split="train", cache_dir=tmp_path / "cache")
    assert len(ds) == 20 and ds.classes == [str(d) for d in range(10)]
    assert ds.targets == [d for d in range(10) for _ in range(2)]
    events, label = ds[5]
    assert label == 2 and len(events) == 12
    assert events["x"].max() < 34 and np.all(np.diff(events["t"]) >= 0)


def test_nmnist_extracts_the_official_zip_once(tmp_path: Path, monkeypatch) -> None:
    import spikestack.data.datasets.nmnist as nmnist_module
    from spikestack.data.datasets import md5sum

    staging, root = tmp_path / "staging", tmp_path / "root"
    root.mkdir()
    make_nmnist(staging, "Test", per_class=1)
    with zipfile.ZipFile(root / "Test.zip", "w") as zf:
        for f in sorted((staging / "Test").rglob("*.bin")):
            zf.write(f, f.relative_to(staging))
    # a fake archive fails the official md5 with a clear error, and nothing is extracted ...
    with pytest.raises(ValueError, match="md5"):
        NMNIST(root, split="test")
    assert not (root / "Test").exists()
    # ... and extracts once when its checksum is the expected one
    monkeypatch.setitem(nmnist_module.MD5, "Test", md5sum(root / "Test.zip"))
    ds = NMNIST(root, split="test")
    assert len(ds) == 10 and (root / "Test" / "9" / "00000.bin").exists()
    assert ds[9][1] == 9 and len(ds[9][0]) == 19
    assert not list(root.glob(".extract-*"))


def test_missing_dataset_names_the_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"Train\.zip") as info:
        NMNIST(tmp_path)
    assert str(tmp_path / "Train") in str(info.value) and "download=True" in str(info.value)
    with pytest.raises(FileNotFoundError, match=r"Caltech101\.zip"):
        NCaltech101(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"airplane\.zip"):
        CIFAR10DVS(tmp_path)


def test_frames_are_cached_and_transform_bypasses_cache(tmp_path: Path) -> None:
    make_nmnist(tmp_path, "Train", per_class=1)
    frames = ToFrame((34, 34, 2), n_time_bins=4)
    ds = NMNIST(tmp_path, frames=frames, cache_dir=tmp_path / "cache")
    data, label = ds[3]
    assert data.shape == (4, 2, 34, 34) and data.sum() == 13 and label == 3
    entries = list((tmp_path / "cache").glob("*.npz"))
    assert len(entries) == 1
    np.testing.assert_array_equal(ds[3][0], data)  # served from the cache
    aug = NMNIST(tmp_path, frames=frames, transform=DropEvent(p=1.0), cache_dir=tmp_path / "cache")
    assert aug[3][0].sum() == 0
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1
    import torch.utils.data

    frames_batch, labels = next(iter(torch.utils.data.DataLoader(ds, batch_size=5)))
    assert tuple(frames_batch.shape) == (5, 4, 2, 34, 34) and labels.tolist() == [0, 1, 2, 3, 4]
    seeded = NMNIST(
        tmp_path, transform=RandomFlipLR((34, 34, 2), p=1.0), rng=np.random.default_rng(0)
    )
    np.testing.assert_array_equal(seeded[3][0]["x"], 33 - ds.read(3)["x"])


def test_ncaltech101(tmp_path: Path) -> None:
    for c, name in enumerate(["BACKGROUND_Google", "Faces_easy", "accordion"]):
        for k in range(1, 4):
            write_bin(tmp_path / "Caltech101" / name / f"image_{k:04d}.bin", *sample(5 + c, k, 200))
    ds = NCaltech101(tmp_path)
    assert ds.classes == ["BACKGROUND_Google", "Faces_easy", "accordion"]
    assert len(ds) == 9 and ds.targets == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert len(ds[8][0]) == 7


def test_cifar10dvs_split_is_9_to_1_per_class(tmp_path: Path) -> None:
    from spikestack.data.datasets.cifar10dvs import CLASSES

    for name in CLASSES:
        for k in range(10):
            t, x, y, p = sample(8, k, 128)
            path = tmp_path / name / f"cifar10_{name}_{k}.aedat"
            path.parent.mkdir(exist_ok=True)
            write_events(path, make_events(t, x, y, p), format="aedat2", layout="davis")
    train, test = CIFAR10DVS(tmp_path, split="train"), CIFAR10DVS(tmp_path, split="test")
    assert len(train) == 90 and len(test) == 10
    assert test.targets == list(range(10))
    assert [p.name for p, _ in test.samples[:2]] == [
        "cifar10_airplane_9.aedat",
        "cifar10_automobile_9.aedat",
    ]
    events, label = test[0]
    t, x, y, p = sample(8, 9, 128)
    np.testing.assert_array_equal(events["x"], x[np.argsort(t, kind="stable")])
    np.testing.assert_array_equal(events["t"], np.sort(t))
    assert label == 0
    # a training run records the rule in its data.json (through the recipe's info)
    from spikestack.train.config import TrainConfig
    from spikestack.train.recipes import build_data

    config = TrainConfig()
    config.data.name, config.data.root = "cifar10dvs", str(tmp_path)
    split = build_data(config).info["split"]
    assert split["train_ratio"] == 0.9 and "first round(train_ratio x n)" in split["test"]


def test_event_folder_class_subfolders_and_labels_file(tmp_path: Path) -> None:
    for name in ["cat", "dog"]:
        for k in range(3):
            write_bin(tmp_path / "sub" / name / f"{k}.bin", *sample(4, k))
    ds = EventFolder(tmp_path / "sub")
    assert ds.classes == ["cat", "dog"] and ds.targets == [0, 0, 0, 1, 1, 1]
    flat = tmp_path / "flat"
    for k in range(1, 5):
        write_bin(flat / f"{k}.bs2", *sample(k, k))
    (flat / "labels.txt").write_bytes(
        b"sample\tclass\r\n# a comment\r\n1\t7\r\n2\t3\r\n\r\n3.bs2\t7  # trailing\r\n4\t0\r\n"
    )
    ds = EventFolder(flat)
    assert ds.targets == [7, 3, 7, 0] and ds.classes == ["0", "3", "7"]
    assert len(ds[1][0]) == 2
    with pytest.raises(FileNotFoundError, match="labels file"):
        EventFolder(flat, labels_file="nope.txt")


def test_parse_labels_rejects_bad_lines(tmp_path: Path) -> None:
    f = tmp_path / "l.txt"
    f.write_text("1\t2\nonlyone\n")
    with pytest.raises(ValueError, match=r"l\.txt:2"):
        parse_labels(f)


SPLITS = [
    (ASLDVS, ("all",)),
    (CIFAR10DVS, ("train", "test")),
    (NCARS, ("train", "test")),
    (NMNIST, ("train", "test")),
    (SHD, ("train", "test")),
    (SSC, ("train", "val", "test")),
    (DVS128Gesture, ("train", "test")),
    (ESImageNet, ("train", "test")),
    (EventFolder, ("all",)),
    (AudioFolder, ("all",)),
    (NCaltech101, ("all",)),
    (MNIST, ("train", "test")),
    (FashionMNIST, ("train", "test")),
    (CIFAR10, ("train", "test")),
    (POKERDVS, ("train", "test")),
    (DVSLip, ("train", "test")),
    (NTIDIGITS, ("train", "test")),
    (DSECFlow, ("train",)),
    (HARDVS, ("train", "val", "test")),
]


def test_every_data_set_declares_its_splits() -> None:
    import inspect

    import spikestack.data.datasets as datasets

    classes = {
        c
        for c in vars(datasets).values()
        if inspect.isclass(c) and hasattr(c, "__getitem__") and c is not datasets.EventDataset
    }
    assert classes == {c for c, _ in SPLITS}  # a new data set needs a line in SPLITS
    for cls, splits in SPLITS:
        assert cls.splits == splits
        param = inspect.signature(cls.__init__).parameters["split"]
        assert param.kind is param.KEYWORD_ONLY and param.default == splits[0]


@pytest.mark.parametrize(("cls", "splits"), SPLITS, ids=lambda v: getattr(v, "__name__", ""))
def test_unknown_split_names_the_data_set_and_its_splits(tmp_path: Path, cls, splits) -> None:
    with pytest.raises(ValueError, match="split must be one of") as info:
        cls(tmp_path, split="validation")
    assert cls.__name__ in str(info.value) and str(splits) in str(info.value)
