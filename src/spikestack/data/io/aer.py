"""Headerless raw AER files: AEDAT 1.0-style 6-byte events, e.g. NAS cochlea recordings.

Layout (jAER AEDAT 1.0 / the pyNAVIS NAS format): no header; each event is a
big-endian address (uint16, or uint32 with ``address_size=4``) followed by a big-endian
uint32 timestamp in ticks of ``tick_us`` microseconds (USBAERmini2 NAS recordings use
0.2 µs). Gives ``EVENT_DTYPE_1D`` events with t = round(ticks * tick_us) and
x = address, p = 1; with ``on_off=True`` (NAS with ON/OFF outputs, address =
2 * channel + polarity) x = address >> 1 and p = address & 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from spikestack.data.events import EVENT_DTYPE_1D, EventFormatError
from spikestack.data.io._common import (
    Meta,
    check_path,
    concat,
    finish,
    iter_blocks,
    mismatch,
    read_head,
    whole_records,
)


def _record(address_size: int) -> np.dtype:
    if address_size not in (2, 4):
        raise ValueError(f"address_size must be 2 or 4 bytes; got {address_size}")
    return np.dtype([("addr", ">u2" if address_size == 2 else ">u4"), ("ts", ">u4")])


def _decode(rec: np.ndarray, *, tick_us: float, on_off: bool, path: Path) -> np.ndarray:
    addr = rec["addr"].astype(np.int64)
    if on_off:
        x, p = addr >> 1, addr & 1
    else:
        x, p = addr, 1
    if x.shape[0] and int(x.max()) > 0xFFFF:
        raise EventFormatError(f"{path}: address {int(x.max())} does not fit 16 bits")
    events = np.empty(rec.shape[0], dtype=EVENT_DTYPE_1D)
    ts = rec["ts"].astype(np.int64)
    events["t"] = ts if tick_us == 1 else np.rint(ts * float(tick_us)).astype(np.int64)
    events["x"] = x
    events["p"] = p
    return events


def iter_chunks(
    path: Path,
    *,
    chunk: int,
    tick_us: float = 1.0,
    address_size: int = 2,
    on_off: bool = False,
    allow_truncated: bool = False,
) -> Iterator[np.ndarray]:
    """Stream a raw AER file in blocks of ``chunk`` events."""
    path = check_path(path)
    if tick_us <= 0:
        raise ValueError(f"tick_us must be > 0; got {tick_us}")
    head = read_head(path, 16)
    if head.startswith(b"#!AER-DAT") or head.startswith(b"%"):
        raise mismatch(path, "headerless raw AER events (address + timestamp)", head)
    record = _record(address_size)
    n = whole_records(
        path.stat().st_size,
        record.itemsize,
        path=path,
        what="AER events",
        allow_truncated=allow_truncated,
    )
    for rec in iter_blocks(path, offset=0, count=n, dtype=record, block=chunk):
        yield finish(
            _decode(rec, tick_us=tick_us, on_off=on_off, path=path), path=path, sensor_size=None
        )


def read(
    path: Path,
    *,
    tick_us: float = 1.0,
    address_size: int = 2,
    on_off: bool = False,
    allow_truncated: bool = False,
) -> tuple[np.ndarray, Meta]:
    """Read a whole raw AER file (see the module docstring for the options)."""
    chunks = list(
        iter_chunks(
            path,
            chunk=1 << 62,
            tick_us=tick_us,
            address_size=address_size,
            on_off=on_off,
            allow_truncated=allow_truncated,
        )
    )
    return concat(chunks, EVENT_DTYPE_1D), {"format": "aer", "sensor_size": None}
