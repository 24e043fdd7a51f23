"""DVS128 Gesture, ASL-DVS, N-CARS, SHD/SSC and ES-ImageNet on small fake files in
each dataset's on-disk format."""

from __future__ import annotations

import gzip
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from spikestack.data.datasets import ASLDVS, NCARS, SHD, SSC, DVS128Gesture, ESImageNet
from spikestack.data.transforms import ToFrame


def write_aedat31(path: Path, t, x, y, p) -> None:
    """AEDAT 3.1: text header, then one polarity packet (28-byte header + 8-byte events)."""
    n = len(t)
    data = (np.asarray(x, np.uint32) << 17) | (np.asarray(y, np.uint32) << 2)
    data |= (np.asarray(p, np.uint32) << 1) | 1
    ev = np.empty(n, dtype=[("d", "<u4"), ("t", "<i4")])
    ev["d"], ev["t"] = data, t
    header = b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#!END-HEADER\r\n"
    packet = struct.pack("<hhiiiiii", 1, 1, 8, 4, 0, n, n, n)
    path.write_bytes(header + packet + ev.tobytes())


def test_dvs128_gesture_from_official_tarball(tmp_path: Path) -> None:
    staging, root = tmp_path / "staging" / "DvsGesture", tmp_path / "root"
    staging.mkdir(parents=True)
    root.mkdir()
    t = np.arange(0, 1000, 10)  # 100 events, 10 µs apart
    for user in (1, 24):
        name = f"user{user:02d}_fluorescent"
        write_aedat31(staging / f"{name}.aedat", t, t % 128, (t // 10) % 128, (t // 10) % 2)
        (staging / f"{name}_labels.csv").write_text(
            "class,startTime_usec,endTime_usec\n1,0,300\n11,300,800\n"
        )
    (staging / "trials_to_train.txt").write_text("user01_fluorescent.aedat\n")
    (staging / "trials_to_test.txt").write_text("user24_fluorescent.aedat\n")
    with tarfile.open(root / "DvsGesture.tar.gz", "w:gz") as tf:
        tf.add(staging, arcname="DvsGesture")
    train = DVS128Gesture(root, train=True)
    assert (root / "DvsGesture" / "user24_fluorescent_labels.csv").exists()  # extracted
    test = DVS128Gesture(root, train=False)
    assert len(train) == 2 and len(test) == 2
    assert train.targets == [0, 10]
    events, label = train[1]
    assert label == 10 and len(events) == 50 and events["t"].min() == 300
    assert events["t"].max() == 790 and events["x"].max() < 128
    frames = DVS128Gesture(
        root,
        train=False,
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
            scipy.io.savemat(
                folder / f"{letter}_{k:04d}.mat",
                {
                    "ts": np.arange(n, dtype=np.float64)[:, None] * 100,
                    "x": np.full((n, 1), 239.0),
                    "y": np.arange(n, dtype=np.float64)[:, None],
                    "pol": (np.arange(n) % 2).astype(np.float64)[:, None],
                },
            )
    ds = ASLDVS(tmp_path)
    assert ds.classes == ["a", "b", "c"] and ds.targets == [0, 0, 1, 1, 2, 2]
    events, label = ds[5]
    assert label == 2 and len(events) == 7
    np.testing.assert_array_equal(events["t"], np.arange(7) * 100)
    assert set(events["x"].tolist()) == {239}
    with pytest.raises(FileNotFoundError, match=r"ICCV2019_DVS_dataset\.zip"):
        ASLDVS(tmp_path / "empty")


def write_dat(path: Path, t, x, y, p) -> None:
    """Prophesee DAT "Version 2" (N-CARS): % header, type/size bytes, uint32 t/data pairs."""
    data = (
        np.asarray(x, np.uint32)
        | (np.asarray(y, np.uint32) << 14)
        | (np.asarray(p, np.uint32) << 28)
    )
    rec = np.empty(len(t), dtype=[("t", "<u4"), ("d", "<u4")])
    rec["t"], rec["d"] = t, data
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"% Data file containing CD events.\n% Version 2\n" + bytes([0, 8]) + rec.tobytes()
    )


def test_ncars_dat_files(tmp_path: Path) -> None:
    for label, name in enumerate(["background", "cars"]):
        for k in range(3):
            n = 4 + label
            write_dat(
                tmp_path / "n-cars_test" / name / f"obj_{k:06d}_td.dat",
                np.arange(n) * 1000, np.arange(n) + 10, np.full(n, 20), np.arange(n) % 2,
            )  # fmt: skip
    ds = NCARS(tmp_path, train=False)
    assert len(ds) == 6 and ds.targets == [0, 0, 0, 1, 1, 1]
    events, label = ds[4]
    assert label == 1 and events["x"].tolist() == [10, 11, 12, 13, 14]
    assert events["y"].tolist() == [20] * 5 and events["p"].tolist() == [0, 1, 0, 1, 0]
    with pytest.raises(FileNotFoundError, match="n-cars_train"):
        NCARS(tmp_path, train=True)


def test_ncars_official_bundle_of_zips(tmp_path: Path) -> None:
    import zipfile

    inner = tmp_path / "n-cars_train.zip"
    with zipfile.ZipFile(inner, "w") as zf:
        for name in ["background", "cars"]:
            f = tmp_path / f"{name}.dat"
            write_dat(f, [0, 10], [1, 2], [3, 4], [0, 1])
            zf.write(f, f"n-cars_train/{name}/obj_000001_td.dat")
    with zipfile.ZipFile(tmp_path / "Prophesee_Dataset_n_cars.zip", "w") as zf:
        zf.write(inner, "Prophesee_Dataset_n_cars/n-cars_train.zip")
    inner.unlink()
    ds = NCARS(tmp_path, train=True)
    assert ds.targets == [0, 1] and len(ds[1][0]) == 2


def write_shd(path: Path, labels: list[int]) -> None:
    import h5py

    with h5py.File(path, "w") as f:
        vf, vu = h5py.vlen_dtype(np.float32), h5py.vlen_dtype(np.uint16)
        times = f.create_dataset("spikes/times", (len(labels),), dtype=vf)
        units = f.create_dataset("spikes/units", (len(labels),), dtype=vu)
        for i in range(len(labels)):
            times[i] = np.arange(i + 2, dtype=np.float32) * 0.01  # 10 ms apart
            units[i] = (np.arange(i + 2) * 7 % 700).astype(np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint16))


def test_shd_from_gz_and_ssc(tmp_path: Path) -> None:
    pytest.importorskip("h5py")
    h5 = tmp_path / "raw.h5"
    write_shd(h5, [3, 19, 0])
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
    write_shd(tmp_path / "ssc_valid.h5", [34, 1])
    ssc = SSC(tmp_path, split="valid")
    assert ssc.targets == [34, 1] and len(ssc.classes) == 35
    with pytest.raises(FileNotFoundError, match=r"ssc_train\.h5\.gz"):
        SSC(tmp_path, split="train")
    with pytest.raises(ValueError, match="split"):
        SHD(tmp_path, split="valid")


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
    ds = ESImageNet(tmp_path, train=True)
    assert len(ds) == 4 and ds.targets == [0, 0, 1, 1]
    events, label = ds[2]
    assert label == 1
    # width 200 is centred: col + (254 - 200) // 2 - 16 = col + 11; row - 16; t - 1
    assert events["t"].tolist() == [1, 3, 7] and events["p"].tolist() == [1, 1, 0]
    assert events["y"].tolist() == [25, 5, 1] and events["x"].tolist() == [62, 42, 211]
    with pytest.raises(FileNotFoundError, match="val"):
        ESImageNet(tmp_path, train=False)
