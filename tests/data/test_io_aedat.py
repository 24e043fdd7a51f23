"""AEDAT 2.0 / 3.1 / 4.0 readers: header fixtures, the DVXplorer sample, files written here."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from spikestack.data import EVENT_DTYPE, EventFormatError, iter_events, read_events
from spikestack.data.io import aedat2, aedat4

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def real(name: str) -> Path:
    if not DATA.is_dir():
        pytest.skip(f"sample data folder {DATA} is absent")
    return DATA / name


def some_events(n: int, *, width: int, height: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, dtype=EVENT_DTYPE)
    ev["t"] = np.sort(rng.integers(0, 2**31 - 1, n))
    ev["x"], ev["y"] = rng.integers(0, width, n), rng.integers(0, height, n)
    ev["p"] = rng.integers(0, 2, n)
    return ev


# --------------------------------------------------------------------- AEDAT 2.0


def aedat2_bytes(events: np.ndarray, chip: str, layout: str, extra_addr: list[int] = ()) -> bytes:
    header = (
        f"#!AER-DAT2.0\r\n# Data format is int32 address, int32 timestamp\r\n"
        f"# Creation time: System.currentTimeMillis() 1700000000000\r\n# AEChip: {chip}\r\n"
        f"#End Of ASCII Header\r\n"
    ).encode()
    x, y, p = (events[k].astype(np.uint32) for k in "xyp")
    addr = (y << 8 | x << 1 | p) if layout == "dvs128" else (y << 22 | x << 12 | p << 11)
    rec = np.empty(events.shape[0] + len(extra_addr), dtype=[("a", ">u4"), ("t", ">i4")])
    rec["a"] = np.concatenate([addr, np.asarray(extra_addr, np.uint32)])
    rec["t"] = np.concatenate([events["t"], np.full(len(extra_addr), events["t"][-1])])
    return header + rec.tobytes()


@pytest.mark.parametrize(
    ("name", "offset", "size"),
    [
        ("aedat2/header_test_128.aedat", 4241, (128, 128, 2)),
        ("aedat2/header_test_240.aedat", 303_869, (240, 180, 2)),
    ],
)
def test_aedat2_header_fixtures(name, offset, size) -> None:
    info = aedat2.read_header(real(name))
    assert info["version"] == "2.0" and info["data_offset"] == offset
    assert info["sensor_size"] == size
    # After the header there is only a '$$$...\r\n' marker line: not whole 8-byte events.
    with pytest.raises(EventFormatError, match="left over"):
        read_events(real(name))


def test_aedat2_tonic_header_only_file() -> None:
    ev, meta = read_events(real("tonic_samples/sample_aedat_header.aedat"), return_meta=True)
    assert ev.shape[0] == 0 and ev.dtype == EVENT_DTYPE
    assert meta["header"]["version"] == "2.0"
    assert meta["header"]["start_time_ms"] == 1_695_355_587_880
    assert meta["sensor_size"] == (346, 260, 2)


@pytest.mark.parametrize(
    ("chip", "layout", "w", "h", "special"),
    [
        ("ch.unizh.ini.jaer.chip.retina.DVS128", "dvs128", 128, 128, 0x8000),
        ("eu.seebetter.ini.chips.davis.DAVIS240C", "davis", 240, 180, 0x80000000),
    ],
)
def test_aedat2_round_trip(tmp_path, chip, layout, w, h, special) -> None:
    events = some_events(500, width=w, height=h)
    path = tmp_path / "rec.aedat"
    path.write_bytes(aedat2_bytes(events, chip, layout, extra_addr=[special]))
    ev, meta = read_events(path, return_meta=True)
    np.testing.assert_array_equal(ev, events)  # the special / APS event is skipped
    assert meta["sensor_size"] == (w, h, 2)
    np.testing.assert_array_equal(np.concatenate(list(iter_events(path, chunk=33))), events)


def test_aedat2_unknown_chip_needs_layout(tmp_path) -> None:
    events = some_events(10, width=128, height=128)
    path = tmp_path / "rec.aedat"
    path.write_bytes(aedat2_bytes(events, "some.OtherChip", "dvs128"))
    with pytest.raises(EventFormatError, match="layout="):
        read_events(path)
    np.testing.assert_array_equal(read_events(path, layout="dvs128"), events)


# --------------------------------------------------------------------- AEDAT 3.1


def aedat3_packet(events: np.ndarray, overflow: int, *, valid: np.ndarray | None = None) -> bytes:
    rec = np.empty(events.shape[0], dtype=[("d", "<u4"), ("t", "<i4")])
    x, y, p = (events[k].astype(np.uint32) for k in "xyp")
    ok = np.ones(events.shape[0], np.uint32) if valid is None else valid.astype(np.uint32)
    rec["d"] = x << 17 | y << 2 | p << 1 | ok
    rec["t"] = events["t"] & 0x7FFFFFFF
    n = events.shape[0]
    return struct.pack("<hhiiiiii", 1, 1, 8, 4, overflow, n, n, int(ok.sum())) + rec.tobytes()


def aedat3_file(packets: list[bytes]) -> bytes:
    header = b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#!END-HEADER\r\n"
    return header + b"".join(packets)


def test_aedat3_polarity_packets(tmp_path) -> None:
    a = some_events(100, width=128, height=128, seed=1)
    b = some_events(50, width=128, height=128, seed=2)
    valid = np.ones(50, bool)
    valid[7] = False
    imu = struct.pack("<hhiiiiii", 3, 1, 4, 0, 0, 2, 2, 2) + b"\x00" * 8  # not polarity: skipped
    path = tmp_path / "gesture.aedat"
    path.write_bytes(aedat3_file([aedat3_packet(a, 0), imu, aedat3_packet(b, 1, valid=valid)]))
    ev, meta = read_events(path, return_meta=True)
    b_t = b.copy()
    b_t["t"] += 1 << 31
    expected = np.concatenate([a, b_t[valid]])
    np.testing.assert_array_equal(ev, expected)
    assert meta["sensor_size"] == (128, 128, 2) and meta["format"] == "aedat3"


def test_aedat3_truncated_packet(tmp_path) -> None:
    data = aedat3_file([aedat3_packet(some_events(10, width=128, height=128), 0)])
    path = tmp_path / "cut.aedat"
    path.write_bytes(data[:-5])
    with pytest.raises(EventFormatError, match="needs 108 bytes, 103 left"):
        read_events(path)
    with pytest.warns(UserWarning, match="partial packet"):
        assert read_events(path, allow_truncated=True).shape[0] == 0


# --------------------------------------------------------------------- AEDAT 4.0


def test_aedat4_dvxplorer_sample() -> None:
    pytest.importorskip("lz4")
    ev, meta = read_events(real("tonic_samples/sample.aedat4"), return_meta=True)
    assert ev.shape[0] == 111_954
    assert (int(ev["t"].min()), int(ev["t"].max())) == (
        1_605_537_493_718_345,
        1_605_537_494_308_262,
    )
    assert (ev["x"].max(), ev["y"].max()) == (319, 239)
    assert int(np.count_nonzero(ev["p"] == 1)) == 55_023
    assert np.all(np.diff(ev["t"]) >= 0)
    assert meta["sensor_size"] == (320, 240, 2)
    assert meta["header"]["compression"] == 1


def io_header(compression: int, xml: str) -> bytes:
    """A hand-built IOHeader FlatBuffer: vtable at 8, table at 20, string at 40."""
    text = xml.encode()
    buf = struct.pack("<I4s", 20, b"IOHE")
    buf += struct.pack("<HHHHH", 10, 20, 4, 12, 8) + b"\x00\x00"
    buf += struct.pack("<iiIq", 12, compression, 12, -1)
    return buf + struct.pack("<I", len(text)) + text + b"\x00"


def event_packet(events: np.ndarray) -> bytes:
    """A size-prefixed EventPacket FlatBuffer holding ``events``."""
    rec = np.zeros(
        events.shape[0], dtype=[("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("on", "u1"), ("_", "V3")]
    )
    rec["t"], rec["x"], rec["y"], rec["on"] = events["t"], events["x"], events["y"], events["p"]
    body = struct.pack("<I4s", 16, b"EVTS") + struct.pack("<HHH", 6, 8, 4) + b"\x00\x00"
    body += struct.pack("<iI", 8, 4) + struct.pack("<I", events.shape[0]) + rec.tobytes()
    return struct.pack("<I", len(body)) + body


XML = (
    '<dv version="2.0"><node name="outInfo" path="/o/"><node name="0" path="/o/0/">'
    '<attr key="typeIdentifier" type="string">EVTS</attr><node name="info" path="/o/0/info/">'
    '<attr key="sizeX" type="int">64</attr><attr key="sizeY" type="int">48</attr></node></node>'
    '<node name="1" path="/o/1/"><attr key="typeIdentifier" type="string">IMUS</attr></node>'
    "</node></dv>"
)


@pytest.mark.parametrize(("compression", "module"), [(0, None), (1, "lz4.frame"), (3, "zstandard")])
def test_aedat4_round_trip(tmp_path, compression, module) -> None:
    if module == "lz4.frame":
        compress = pytest.importorskip("lz4.frame").compress
    elif module == "zstandard":
        compress = pytest.importorskip("zstandard").ZstdCompressor().compress
    else:
        compress = bytes
    events = some_events(300, width=64, height=48)
    header = io_header(compression, XML)
    data = aedat4.MAGIC + struct.pack("<I", len(header)) + header
    for part in np.array_split(events, 3):
        payload = compress(event_packet(part))
        data += struct.pack("<ii", 0, len(payload)) + payload
        junk = compress(b"\x00" * 16)  # an IMU-stream packet, never parsed
        data += struct.pack("<ii", 1, len(junk)) + junk
    path = tmp_path / "rec.aedat4"
    path.write_bytes(data)
    ev, meta = read_events(path, return_meta=True)
    np.testing.assert_array_equal(ev, events)
    assert meta["sensor_size"] == (64, 48, 2)
    path.write_bytes(data[:-3])
    with pytest.raises(EventFormatError, match="truncated"):
        read_events(path)


def test_aedat4_bad_identifier(tmp_path) -> None:
    header = io_header(0, XML).replace(b"IOHE", b"XXXX")
    path = tmp_path / "bad.aedat4"
    path.write_bytes(aedat4.MAGIC + struct.pack("<I", len(header)) + header)
    with pytest.raises(EventFormatError, match="IOHE"):
        read_events(path)
