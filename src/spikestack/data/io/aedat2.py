"""AEDAT 2.0 (jAER) files, and AEDAT 1.0 files that carry a header.

Layout (iniVation "AEDAT 2.0" documentation): ASCII header lines starting with ``#``
(first ``#!AER-DAT2.0``; jAER writes ``# AEChip: <class>`` and ends with
``#End Of ASCII Header``), then big-endian int32 address + int32 timestamp (1 µs tick)
per event (AEDAT 1.0: uint16 address + int32 timestamp). Address layouts:

    dvs128  p = bit 0, x = bits 7-1, y = bits 14-8; bit 15 set = external event (skipped)
    davis   bit 31 = 0 for DVS events: y = bits 30-22, x = bits 21-12, p = bit 11;
            bit 10 set = external input event; APS/IMU samples (bit 31 = 1) are skipped

``layout="auto"`` picks the layout from the AEChip line. Coordinates are as written
by jAER (origin at the lower-left for DAVIS chips; no flip is applied).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from spikestack.data.events import EVENT_DTYPE, EventFormatError
from spikestack.data.io._common import (
    Meta,
    check_path,
    chip_sensor_size,
    concat,
    finish,
    iter_blocks,
    mismatch,
    read_head,
    read_text_header,
    whole_records,
)

_LAYOUTS = ("auto", "dvs128", "davis")


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
