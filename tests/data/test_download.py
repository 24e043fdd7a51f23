"""Opt-in verified downloads, against a local HTTP server on 127.0.0.1 (nothing leaves the
machine): the right archive, a wrong checksum, a transfer that breaks off (then resumes),
a server error, and N-MNIST's download=True path with a fixture archive."""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
import zipfile

import numpy as np
import pytest
from _data import http_files

from spikestack.data.datasets.base import Resource, locate
from spikestack.data.download import fetch


def archive_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("Train/0/00001.bin", bytes(5 * 3))
        zf.writestr("Train/1/00002.bin", bytes(5 * 2))
    return buffer.getvalue()


PAYLOAD = archive_bytes()
MD5 = hashlib.md5(PAYLOAD).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    """/ok: the file (with Range support); /cut: half, then the connection closes;
    /error: 500; /ignore-range: the whole file even when a range is asked."""

    requests: list[str] = []

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        Handler.requests.append(self.path + " " + str(self.headers.get("Range")))
        if self.path == "/error":
            self.send_error(500, "broken")
            return
        start = 0
        if self.headers.get("Range") and self.path != "/ignore-range":
            start = int(self.headers["Range"].split("=")[1].rstrip("-"))
            self.send_response(206)
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path == "/cut" and start == 0:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.close()  # the transfer breaks off
            return
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_the_right_file_lands_atomically(server, tmp_path) -> None:
    out = fetch(f"{server}/ok", tmp_path / "Train.zip", md5=MD5, progress=False)
    assert out.read_bytes() == PAYLOAD
    assert not list(tmp_path.glob(".*.part"))
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    assert fetch(f"{server}/ok", tmp_path / "again.zip", sha256=sha, progress=False).is_file()


def test_a_wrong_checksum_leaves_nothing(server, tmp_path) -> None:
    with pytest.raises(ValueError, match="does not match the published"):
        fetch(f"{server}/ok", tmp_path / "Train.zip", md5="0" * 32, progress=False)
    assert not (tmp_path / "Train.zip").exists() and not list(tmp_path.iterdir())


def test_a_broken_transfer_resumes(server, tmp_path) -> None:
    target = tmp_path / "Train.zip"
    with pytest.raises(ConnectionError, match="call again to resume"):
        fetch(f"{server}/cut", target, md5=MD5, progress=False)
    part = tmp_path / ".Train.zip.part"
    assert part.is_file() and 0 < part.stat().st_size < len(PAYLOAD) and not target.exists()
    size = part.stat().st_size
    Handler.requests.clear()
    fetch(f"{server}/cut", target, md5=MD5, progress=False)  # resumes with a range request
    assert target.read_bytes() == PAYLOAD and Handler.requests == [f"/cut bytes={size}-"]


def test_a_server_that_ignores_the_range_starts_again(server, tmp_path) -> None:
    part = tmp_path / ".x.zip.part"
    part.write_bytes(b"garbage")
    fetch(f"{server}/ignore-range", tmp_path / "x.zip", md5=MD5, progress=False)
    assert (tmp_path / "x.zip").read_bytes() == PAYLOAD


def test_a_server_error_is_named(server, tmp_path) -> None:
    with pytest.raises(ConnectionError, match="the server answered 500"):
        fetch(f"{server}/error", tmp_path / "x.zip", progress=False)


def test_locate_downloads_only_when_asked(server, tmp_path) -> None:
    resources = [Resource("Train.zip", MD5, "Train", url=f"{server}/ok")]
    with pytest.raises(FileNotFoundError, match="download=True"):
        locate(tmp_path, "Train", resources, dataset="Fixture", url="the fixture")
    folder = locate(
        tmp_path, "Train", resources, dataset="Fixture", url="the fixture", download=True
    )
    assert sorted(p.name for p in folder.iterdir()) == ["0", "1"]


def test_nmnist_download_true_fetches_and_reads(server, tmp_path, monkeypatch) -> None:
    from spikestack.data.datasets import NMNIST
    from spikestack.data.datasets import nmnist as module

    monkeypatch.setitem(module.DOWNLOAD, "Train", f"{server}/ok")
    monkeypatch.setitem(module.MD5, "Train", MD5)
    data = NMNIST(tmp_path, split="train", download=True)
    assert len(data) == 2 and data.targets == [0, 1]
    events, label = data[0]
    assert len(events) == 3 and label == 0 and np.all(events["t"] == 0)


def test_shd_download_true_fetches_the_zip_and_reads(tmp_path, monkeypatch) -> None:
    """SHD's download=True: the .h5.zip from its URL (here a local server), md5-checked,
    unpacked once."""
    h5py = pytest.importorskip("h5py")
    from spikestack.data.datasets import SHD
    from spikestack.data.datasets import shd as module

    h5 = tmp_path / "made" / "shd_train.h5"
    h5.parent.mkdir()
    with h5py.File(h5, "w") as f:
        f["labels"] = np.array([3, 7])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.write(h5, "shd_train.h5")
    body = buffer.getvalue()
    with http_files(body) as (base, _):
        monkeypatch.setattr(module, "URL", f"{base}/")
        monkeypatch.setitem(module.MD5, "shd_train.h5.zip", hashlib.md5(body).hexdigest())
        root = tmp_path / "root"
        with pytest.raises(FileNotFoundError, match="download=True"):
            SHD(root)
        data = SHD(root, download=True)
        assert data.targets == [3, 7] and (root / "shd_train.h5").exists()
        monkeypatch.setitem(module.MD5, "shd_test.h5.zip", "0" * 32)
        with pytest.raises(ValueError, match="md5"):
            SHD(root, split="test", download=True)
        assert not (root / "shd_test.h5.zip").exists()  # a bad transfer leaves nothing
