"""AEDAT 2.0 (jAER) files, and AEDAT 1.0 files that carry a header.

Layout (iniVation "AEDAT 2.0" documentation): ASCII header lines starting with ``#``
(first ``#!AER-DAT2.0``; jAER writes ``# AEChip: <class>`` and ends with
``#End Of ASCII Header``), then big-endian int32 address + int32 timestamp (1 µs tick)
per event (AEDAT 1.0: uint16 address + int32 timestamp). Address layouts:

    dvs128  p = bit 0, x = bits 7-1, y = bits 14-8; bit 15 set = external event (skipped)
    davis   bit 31 = 0 for DVS events: y = bits 30-22, x = bits 21-12, p = bit 11;
            bit 10 set = external input event; APS/IMU samples (bit 31 = 1) are skipped

``layout="auto"`` picks the layout from the AEChip line. Coordinates are as written
by jAER (origin at the lower-left for DAVIS chips; no flip is applied). :func:`write`
writes AEDAT 2.0 in either layout.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from spikestack.atomic import atomic_write
from spikestack.data.events import EVENT_DTYPE, EventFormatError
from spikestack.data.io._chips import ANY_DAVIS, JAER_CHIPS, chip_sensor_size
from spikestack.data.io._common import (
    Meta,
    check_path,
    concat,
    finish,
    iter_blocks,
    mismatch,
    read_head,
    read_text_header,
    whole_records,
)
from spikestack.data.io._writing import check_polarity, check_range, planar_sensor, prepare

_LAYOUTS = ("auto", "dvs128", "davis")
_COORDINATES = {"dvs128": (128, 128), "davis": (1024, 512)}  # what the address bits hold


def read_header(path: Path) -> dict[str, Any]:
    """Parse the ``#`` header: version, chip, creation / data start time (ms since the Unix
    epoch), data offset and sensor size."""
    path = check_path(path)
    head = read_head(path, 16)
    if not head.startswith(b"#!AER-DAT"):
        raise mismatch(path, "an AEDAT 1.0/2.0 file starting with '#!AER-DAT'", head)
    lines, offset = read_text_header(path, prefix=b"#", end_marker=b"#End Of ASCII Header")
    version = lines[0][len("!AER-DAT") :].strip()
    info: dict[str, Any] = {
        "version": version,
        "data_offset": offset,
        "chip": None,
        "start_time_ms": None,
    }
    for line in lines[1:]:
        if m := re.match(r"\s*AEChip:\s*(\S+)", line):
            info["chip"] = m.group(1)
        elif m := re.search(r"(DataStartTime|Creation time).*currentTimeMillis\(\)\s*(\d+)", line):
            key = "start_time_ms" if m.group(1) == "Creation time" else "data_start_time_ms"
            info.setdefault(key, None)
            if info[key] is None:
                info[key] = int(m.group(2))
    info["sensor_size"] = (
        chip_sensor_size(info["chip"].rsplit(".", 1)[-1]) if info["chip"] else None
    )
    return info


def _layout(info: dict[str, Any], layout: str, path: Path) -> str:
    if layout not in _LAYOUTS:
        raise ValueError(f"layout must be one of {_LAYOUTS}; got {layout!r}")
    if layout != "auto":
        return layout
    chip = (info["chip"] or "").lower()
    if "dvs128" in chip:
        return "dvs128"
    if "davis" in chip:
        return "davis"
    raise EventFormatError(
        f"{path}: cannot tell the address layout from AEChip {info['chip']!r}; "
        f"pass layout='dvs128' or layout='davis'"
    )


def _decode(rec: np.ndarray, layout: str) -> np.ndarray:
    addr = rec["addr"].astype(np.uint32)
    if layout == "dvs128":
        keep = (addr & 0x8000) == 0
        addr = addr[keep]
        x, y, p = (addr >> 1) & 0x7F, (addr >> 8) & 0x7F, addr & 1
    else:
        keep = (addr & 0x80000400) == 0
        addr = addr[keep]
        x, y, p = (addr >> 12) & 0x3FF, (addr >> 22) & 0x1FF, (addr >> 11) & 1
    events = np.empty(addr.shape[0], dtype=EVENT_DTYPE)
    events["t"] = rec["ts"][keep]
    events["x"], events["y"], events["p"] = x, y, p
    return events


def iter_chunks(
    path: Path,
    *,
    chunk: int,
    layout: str = "auto",
    allow_truncated: bool = False,
    sensor_size: tuple[int, ...] | None = None,
) -> Iterator[np.ndarray]:
    """Stream an AEDAT 2.0 file in blocks of ``chunk`` events."""
    info = read_header(path)
    path = Path(path)
    kind = _layout(info, layout, path)
    size = sensor_size or info["sensor_size"]
    record = np.dtype(
        [("addr", ">u2" if info["version"].startswith("1") else ">u4"), ("ts", ">i4")]
    )
    offset = info["data_offset"]
    n = whole_records(
        path.stat().st_size - offset,
        record.itemsize,
        path=path,
        what=f"AEDAT {info['version']} events",
        allow_truncated=allow_truncated,
    )
    for rec in iter_blocks(path, offset=offset, count=n, dtype=record, block=chunk):
        yield finish(_decode(rec, kind), path=path, sensor_size=size)


def read(
    path: Path,
    *,
    layout: str = "auto",
    allow_truncated: bool = False,
    sensor_size: tuple[int, ...] | None = None,
) -> tuple[np.ndarray, Meta]:
    """Read a whole AEDAT 2.0 file; meta carries the parsed header."""
    info = read_header(path)
    chunks = list(
        iter_chunks(
            path,
            chunk=1 << 62,
            layout=layout,
            allow_truncated=allow_truncated,
            sensor_size=sensor_size,
        )
    )
    meta = {"format": "aedat2", "sensor_size": sensor_size or info["sensor_size"], "header": info}
    return concat(chunks, EVENT_DTYPE), meta


def write(
    path: str | os.PathLike[str],
    events: np.ndarray,
    *,
    sensor_size: tuple[int, ...] | None = None,
    layout: str = "auto",
) -> Path:
    """Write 2-D events as AEDAT 2.0 (atomically), in the given order.

    ``layout`` is ``"dvs128"`` (x, y in [0, 127]), ``"davis"`` (x in [0, 1023], y in
    [0, 511]) or ``"auto"``: dvs128 for a 128 x 128 sensor, else davis. The sensor is
    recorded as the jAER chip class in ``# AEChip:``, which the reader maps back: DVS128
    (128 x 128; the dvs128 layout always reads back as that size), DAVIS240C (240 x 180),
    Davis346B (346 x 260), Davis640 (640 x 480), Davis208PixelParade (208 x 192). Other
    sizes, and none, are written as the generic DavisChip and read back as None (the size
    is then only checked). Limits: p 0 or 1, t in [0, 2**31) µs (int32, no overflow word;
    jAER's wrapped timestamps are not unwrapped by the reader). Unsorted events are written
    as given; the reader sorts them (with a warning).
    """
    path = Path(path)
    fmt = "AEDAT 2.0"
    if layout not in _LAYOUTS:
        raise ValueError(f"layout must be one of {_LAYOUTS}; got {layout!r}")
    events = prepare(events, path=path, fmt=fmt, dims=(2,))
    size = planar_sensor(sensor_size, events, path=path, fmt=fmt, max_size=(1024, 512))
    if layout == "auto":
        layout = "dvs128" if size is not None and size[:2] == (128, 128) else "davis"
    fmt = f"AEDAT 2.0 ({layout} layout)"
    for axis, field in enumerate("xy"):
        top = _COORDINATES[layout][axis] - 1
        check_range(
            events, field, 0, top, path=path, fmt=fmt, why=f"{top.bit_length()} address bits"
        )
    if size is not None:
        planar_sensor(size, events, path=path, fmt=fmt, max_size=_COORDINATES[layout])
    check_polarity(events, path=path, fmt=fmt)
    check_range(events, "t", 0, 2**31 - 1, path=path, fmt=fmt, why="int32 timestamp")
    known = [
        c for c, lay, wh in JAER_CHIPS if lay == layout and size is not None and wh == size[:2]
    ]
    chip = known[0] if known else (JAER_CHIPS[0][0] if layout == "dvs128" else ANY_DAVIS)
    x, y, p = (events[k].astype(np.uint32) for k in "xyp")
    rec = np.empty(events.shape[0], dtype=[("addr", ">u4"), ("ts", ">i4")])
    rec["addr"] = (y << 8 | x << 1 | p) if layout == "dvs128" else (y << 22 | x << 12 | p << 11)
    rec["ts"] = events["t"]
    header = (
        "#!AER-DAT2.0\r\n"
        "# This is a raw AE data file - do not edit\r\n"
        "# Data format is int32 address, int32 timestamp (8 bytes total), repeated for each event\r\n"
        "# Timestamps tick is 1 us\r\n"
        f"# AEChip: {chip}\r\n"
        "#End Of ASCII Header\r\n"
    ).encode("ascii")
    data = header + rec.tobytes()
    return atomic_write(path, lambda f: f.write(data))
