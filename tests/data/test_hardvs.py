"""HARDVS: the published lists, the class folders of .npz recordings, and the bundle of
class archives extracted once; bad files named."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from _data import zip_bytes

from spikestack.data.datasets import HARDVS
from spikestack.data.datasets import hardvs as module


def npz_bytes(n: int, seed: int) -> bytes:
    g = np.random.default_rng(seed)
    buffer = io.BytesIO()
    np.savez(buffer, t=np.sort(g.integers(0, 10**6, n)), x=g.integers(0, 346, n),
             y=g.integers(0, 260, n), p=g.integers(0, 2, n))  # fmt: skip
    return buffer.getvalue()


def make_hardvs(root, monkeypatch) -> None:
    """Three classes of two recordings; the class archives inside MINI_HARDVS_files.zip (one
    of them wrapping its folder, as an archive may)."""
    inner = {}
    for c in (1, 2, 300):
        name = f"action_{c:03d}"
        files = {f"rec_{c}_{k}.npz": npz_bytes(5 + k, c * 10 + k) for k in range(2)}
        if c == 2:
            files = {f"{name}/{f}": data for f, data in files.items()}
        inner[f"MINI_HARDVS_files/{name}.zip"] = zip_bytes(files)
    bundle = zip_bytes(inner)
    root.mkdir()
    (root / "MINI_HARDVS_files.zip").write_bytes(bundle)
    lists = {"train": ["action_001/rec_1_0 0", "action_002/rec_2_0 1", "action_300/rec_300_1 299"],
             "val": ["action_001/rec_1_1 0"], "test": ["action_300/rec_300_0 299", ""]}  # fmt: skip
    for split, lines in lists.items():
        (root / f"{split}_label.txt").write_text("\n".join(lines) + "\n")
        monkeypatch.setitem(module.MD5, f"{split}_label.txt",
                            hashlib.md5((root / f"{split}_label.txt").read_bytes()).hexdigest())  # fmt: skip
    monkeypatch.setitem(module.MD5, "MINI_HARDVS_files.zip", hashlib.md5(bundle).hexdigest())


def test_lists_folders_and_the_bundle(tmp_path, monkeypatch) -> None:
    root = tmp_path / "hardvs"
    make_hardvs(root, monkeypatch)
    train = HARDVS(root)
    assert train.targets == [0, 1, 299] and len(HARDVS(root, split="val")) == 1
    assert sorted(p.name for p in root.glob("action_*")) == [
        "action_001",
        "action_002",
        "action_300",
    ]
    events, label = train[2]
    assert label == 299 and len(events) == 6 and events["x"].max() < 346
    assert not list(root.glob(".action_*"))  # no staging folder left
    test = HARDVS(root, split="test")  # the folders are found as extracted
    assert test.targets == [299] and len(test[0][0]) == 5
    assert train.classes[299] == "action_300" and train.sensor_size == (346, 260, 2)


def test_errors_name_what_is_wrong(tmp_path, monkeypatch) -> None:
    with pytest.raises(FileNotFoundError, match="train_label.txt is missing"):
        HARDVS(tmp_path)
    root = tmp_path / "hardvs"
    make_hardvs(root, monkeypatch)
    (root / "val_label.txt").write_text("action_001/rec_1_1 0\nrec_without_class 3\n")
    with pytest.raises(ValueError, match="val_label.txt has md5"):
        HARDVS(root, split="val")
    with pytest.raises(ValueError, match=r"val_label.txt:2: expected 'action_XXX/<recording>'"):
        HARDVS(root, split="val", check_md5=False)
    (root / "MINI_HARDVS_files.zip").write_bytes(b"not the bundle")
    with pytest.raises(ValueError, match="MINI_HARDVS_files.zip has md5"):
        HARDVS(root)
    (root / "MINI_HARDVS_files.zip").unlink()
    with pytest.raises(
        FileNotFoundError, match=r"class folders \['action_001'.*MINI_HARDVS_files.zip"
    ):
        HARDVS(root)
