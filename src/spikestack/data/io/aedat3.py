"""AEDAT 3.1 files (cAER / jAER 3; e.g. the DVS128 Gesture dataset).

Layout (iniVation "AEDAT 3.1" documentation): ASCII header lines starting with ``#``
(first ``#!AER-DAT3.1``, e.g. ``#Source 1: DVS128``, last ``#!END-HEADER``), then
packets. Each packet has a 28-byte little-endian header

    int16 eventType, int16 eventSource, int32 eventSize, int32 eventTSOffset,
    int32 eventTSOverflow, int32 eventCapacity, int32 eventNumber, int32 eventValid

followed by eventNumber * eventSize bytes. Polarity packets (eventType 1) hold 8-byte
events: uint32 data (bit 0 = valid, bit 1 = polarity, y = bits 16-2, x = bits 31-17)
and int32 timestamp (µs); the full time is eventTSOverflow << 31 | timestamp. Other
packet types are skipped, as are events whose valid bit is clear. The packet walk is
a loop over packets (a few per thousand events); decoding is vectorised.
"""

from __future__ import annotations

import re
import struct
import warnings
from pathlib import Path

import numpy as np

from spikestack.data.events import EVENT_DTYPE, EventFormatError
from spikestack.data.io._common import (
    Meta,
    check_path,
    chip_sensor_size,
    finish,
    mismatch,
    read_head,
    read_text_header,
)

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
        if number < 0 or ev_size <= 0:
            raise EventFormatError(
                f"{path}: corrupt packet header at byte {offset + pos}: size {ev_size}, number {number}"
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
