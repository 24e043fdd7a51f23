"""Test data helpers shared by the data tests: where the real sample files are, random
events, and hand-built encodings of every binary event format.

The encoders below are written from the format documentation (see each reader's
docstring and ../shared/data/SOURCES.md), independently of spikestack's own writers, so
that a bug shared by a writer and its reader cannot hide: reader tests read these
bytes, round-trip tests use the package writers. Where the package writer lays out the
same format, the encoder here uses another valid layout when the format allows one
(e.g. the AEDAT 4 FlatBuffers).

``tests/`` is on ``sys.path`` because pytest puts the folder of the root conftest.py
there (rootdir-based "prepend" import mode), so test modules ``import _data``.
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from spikestack.data import EVENT_DTYPE, EVENT_DTYPE_1D

# The real sample files: $SPIKESTACK_TEST_DATA, else the shared/data folder beside the
# repository (<repo>/../shared/data). Tests reach them through the sample_folder fixture.
ENV_VAR = "SPIKESTACK_TEST_DATA"
SHARED_DATA = Path(
    os.environ.get(ENV_VAR) or Path(__file__).resolve().parents[1].parent / "shared" / "data"
)


def random_events(
    n: int,
    *,
    width: int,
    height: int | None = None,
    t_max: int = 10**6,
    seed: int = 0,
    polarities: int = 2,
) -> np.ndarray:
    """``n`` canonical events sorted by t (2-D, or 1-D when ``height`` is None)."""
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, dtype=EVENT_DTYPE_1D if height is None else EVENT_DTYPE)
    ev["t"] = np.sort(rng.integers(0, t_max, n))
    ev["x"] = rng.integers(0, width, n)
    if height is not None:
        ev["y"] = rng.integers(0, height, n)
    ev["p"] = rng.integers(0, polarities, n) if polarities > 1 else 1
    return ev


# --------------------------------------------------------------------- headerless formats


def bin_bytes(events: np.ndarray) -> bytes:
    """N-MNIST .bin: the 5-byte big-endian word x | y | p << 7 | t (23 bits) per event.
    Events whose y is 240 come out as overflow markers."""
    raw = np.zeros((events.shape[0], 5), dtype=np.uint8)
    t = events["t"].astype(np.int64)
    raw[:, 0] = events["x"]
    raw[:, 1] = events["y"]
    raw[:, 2] = (events["p"].astype(np.int64) << 7) | (t >> 16) & 0x7F
    raw[:, 3] = (t >> 8) & 0xFF
    raw[:, 4] = t & 0xFF
    return raw.tobytes()


def bs1_bytes(ids: np.ndarray, t: np.ndarray, p: np.ndarray | int = 1) -> bytes:
    """SLAYER .bs1: 16-bit neuron id in bytes 0-1, then p << 7 | t (23 bits)."""
    ids, t = np.asarray(ids, np.int64), np.asarray(t, np.int64)
    raw = np.zeros((ids.shape[0], 5), np.uint8)
    raw[:, 0], raw[:, 1] = ids >> 8, ids & 0xFF
    raw[:, 2] = (np.asarray(p, np.int64) << 7) | (t >> 16)
    raw[:, 3], raw[:, 4] = (t >> 8) & 0xFF, t & 0xFF
    return raw.tobytes()


def aer_bytes(addresses: np.ndarray, ticks: np.ndarray, *, address_size: int = 2) -> bytes:
    """Headerless raw AER: big-endian address (2 or 4 bytes) + big-endian uint32 ticks."""
    rec = np.empty(len(addresses), dtype=[("a", f">u{address_size}"), ("t", ">u4")])
    rec["a"], rec["t"] = addresses, ticks
    return rec.tobytes()


# --------------------------------------------------------------------- Prophesee


def evt2_bytes(events: np.ndarray, header: str = "% evt 2.0\n") -> bytes:
    """EVT 2.0 words: a TIME_HIGH word whenever t >> 6 changes, then one CD word per event."""
    words: list[int] = []
    high = None
    for t, x, y, p in events.tolist():
        if t >> 6 != high:
            high = t >> 6
            words.append(0x8 << 28 | high)
        words.append((1 if p else 0) << 28 | (t & 0x3F) << 22 | x << 11 | y)
    return header.encode() + np.asarray(words, dtype="<u4").tobytes()


def evt3_bytes(events: np.ndarray, header: str = "% evt 3.0\n") -> bytes:
    """EVT 3.0 words: TIME_HIGH / TIME_LOW / ADDR_Y when they change, one ADDR_X per event."""
    words: list[int] = []
    high = low = row = None
    for t, x, y, p in events.tolist():
        if (t >> 12) & 0xFFF != high:
            high = (t >> 12) & 0xFFF
            words.append(0x8 << 12 | high)
        if t & 0xFFF != low:
            low = t & 0xFFF
            words.append(0x6 << 12 | low)
        if y != row:
            row = y
            words.append(y)
        words.append(0x2 << 12 | p << 11 | x)
    return header.encode() + np.asarray(words, dtype="<u2").tobytes()


def dat_bytes(events: np.ndarray, header: str = "% Version 2\n") -> bytes:
    """Prophesee .dat Version 2: % header, type 0 / size 8, then uint32 t and data pairs."""
    rec = np.empty(events.shape[0], dtype=[("t", "<u4"), ("d", "<u4")])
    rec["t"] = events["t"]
    x, y, p = (events[k].astype(np.uint32) for k in "xyp")
    rec["d"] = x | y << 14 | p << 28
    return header.encode() + bytes([0, 8]) + rec.tobytes()


# --------------------------------------------------------------------- AEDAT


def aedat2_bytes(
    events: np.ndarray, *, layout: str, chip: str | None = None, extra_addr: list[int] = ()
) -> bytes:
    """AEDAT 2.0: # header (with '# AEChip:' unless ``chip`` is None, like CIFAR10-DVS
    files), then big-endian int32 address + int32 timestamp; ``extra_addr`` appends
    special/APS addresses that the reader must skip."""
    header = "#!AER-DAT2.0\r\n# This is a raw AE data file\r\n"
    header += "# Creation time: System.currentTimeMillis() 1700000000000\r\n"
    if chip is not None:
        header += f"# AEChip: {chip}\r\n"
    header += "#End Of ASCII Header\r\n"
    x, y, p = (events[k].astype(np.uint32) for k in "xyp")
    addr = (y << 8 | x << 1 | p) if layout == "dvs128" else (y << 22 | x << 12 | p << 11)
    rec = np.empty(events.shape[0] + len(extra_addr), dtype=[("a", ">u4"), ("t", ">i4")])
    rec["a"] = np.concatenate([addr, np.asarray(extra_addr, np.uint32)])
    last = events["t"][-1] if events.shape[0] else 0
    rec["t"] = np.concatenate([events["t"], np.full(len(extra_addr), last)])
    return header.encode() + rec.tobytes()


def aedat3_packet(events: np.ndarray, overflow: int, *, valid: np.ndarray | None = None) -> bytes:
    """One AEDAT 3.1 polarity packet: 28-byte header, then uint32 data + int32 ts per event."""
    rec = np.empty(events.shape[0], dtype=[("d", "<u4"), ("t", "<i4")])
    x, y, p = (events[k].astype(np.uint32) for k in "xyp")
    ok = np.ones(events.shape[0], np.uint32) if valid is None else valid.astype(np.uint32)
    rec["d"] = x << 17 | y << 2 | p << 1 | ok
    rec["t"] = events["t"] & 0x7FFFFFFF
    n = events.shape[0]
    return struct.pack("<hhiiiiii", 1, 1, 8, 4, overflow, n, n, int(ok.sum())) + rec.tobytes()


def aedat3_file(packets: list[bytes], source: str = "DVS128") -> bytes:
    header = f"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: {source}\r\n#!END-HEADER\r\n"
    return header.encode() + b"".join(packets)


def aedat4_io_header(compression: int, xml: str) -> bytes:
    """An IOHeader FlatBuffer laid out unlike DV's: vtable at 8, table at 20, string at 40."""
    text = xml.encode()
    buf = struct.pack("<I4s", 20, b"IOHE")
    buf += struct.pack("<HHHHH", 10, 20, 4, 12, 8) + b"\x00\x00"
    buf += struct.pack("<iiIq", 12, compression, 12, -1)
    return buf + struct.pack("<I", len(text)) + text + b"\x00"


def aedat4_event_packet(events: np.ndarray) -> bytes:
    """A size-prefixed EventPacket FlatBuffer (vtable right after the identifier)."""
    rec = np.zeros(
        events.shape[0], dtype=[("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("on", "u1"), ("_", "V3")]
    )
    rec["t"], rec["x"], rec["y"], rec["on"] = events["t"], events["x"], events["y"], events["p"]
    body = struct.pack("<I4s", 16, b"EVTS") + struct.pack("<HHH", 6, 8, 4) + b"\x00\x00"
    body += struct.pack("<iI", 8, 4) + struct.pack("<I", events.shape[0]) + rec.tobytes()
    return struct.pack("<I", len(body)) + body


# --------------------------------------------------------------------- HDF5 and MATLAB


def write_shd(path: Path, samples: list[tuple[np.ndarray, np.ndarray]], labels: list[int]) -> None:
    """An SHD/SSC-layout HDF5 file: variable-length spikes/times (s) and spikes/units, labels."""
    import h5py

    with h5py.File(path, "w") as f:
        times = f.create_dataset("spikes/times", (len(samples),), dtype=h5py.vlen_dtype(np.float32))
        units = f.create_dataset("spikes/units", (len(samples),), dtype=h5py.vlen_dtype(np.uint16))
        for i, (t, u) in enumerate(samples):
            times[i], units[i] = t, u
        f.create_dataset("labels", data=np.asarray(labels, np.uint16))


def write_asl_dvs_mat(path: Path, events: np.ndarray) -> None:
    """An ASL-DVS sample as its files store it: float64 column vectors ts, x, y, pol."""
    from scipy.io import savemat

    cols = {"ts": events["t"], "x": events["x"], "y": events["y"], "pol": events["p"]}
    savemat(path, {k: v.astype(np.float64).reshape(-1, 1) for k, v in cols.items()})


# --------------------------------------------------------------------- downloads


def zip_bytes(files: dict[str, bytes]) -> bytes:
    """A zip archive (in memory) of ``{member name: bytes}``."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


@contextlib.contextmanager
def http_files(files: dict[str, bytes] | bytes) -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server on 127.0.0.1 for download tests: ``(base URL, paths asked)``.
    ``files`` maps paths (``/name``) to bytes (others answer 404), or is the one body every
    path gets."""
    import http.server
    import threading

    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            asked.append(self.path)
            body = files if isinstance(files, bytes) else files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", asked
    finally:
        httpd.shutdown()
