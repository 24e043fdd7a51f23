"""download=True on the data sets whose files come packaged: N-Caltech101 (an archive that
wraps another), DVS128 Gesture (Tonic's .npy packaging) and CIFAR10-DVS (a zip of the ten
class zips of AEDAT 4 files). Fixture archives are served from 127.0.0.1; nothing leaves
the machine. The layouts are the published ones (the facts Tonic's loaders rely on); the
real archives could not be fetched here."""

from __future__ import annotations

import contextlib
import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from _data import http_files, zip_bytes

from spikestack.data import make_events, write_events
from spikestack.data.datasets import CIFAR10DVS, DVS128Gesture, NCaltech101
from spikestack.data.datasets import cifar10dvs as cifar_module
from spikestack.data.datasets import dvsgesture as gesture_module
from spikestack.data.datasets import ncaltech101 as caltech_module
from spikestack.data.events import EventFormatError


@pytest.fixture
def serve():
    """serve(bytes) -> the URL of a local server that answers every GET with those bytes."""
    with contextlib.ExitStack() as stack:

        def start(body: bytes) -> str:
            base, _ = stack.enter_context(http_files(body))
            return f"{base}/file_downloaded"

        yield start


def bin_events(n: int) -> bytes:
    """n events of the 5-byte N-MNIST/N-Caltech101 format, all at time 0."""
    return bytes(5 * n)


def test_ncaltech101_download_extracts_the_archive_inside_the_archive(serve, tmp_path, monkeypatch):
    inner = zip_bytes({
        f"Caltech101/{name}/image_{k:04d}.bin": bin_events(3 + k)
        for name in ("accordion", "airplanes") for k in (1, 2)
    })  # fmt: skip
    outer = zip_bytes({
        "N-Caltech101/Caltech101.zip": inner,
        "N-Caltech101/Caltech101_annotations.zip": zip_bytes({"Annotations/a.bin": b"x"}),
        "N-Caltech101/ReadMe(Caltech101).txt": b"readme",
    })  # fmt: skip
    monkeypatch.setattr(caltech_module, "DOWNLOAD", serve(outer))
    monkeypatch.setattr(caltech_module, "MD5", hashlib.md5(outer).hexdigest())
    root = tmp_path / "root"
    with pytest.raises(FileNotFoundError, match="download=True"):
        NCaltech101(root)
    data = NCaltech101(root, download=True)
    assert data.classes == ["accordion", "airplanes"] and data.targets == [0, 0, 1, 1]
    assert len(data[3][0]) == 5 and (root / "Caltech101" / "airplanes").is_dir()
    assert len(NCaltech101(root)) == 4  # found as extracted, nothing fetched again


def test_ncaltech101_reads_the_inner_archive_alone(tmp_path) -> None:
    """Caltech101.zip of the official page has no published md5: it is read as it is (the
    md5 spikestack knows belongs to Mendeley's outer archive)."""
    (tmp_path / "Caltech101.zip").write_bytes(
        zip_bytes({"Caltech101/ant/image_0001.bin": bin_events(2)})
    )
    data = NCaltech101(tmp_path)
    assert data.classes == ["ant"] and len(data[0][0]) == 2


def test_ncaltech101_outer_archive_with_a_wrong_md5_is_refused(tmp_path) -> None:
    (tmp_path / "N-Caltech101-archive.zip").write_bytes(zip_bytes({"x.txt": b"not it"}))
    with pytest.raises(ValueError, match="N-Caltech101-archive.zip has md5"):
        NCaltech101(tmp_path)


def gesture_tar(split: str, samples: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        for name, table in samples.items():
            data = io.BytesIO()
            np.save(data, table)
            info = tarfile.TarInfo(f"ibmGesture{split}/{name}")
            info.size = len(data.getvalue())
            tf.addfile(info, io.BytesIO(data.getvalue()))
    return buffer.getvalue()


def test_dvs_gesture_download_reads_tonics_packaging(serve, tmp_path, monkeypatch) -> None:
    # x, y, p, t (ms): three events of gesture 0, two of gesture 10
    a = np.array([[1, 2, 1, 0.5], [3, 4, 0, 2.0], [127, 127, 1, 7.25]])
    b = np.array([[5, 6, 0, 1.0], [0, 0, 1, 3.0]])
    body = gesture_tar("Train", {"user01_fluorescent/0.npy": a, "user01_fluorescent/10.npy": b,
                                 "user02_led/2.npy": b[::-1]})  # fmt: skip
    _, _, real_url = gesture_module.PACKAGED["train"]
    monkeypatch.setitem(gesture_module.PACKAGED, "train",
                        ("ibmGestureTrain", hashlib.md5(body).hexdigest(), serve(body)))  # fmt: skip
    root = tmp_path / "root"
    with pytest.raises(FileNotFoundError, match=r"DvsGesture\.tar\.gz.*ibmGestureTrain\.tar\.gz"):
        DVS128Gesture(root)
    data = DVS128Gesture(root, download=True)
    assert data.packaged and data.targets == [0, 10, 2] and real_url.startswith("https://figshare")
    events, label = data[0]
    assert label == 0 and events["t"].tolist() == [500, 2000, 7250]
    assert events["x"].tolist() == [1, 3, 127] and events["p"].tolist() == [1, 0, 1]
    assert data[2][0]["t"].tolist() == [1000, 3000]  # sorted by time
    # damaged files get a clear error naming them
    np.save(root / "ibmGestureTrain" / "user01_fluorescent" / "0.npy", np.zeros((3, 5)))
    with pytest.raises(EventFormatError, match=r"0\.npy: expected an \(N, 4\)"):
        data.read(0)
    np.save(root / "ibmGestureTrain" / "user01_fluorescent" / "0.npy", np.array([[200, 0, 1, 1.0]]))
    with pytest.raises(EventFormatError, match="outside the 128 x 128 sensor"):
        data.read(0)
    (root / "ibmGestureTrain" / "user02_led" / "11.npy").write_bytes(b"")
    with pytest.raises(ValueError, match="not named by a class number"):
        DVS128Gesture(root)


def test_cifar10dvs_download_reads_the_aedat4_packaging(serve, tmp_path, monkeypatch) -> None:
    from spikestack.data.datasets.cifar10dvs import CLASSES

    classes = {}
    (tmp_path / "made").mkdir()
    for label, name in enumerate(CLASSES):
        files = {}
        for k in range(10):  # 10 per class: 9 train, 1 test
            events = make_events(np.arange(label + 2) * 10, np.full(label + 2, k), np.zeros(label + 2, int),
                                 np.ones(label + 2, int))  # fmt: skip
            path = tmp_path / "made" / f"{name}_{k}.aedat4"
            write_events(path, events, sensor_size=(128, 128, 2))
            files[f"{name}/cifar10_{name}_{k}.aedat4"] = path.read_bytes()
        classes[f"{name}.zip"] = zip_bytes(files)
    outer = zip_bytes(classes)
    monkeypatch.setattr(
        cifar_module, "PACKAGED", ("CIFAR10DVS.zip", hashlib.md5(outer).hexdigest(), serve(outer))
    )
    root = tmp_path / "root"
    train = CIFAR10DVS(root, download=True)
    test = CIFAR10DVS(root, split="test")
    assert len(train) == 90 and len(test) == 10 and test.targets == list(range(10))
    events, label = test[3]
    assert label == 3 and len(events) == 5 and events["x"].tolist() == [9] * 5
    assert (root / "truck").is_dir() and (root / "CIFAR10DVS.zip").is_file()


def test_a_data_set_without_download_says_where_to_put_files(tmp_path: Path) -> None:
    from spikestack.data.datasets import DVSLip

    with pytest.raises(FileNotFoundError, match="DVS-Lip"):
        DVSLip(tmp_path)
