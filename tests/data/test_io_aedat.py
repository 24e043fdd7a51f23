"""AEDAT 2.0 / 3.1 / 4.0 readers on hand-built files (the header fixtures and the
DVXplorer sample are read in test_real_files.py)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from _data import (
    aedat2_bytes,
    aedat3_file,
    aedat3_packet,
    aedat4_event_packet,
    aedat4_io_header,
    random_events,
)

from spikestack.data import EventFormatError, iter_events, read_events
from spikestack.data.io import aedat4


def some_events(n: int, *, width: int, height: int, seed: int = 0) -> np.ndarray:
    return random_events(n, width=width, height=height, t_max=2**31 - 1, seed=seed)


# --------------------------------------------------------------------- AEDAT 2.0


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
    path.write_bytes(aedat2_bytes(events, layout=layout, chip=chip, extra_addr=[special]))
    ev, meta = read_events(path, return_meta=True)
    np.testing.assert_array_equal(ev, events)  # the special / APS event is skipped
    assert meta["sensor_size"] == (w, h, 2)
    np.testing.assert_array_equal(np.concatenate(list(iter_events(path, chunk=33))), events)


def test_aedat2_unknown_chip_needs_layout(tmp_path) -> None:
    events = some_events(10, width=128, height=128)
    path = tmp_path / "rec.aedat"
    path.write_bytes(aedat2_bytes(events, layout="dvs128", chip="some.OtherChip"))
    with pytest.raises(EventFormatError, match="layout="):
        read_events(path)
    np.testing.assert_array_equal(read_events(path, layout="dvs128"), events)


# --------------------------------------------------------------------- AEDAT 3.1


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


def test_aedat3_negative_overflow_or_timestamps_are_damage_not_negative_times(tmp_path) -> None:
    events = some_events(10, width=128, height=128)
    path = tmp_path / "neg.aedat"
    path.write_bytes(aedat3_file([aedat3_packet(events, -2)]))
    with pytest.raises(
        EventFormatError, match=r"neg\.aedat: corrupt packet header .* eventTSOverflow -2"
    ):
        read_events(path)
    packet = bytearray(aedat3_packet(events, 0))
    packet[28 + 8 * 3 + 7] |= 0x80  # the sign bit of the 4th event's timestamp
    path.write_bytes(aedat3_file([bytes(packet)]))
    with pytest.warns(UserWarning, match="dropped 1 event.* negative timestamp"):
        got = read_events(path)
    np.testing.assert_array_equal(got, np.delete(events, 3))


# --------------------------------------------------------------------- AEDAT 4.0


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
        import lz4.frame

        compress = lz4.frame.compress
    elif module == "zstandard":
        import zstandard

        compress = zstandard.ZstdCompressor().compress
    else:
        compress = bytes
    events = some_events(300, width=64, height=48)
    header = aedat4_io_header(compression, XML)
    data = aedat4.MAGIC + struct.pack("<I", len(header)) + header
    for part in np.array_split(events, 3):
        payload = compress(aedat4_event_packet(part))
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
    header = aedat4_io_header(0, XML).replace(b"IOHE", b"XXXX")
    path = tmp_path / "bad.aedat4"
    path.write_bytes(aedat4.MAGIC + struct.pack("<I", len(header)) + header)
    with pytest.raises(EventFormatError, match="IOHE"):
        read_events(path)


def test_aedat2_without_chip_line_reads_with_layout(tmp_path) -> None:
    # CIFAR10-DVS files name no AEChip: the layout must be given
    events = some_events(40, width=128, height=128)
    path = tmp_path / "cifar.aedat"
    path.write_bytes(aedat2_bytes(events, layout="davis"))
    with pytest.raises(EventFormatError, match="layout="):
        read_events(path)
    ev, meta = read_events(path, layout="davis", return_meta=True)
    np.testing.assert_array_equal(ev, events)
    assert meta["sensor_size"] is None
