"""DVS128 Gesture, ASL-DVS, N-CARS, SHD/SSC and ES-ImageNet on small files in each
dataset's on-disk format (spikestack's writers, or tests/_data.py where the layout is
not one that spikestack writes)."""

from __future__ import annotations

import gzip
import tarfile
from pathlib import Path

import numpy as np
import pytest
from _data import write_asl_dvs_mat, write_shd

from spikestack.data import make_events, write_events
from spikestack.data.datasets import ASLDVS, NCARS, SHD, SSC, DVS128Gesture, ESImageNet
from spikestack.data.transforms import ToFrame


def test_dvs128_gesture_from_official_tarball(tmp_path: Path) -> None:
    staging, root = tmp_path / "staging" / "DvsGesture", tmp_path / "root"
    staging.mkdir(parents=True)
    root.mkdir()
    t = np.arange(0, 1000, 10)  # 100 events, 10 µs apart
    for user in (1, 24):
        name = f"user{user:02d}_fluorescent"
        events = make_events(t, t % 128, (t // 10) % 128, (t // 10) % 2)
        write_events(staging / f"{name}.aedat", events, format="aedat3", sensor_size=(128, 128))
        (staging / f"{name}_labels.csv").write_text(
            "class,startTime_usec,endTime_usec\n1,0,300\n11,300,800\n"
        )
    (staging / "trials_to_train.txt").write_text("user01_fluorescent.aedat\n")
    (staging / "trials_to_test.txt").write_text("user24_fluorescent.aedat\n")
    with tarfile.open(root / "DvsGesture.tar.gz", "w:gz") as tf:
        tf.add(staging, arcname="DvsGesture")
    train = DVS128Gesture(root, split="train")
    assert (root / "DvsGesture" / "user24_fluorescent_labels.csv").exists()  # extracted
    test = DVS128Gesture(root, split="test")
    assert len(train) == 2 and len(test) == 2
    assert train.targets == [0, 10]
    events, label = train[1]
    assert label == 10 and len(events) == 50 and events["t"].min() == 300
    assert events["t"].max() == 790 and events["x"].max() < 128
    frames = DVS128Gesture(
        root,
        split="test",
        frames=ToFrame((128, 128, 2), n_time_bins=2),
        cache_dir=tmp_path / "c",
    )
    assert frames[0][0].shape == (2, 2, 128, 128) and frames[0][0].sum() == 30
    assert frames[1][0].sum() == 50
    assert len(list((tmp_path / "c").glob("*.npz"))) == 2  # one entry per interval


def test_asl_dvs_mat_files(tmp_path: Path) -> None:
    for c, letter in enumerate("abc"):
        folder = tmp_path / letter
        folder.mkdir()
        for k in range(2):
            n = 5 + c
            events = make_events(
                np.arange(n) * 100, np.full(n, 239), np.arange(n), np.arange(n) % 2
            )
            write_asl_dvs_mat(folder / f"{letter}_{k:04d}.mat", events)
    ds = ASLDVS(tmp_path)
    assert ds.classes == ["a", "b", "c"] and ds.targets == [0, 0, 1, 1, 2, 2]
    events, label = ds[5]
    assert label == 2 and len(events) == 7
    np.testing.assert_array_equal(events["t"], np.arange(7) * 100)
    assert set(events["x"].tolist()) == {239}
    with pytest.raises(FileNotFoundError, match=r"ICCV2019_DVS_dataset\.zip"):
        ASLDVS(tmp_path / "empty")


def test_ncars_dat_files(tmp_path: Path) -> None:
    for label, name in enumerate(["background", "cars"]):
        for k in range(3):
            n = 4 + label
            path = tmp_path / "n-cars_test" / name / f"obj_{k:06d}_td.dat"
            path.parent.mkdir(parents=True, exist_ok=True)
            events = make_events(
                np.arange(n) * 1000, np.arange(n) + 10, np.full(n, 20), np.arange(n) % 2
            )
            write_events(path, events)
    ds = NCARS(tmp_path, split="test")
    assert len(ds) == 6 and ds.targets == [0, 0, 0, 1, 1, 1]
    events, label = ds[4]
    assert label == 1 and events["x"].tolist() == [10, 11, 12, 13, 14]
    assert events["y"].tolist() == [20] * 5 and events["p"].tolist() == [0, 1, 0, 1, 0]
    with pytest.raises(FileNotFoundError, match="n-cars_train"):
        NCARS(tmp_path, split="train")


def test_ncars_official_bundle_of_zips(tmp_path: Path) -> None:
    import zipfile

    inner = tmp_path / "n-cars_train.zip"
    with zipfile.ZipFile(inner, "w") as zf:
        for name in ["background", "cars"]:
            f = tmp_path / f"{name}.dat"
            write_events(f, make_events([0, 10], [1, 2], [3, 4], [0, 1]))
            zf.write(f, f"n-cars_train/{name}/obj_000001_td.dat")
    with zipfile.ZipFile(tmp_path / "Prophesee_Dataset_n_cars.zip", "w") as zf:
        zf.write(inner, "Prophesee_Dataset_n_cars/n-cars_train.zip")
    inner.unlink()
    ds = NCARS(tmp_path, split="train")
    assert ds.targets == [0, 1] and len(ds[1][0]) == 2


def shd_file(path: Path, labels: list[int]) -> None:
    """Sample i: i + 2 spikes 10 ms apart on channels 0, 7, 14, ..."""
    samples = [
        (np.arange(i + 2, dtype=np.float32) * 0.01, (np.arange(i + 2) * 7 % 700).astype(np.uint16))
        for i in range(len(labels))
    ]
    write_shd(path, samples, labels)


def test_shd_from_gz_and_ssc(tmp_path: Path) -> None:
    h5 = tmp_path / "raw.h5"
    shd_file(h5, [3, 19, 0])
    with open(h5, "rb") as src, gzip.open(tmp_path / "shd_test.h5.gz", "wb") as dst:
        dst.write(src.read())
    ds = SHD(tmp_path, split="test")
    assert (tmp_path / "shd_test.h5").exists()
    assert len(ds) == 3 and ds.targets == [3, 19, 0] and len(ds.classes) == 20
    events, label = ds[1]
    assert label == 19 and events.dtype.names == ("t", "x", "p")
    np.testing.assert_array_equal(events["t"], [0, 10_000, 20_000])
    np.testing.assert_array_equal(events["x"], [0, 7, 14])
    frames = SHD(
        tmp_path, split="test", frames=ToFrame((700, 1, 1), n_time_bins=2), cache_dir=tmp_path / "c"
    )
    assert frames[2][0].shape == (2, 1, 1, 700) and frames[2][0].sum() == 4
    assert frames[1][0].sum() == 3
    shd_file(tmp_path / "ssc_valid.h5", [34, 1])
    ssc = SSC(tmp_path, split="val")  # the files' own name for it is "valid"
    assert ssc.targets == [34, 1] and len(ssc.classes) == 35 and ssc.split == "val"
    with pytest.raises(FileNotFoundError, match=r"ssc_train\.h5\.gz"):
        SSC(tmp_path, split="train")
    with pytest.raises(ValueError, match=r"SHD: split must be one of \('train', 'test'\)"):
        SHD(tmp_path, split="val")
    with pytest.raises(ValueError, match=r"SSC: split must be one of \('train', 'val', 'test'\)"):
        SSC(tmp_path, split="valid")


def test_es_imagenet_npz(tmp_path: Path) -> None:
    # the official layout: train/classN/classN_k.npz with (row, col, t = 1..8) rows and a
    # labels file giving each resized image's height a and width b
    lines = []
    for c in range(2):
        folder = tmp_path / "train" / f"class{c}"
        folder.mkdir(parents=True)
        for k in range(1, 3):
            pos = np.array([[20, 30, 3], [40, 50, 1]]) + c  # t becomes 4, 2 for class 1
            neg = np.array([[17, 200, 8], [10, 100, 2]])  # the second lies outside the crop
            np.savez(folder / f"class{c}_{k}.npz", pos=pos, neg=neg)
            lines.append(f"class{c}/class{c}_{k}.npz {c} 254 200")
    (tmp_path / "trainlabel.txt").write_text("\n".join(lines) + "\n")
    ds = ESImageNet(tmp_path, split="train")
    assert len(ds) == 4 and ds.targets == [0, 0, 1, 1]
    events, label = ds[2]
    assert label == 1
    # width 200 is centred: col + (254 - 200) // 2 - 16 = col + 11; row - 16; t - 1
    assert events["t"].tolist() == [1, 3, 7] and events["p"].tolist() == [1, 1, 0]
    assert events["y"].tolist() == [25, 5, 1] and events["x"].tolist() == [62, 42, 211]
    with pytest.raises(FileNotFoundError, match="val"):
        ESImageNet(tmp_path, split="test")  # the val/ folder
