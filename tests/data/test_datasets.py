"""EventFolder, N-MNIST, N-Caltech101, CIFAR10-DVS on small fake files in the real
on-disk formats, plus EventFolder on the real N-MNIST sample folder."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from spikestack.data.datasets import CIFAR10DVS, NMNIST, EventFolder, NCaltech101, parse_labels
from spikestack.data.transforms import DropEvent, RandomFlipLR, ToFrame

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def write_bin(path: Path, t, x, y, p) -> None:
    """N-MNIST / N-Caltech101 ``.bin``: 5 bytes per event, 40-bit big-endian word."""
    t, x, y, p = (np.asarray(v, dtype=np.int64) for v in (t, x, y, p))
    raw = np.stack([x, y, (p << 7) | ((t >> 16) & 0x7F), (t >> 8) & 0xFF, t & 0xFF], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw.astype(np.uint8).tobytes())


def write_aedat2_davis(path: Path, t, x, y, p) -> None:
    """AEDAT 2.0 with jAER's DAVIS address layout (as CIFAR10-DVS files)."""
    addr = (
        (np.asarray(y, np.uint32) << 22)
        | (np.asarray(x, np.uint32) << 12)
        | (np.asarray(p, np.uint32) << 11)
    )
    rec = np.empty(len(addr), dtype=[("a", ">u4"), ("t", ">i4")])
    rec["a"], rec["t"] = addr, t
    path.parent.mkdir(parents=True, exist_ok=True)
    header = b"#!AER-DAT2.0\r\n# This is a raw AE data file\r\n#End Of ASCII Header\r\n"
    path.write_bytes(header + rec.tobytes())


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
    ds = NMNIST(tmp_path, train=True, cache_dir=tmp_path / "cache")
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
        NMNIST(root, train=False)
    assert not (root / "Test").exists()
    # ... and extracts once when its checksum is the expected one
    monkeypatch.setitem(nmnist_module.MD5, "Test", md5sum(root / "Test.zip"))
    ds = NMNIST(root, train=False)
    assert len(ds) == 10 and (root / "Test" / "9" / "00000.bin").exists()
    assert ds[9][1] == 9 and len(ds[9][0]) == 19
    assert not list(root.glob(".extract-*"))


def test_missing_dataset_names_the_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"Train\.zip") as info:
        NMNIST(tmp_path)
    assert str(tmp_path / "Train") in str(info.value) and "does not download" in str(info.value)
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
            write_aedat2_davis(tmp_path / name / f"cifar10_{name}_{k}.aedat", t, x, y, p)
    train, test = CIFAR10DVS(tmp_path, train=True), CIFAR10DVS(tmp_path, train=False)
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
    assert len(CIFAR10DVS(tmp_path, train=None)) == 100


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


@pytest.mark.skipif(
    not (SHARED / "nmnist_small").is_dir(), reason=f"sample folder {SHARED / 'nmnist_small'} absent"
)
def test_event_folder_on_real_nmnist_small(tmp_path: Path) -> None:
    ds = EventFolder(
        SHARED / "nmnist_small", frames=ToFrame((34, 34, 2), n_time_bins=3), cache_dir=tmp_path
    )
    assert len(ds) == 1000
    assert ds.targets[:10] == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert np.bincount(ds.targets).tolist() == [97, 116, 99, 93, 105, 92, 94, 117, 87, 100]
    frames, label = ds[0]  # 1.bs2: 4681 events, label 5 (SOURCES.md)
    assert label == 5 and frames.shape == (3, 2, 34, 34) and frames.sum() == 4681
