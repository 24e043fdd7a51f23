"""POKER-DVS, DVS-Lip and N-TIDIGITS on small files in each data set's published layout
(the archives' md5s are patched to the fixtures' own: the real ones are not here)."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from spikestack.data.datasets import NTIDIGITS, POKERDVS, DVSLip, md5sum
from spikestack.data.datasets import dvslip as dvslip_module
from spikestack.data.datasets import ntidigits as ntidigits_module
from spikestack.data.datasets import pokerdvs as pokerdvs_module
from spikestack.data.transforms import ToFrame


def test_poker_dvs_from_its_archives(tmp_path: Path, monkeypatch) -> None:
    staging = tmp_path / "staging"
    for split, per_suit in (("train", 3), ("test", 1)):
        for s, suit in enumerate(("sp", "cl", "he", "di")):
            folder = staging / f"pips_{split}" / suit
            folder.mkdir(parents=True)
            for k in range(per_suit):
                n = 20 + s
                t = np.arange(n) * 100 + k
                np.save(folder / f"{suit}{k}.npy", np.stack([t, t % 35, (t // 3) % 35, t % 2], 1))
        archive = tmp_path / "root" / f"pips_{split}.tar.gz"
        archive.parent.mkdir(exist_ok=True)
        with tarfile.open(archive, "w:gz") as tf:
            tf.add(staging / f"pips_{split}", arcname=f"pips_{split}")
        monkeypatch.setitem(pokerdvs_module.MD5, split, md5sum(archive))
    train = POKERDVS(tmp_path / "root", split="train")
    test = POKERDVS(tmp_path / "root", split="test")
    assert train.classes == ["cl", "di", "he", "sp"] and len(train) == 12 and len(test) == 4
    events, label = train[0]  # cl0.npy
    assert label == 0 and len(events) == 21 and events["x"].max() < 35
    assert events.dtype.names == ("t", "x", "y", "p")
    frames = POKERDVS(tmp_path / "root", split="test", frames=ToFrame((35, 35, 2), n_time_bins=2))
    assert frames[3][0].shape == (2, 2, 35, 35) and frames[3][0].sum() == 20  # sp: 20 events
    monkeypatch.setitem(pokerdvs_module.MD5, "train", "0" * 32)
    with pytest.raises(FileNotFoundError, match="POKER-DVS not found"):
        POKERDVS(tmp_path / "empty", split="train")


def test_dvs_lip_from_its_zip(tmp_path: Path, monkeypatch) -> None:
    staging = tmp_path / "staging"
    dtype = np.dtype([("x", np.int16), ("y", np.int16), ("p", bool), ("t", np.int64)])
    for split in ("train", "test"):
        for w, word in enumerate(("accused", "action", "young")):
            folder = staging / "DVS-Lip" / split / word
            folder.mkdir(parents=True)
            ev = np.zeros(10 + w, dtype=dtype)
            ev["t"] = np.arange(10 + w) * 7
            ev["x"], ev["y"], ev["p"] = np.arange(10 + w) % 128, 127, np.arange(10 + w) % 2 == 1
            np.save(folder / "0.npy", ev)
    archive = tmp_path / "root" / "DVS-Lip.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        for f in staging.rglob("*.npy"):
            zf.write(f, f.relative_to(staging))
    monkeypatch.setattr(dvslip_module, "MD5", md5sum(archive))
    train = DVSLip(tmp_path / "root")
    assert train.classes == ["accused", "action", "young"] and len(train) == 3
    events, label = train[2]
    assert label == 2 and len(events) == 12 and events["y"].max() == 127
    assert events["p"].tolist() == [0, 1] * 6 and events["t"][-1] == 77
    assert len(DVSLip(tmp_path / "root", split="test")) == 3
    with pytest.raises(ValueError, match="split must be one of"):
        DVSLip(tmp_path / "root", split="val")


def test_n_tidigits_single_digits(tmp_path: Path, monkeypatch) -> None:
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "n-tidigits.hdf5"
    names = {"train": ["ah-o", "ah-1z", "bc-9", "bc-z"], "test": ["cd-5"]}
    with h5py.File(path, "w") as f:
        for split, labels in names.items():
            f[f"{split}_labels"] = np.array([n.encode() for n in labels])
            for i, name in enumerate(labels):
                f[f"{split}_addresses/{name}"] = np.arange(5 + i) % 64
                f[f"{split}_timestamps/{name}"] = np.arange(5 + i) * 0.0015 + 0.0000004
    monkeypatch.setattr(ntidigits_module, "MD5", md5sum(path))
    train = NTIDIGITS(tmp_path)
    assert train.names == ["ah-o", "bc-9", "bc-z"]  # "1z" is two digits: left out
    assert train.targets == [0, 9, 10] and len(NTIDIGITS(tmp_path, split="test")) == 1
    events, label = train[1]  # bc-9: the third sample written, 7 events
    assert label == 9 and events.dtype.names == ("t", "x", "p") and len(events) == 7
    assert events["t"].tolist() == [0, 1500, 3000, 4500, 6000, 7500, 9000]  # s -> µs, rounded
    monkeypatch.setattr(ntidigits_module, "MD5", "0" * 32)
    with pytest.raises(ValueError, match="has md5"):
        NTIDIGITS(tmp_path)
    assert len(NTIDIGITS(tmp_path, check_md5=False)) == 3
    with pytest.raises(FileNotFoundError, match="n-tidigits.hdf5"):
        NTIDIGITS(tmp_path / "nowhere")
