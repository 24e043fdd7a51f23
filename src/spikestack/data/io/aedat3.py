"""AEDAT 3.1 files (cAER / jAER 3; e.g. the DVS128 Gesture dataset).

Layout (iniVation "AEDAT 3.1" documentation): ASCII header lines starting with ``#``
(first ``#!AER-DAT3.1``, e.g. ``#Source 1: DVS128``, last ``#!END-HEADER``), then
packets. Each packet has a 28-byte little-endian header

    int16 eventType, int16 eventSource, int32 eventSize, int32 eventTSOffset,
    int32 eventTSOverflow, int32 eventCapacity, int32 eventNumber, int32 eventValid

followed by eventNumber * eventSize bytes. Polarity packets (eventType 1) hold 8-byte
events: uint32 data (bit 0 = valid, bit 1 = polarity, y = bits 16-2, x = bits 31-17)
and int32 timestamp (µs); the full time is eventTSOverflow << 31 | timestamp. Other
packet types are skipped, as are events whose valid bit is clear. Neither count may be
negative: a negative eventTSOverflow is a corrupt packet header (an error), a negative
timestamp a damaged event (dropped, counted in a warning). The packet walk is
a loop over packets (a few per thousand events); decoding is vectorised. :func:`write`
writes polarity packets.
"""

from __future__ import annotations

import os
import re
import struct
import warnings
from pathlib import Path

import numpy as np

from spikestack.atomic import atomic_write
from spikestack.data.events import EVENT_DTYPE, EventFormatError
from spikestack.data.io._chips import CAER_SOURCES, NO_SOURCE, chip_sensor_size
from spikestack.data.io._common import (
    Meta,
    check_path,
    finish,
    mismatch,
    read_head,
    read_text_header,
)
from spikestack.data.io._writing import check_polarity, check_range, planar_sensor, prepare

_PACKET = struct.Struct("<hhiiiiii")
_POLARITY = 1
_EVENT = np.dtype([("data", "<u4"), ("ts", "<i4")])


def _truncated(path: Path, msg: str, allow_truncated: bool) -> None:
    msg = f"{path}: {msg} (truncated file?)"
    if not allow_truncated:
        raise EventFormatError(msg + "; pass allow_truncated=True to drop the partial packet")
    warnings.warn(msg + "; dropped the partial packet", stacklevel=3)


def read(
    path: Path, *, allow_truncated: bool = False, sensor_size: tuple[int, ...] | None = None
) -> tuple[np.ndarray, Meta]:
    """Read the polarity events of an AEDAT 3.1 file."""
    path = check_path(path)
    head = read_head(path, 16)
    if not head.startswith(b"#!AER-DAT3"):
        raise mismatch(path, "an AEDAT 3.x file starting with '#!AER-DAT3'", head)
    lines, offset = read_text_header(path, prefix=b"#", end_marker=b"#!END-HEADER")
    sources = dict(re.findall(r"^-?Source (\d+):\s*(.+)$", "\n".join(lines), re.MULTILINE))
    size = sensor_size
    for name in sources.values():
        size = size or chip_sensor_size(name)
    buf = np.fromfile(path, dtype=np.uint8, offset=offset)
    total = buf.shape[0]
    pieces: list[np.ndarray] = []
    overflow: list[int] = []
    pos = 0
    while pos < total:
        if total - pos < _PACKET.size:
            _truncated(
                path, f"{total - pos} byte(s) left over after the last packet", allow_truncated
            )
            break
        kind, _source, ev_size, _ts_off, ts_over, _cap, number, _valid = _PACKET.unpack_from(
            buf, pos
        )
        end = pos + _PACKET.size + number * ev_size
        if number < 0 or ev_size <= 0 or ts_over < 0:
            raise EventFormatError(
                f"{path}: corrupt packet header at byte {offset + pos}: size {ev_size}, "
                f"number {number}, eventTSOverflow {ts_over}"
            )
        if end > total:
            _truncated(
                path,
                f"packet at byte {offset + pos} needs {end - pos} bytes, {total - pos} left",
                allow_truncated,
            )
            break
        if kind == _POLARITY:
            if ev_size != _EVENT.itemsize:
                raise EventFormatError(f"{path}: polarity events must be 8 bytes; got {ev_size}")
            pieces.append(buf[pos + _PACKET.size : end])
            overflow.append(ts_over)
        pos = end
    raw = np.concatenate(pieces).view(_EVENT) if pieces else np.empty(0, _EVENT)
    counts = [p.shape[0] // _EVENT.itemsize for p in pieces]
    high = np.repeat(np.asarray(overflow, dtype=np.int64), counts) << 31
    valid = (raw["data"] & 1) == 1
    data = raw["data"][valid]
    events = np.empty(data.shape[0], dtype=EVENT_DTYPE)
    events["t"] = high[valid] | raw["ts"][valid].astype(np.int64)
    events["x"] = (data >> 17) & 0x7FFF
    events["y"] = (data >> 2) & 0x7FFF
    events["p"] = (data >> 1) & 1
    events = finish(events, path=path, sensor_size=size)
    return events, {"format": "aedat3", "sensor_size": size, "header": lines, "sources": sources}


def write(
    path: str | os.PathLike[str],
    events: np.ndarray,
    *,
    sensor_size: tuple[int, ...] | None = None,
    packet_events: int = 8192,
) -> Path:
    """Write 2-D events as AEDAT 3.1 polarity packets (atomically).

    Header: ``#!AER-DAT3.1``, ``#Format: RAW``, ``#Source 1: <sensor>``, ``#!END-HEADER``.
    Events go into polarity packets (type 1, source 1, 8-byte events, all valid) of at
    most ``packet_events`` events, one eventTSOverflow value per packet: t = overflow << 31
    | timestamp. Limits: x, y in [0, 32767] (15 bits), p 0 or 1, t in [0, 2**62) µs,
    sorted by t. The sensor is recorded as a cAER source name that the reader maps back:
    DVS128 (128 x 128), DAVIS240C (240 x 180), DAVIS346B (346 x 260), DAVIS640 (640 x 480),
    DAVIS208 (208 x 192); other sizes, and none, read back as None (the size is then only
    checked).
    """
    path = Path(path)
    fmt = "AEDAT 3.1"
    if isinstance(packet_events, bool) or not isinstance(packet_events, int) or packet_events < 1:
        raise ValueError(f"packet_events must be an int >= 1; got {packet_events!r}")
    events = prepare(events, path=path, fmt=fmt, dims=(2,), needs_order=True)
    for field in "xy":
        check_range(events, field, 0, 0x7FFF, path=path, fmt=fmt, why="15 bits")
    check_polarity(events, path=path, fmt=fmt)
    check_range(
        events, "t", 0, 2**62 - 1, path=path, fmt=fmt, why="int32 overflow << 31 | int32 timestamp"
    )
    size = planar_sensor(sensor_size, events, path=path, fmt=fmt, max_size=(0x8000, 0x8000))
    source = CAER_SOURCES.get(size[:2], NO_SOURCE) if size is not None else NO_SOURCE
    rec = np.empty(events.shape[0], dtype=_EVENT)
    rec["data"] = (
        events["x"].astype(np.uint32) << 17 | events["y"].astype(np.uint32) << 2
        | events["p"].astype(np.uint32) << 1 | 1
    )  # fmt: skip
    t = events["t"].astype(np.int64)
    rec["ts"] = t & 0x7FFFFFFF
    overflow = t >> 31
    # a packet ends where the overflow changes or after packet_events events
    cuts = np.flatnonzero(overflow[1:] != overflow[:-1]) + 1
    parts = [b"#!AER-DAT3.1\r\n#Format: RAW\r\n", f"#Source 1: {source}\r\n".encode()]
    parts.append(b"#!END-HEADER\r\n")
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, rec.shape[0]], strict=True):
        for start in range(int(lo), int(hi), packet_events):
            chunk = rec[start : min(start + packet_events, int(hi))]
            n = chunk.shape[0]
            over = int(overflow[start])
            parts.append(_PACKET.pack(_POLARITY, 1, _EVENT.itemsize, 4, over, n, n, n))
            parts.append(chunk.tobytes())
    data = b"".join(parts)
    return atomic_write(path, lambda f: f.write(data))
