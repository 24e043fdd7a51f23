"""Headerless raw AER files: AEDAT 1.0-style 6-byte events, e.g. NAS cochlea recordings.

Layout (jAER AEDAT 1.0 / the pyNAVIS NAS format): no header; each event is a
big-endian address (uint16, or uint32 with ``address_size=4``) followed by a big-endian
uint32 timestamp in ticks of ``tick_us`` microseconds (USBAERmini2 NAS recordings use
0.2 µs). Gives ``EVENT_DTYPE_1D`` events with t = round(ticks * tick_us) and
x = address, p = 1; with ``on_off=True`` (NAS with ON/OFF outputs, address =
2 * channel + polarity) x = address >> 1 and p = address & 1. :func:`write` takes the
same options.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from spikestack.atomic import atomic_write
from spikestack.data.events import EVENT_DTYPE_1D, EventFormatError
from spikestack.data.io._common import (
    Meta,
    check_path,
    concat,
    finish,
    foreign_header,
    iter_blocks,
    mismatch,
    read_head,
    whole_records,
)
from spikestack.data.io._writing import (
    check_headerless,
    check_polarity,
    check_range,
    check_sensor,
    prepare,
)

HEAD = 1024  # bytes that the content check looks at


def _record(address_size: int) -> np.dtype:
    if address_size not in (2, 4):
        raise ValueError(f"address_size must be 2 or 4 bytes; got {address_size}")
    return np.dtype([("addr", ">u2" if address_size == 2 else ">u4"), ("ts", ">u4")])


def _times(ticks: np.ndarray, tick_us: float) -> np.ndarray:
    """Timestamps in µs from ticks (the reader's rule, which the writer checks against)."""
    ts = ticks.astype(np.int64)
    return ts if tick_us == 1 else np.rint(ts * float(tick_us)).astype(np.int64)


def _decode(rec: np.ndarray, *, tick_us: float, on_off: bool, path: Path) -> np.ndarray:
    addr = rec["addr"].astype(np.int64)
    if on_off:
        x, p = addr >> 1, addr & 1
    else:
        x, p = addr, 1
    if x.shape[0] and int(x.max()) > 0xFFFF:
        raise EventFormatError(f"{path}: address {int(x.max())} does not fit 16 bits")
    events = np.empty(rec.shape[0], dtype=EVENT_DTYPE_1D)
    events["t"] = _times(rec["ts"], tick_us)
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
    head = read_head(path, HEAD)
    if foreign_header(head) is not None:
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


def write(
    path: str | os.PathLike[str],
    events: np.ndarray,
    *,
    sensor_size: tuple[int, ...] | None = None,
    tick_us: float = 1.0,
    address_size: int = 2,
    on_off: bool = False,
) -> Path:
    """Write 1-D events as headerless raw AER (atomically), in the given order.

    Each event is a big-endian address (``address_size`` 2 or 4 bytes) and a big-endian
    uint32 timestamp in ticks of ``tick_us`` µs. Without ``on_off`` the address is x and
    every p must be 1 (the reader gives p = 1); with ``on_off`` the address is 2 * x + p
    and p must be 0 or 1. t must be a whole number of ticks (t = round(ticks * tick_us)
    gives it back; with tick_us = 0.2 every integer µs is) and the ticks must fit 32
    bits. The file records no sensor size (``sensor_size`` only checks x); files whose
    first bytes spell another format's header are refused, since the reader could not
    tell them apart. Unsorted events are written as given; the reader sorts them (with a
    warning).
    """
    path = Path(path)
    fmt = "raw AER"
    record = _record(address_size)
    if not tick_us > 0:
        raise ValueError(f"tick_us must be > 0; got {tick_us}")
    events = prepare(events, path=path, fmt=fmt, dims=(1,))
    if on_off:
        check_polarity(events, path=path, fmt=fmt)
        top = (1 << (8 * address_size - 1)) - 1
        check_range(
            events,
            "x",
            0,
            top,
            path=path,
            fmt=fmt,
            why=f"address 2 * x + p in {address_size} bytes",
        )
    else:
        check_range(
            events,
            "p",
            1,
            1,
            path=path,
            fmt=fmt,
            why="the address holds no polarity; pass on_off=True",
        )
    check_sensor(sensor_size, events, path=path, fmt=fmt)
    t = events["t"].astype(np.int64)
    check_range(events, "t", 0, int(np.floor((2**32 - 1) * float(tick_us))), path=path, fmt=fmt,
                why=f"uint32 ticks of {tick_us} µs")  # fmt: skip
    ticks = t if tick_us == 1 else np.rint(t / float(tick_us)).astype(np.int64)
    off = np.flatnonzero((_times(ticks, tick_us) != t) | (ticks > 2**32 - 1))
    if off.size:
        raise ValueError(
            f"{path}: {fmt} cannot store t = {int(t[off[0]])} µs: t must be a whole number of "
            f"{tick_us} µs ticks below 2**32 ticks; {off.size} event(s) are not"
        )
    rec = np.empty(t.shape[0], dtype=record)
    x = events["x"].astype(np.int64)
    rec["addr"] = 2 * x + events["p"] if on_off else x
    rec["ts"] = ticks
    data = rec.tobytes()
    check_headerless(data, path=path, fmt=fmt)
    return atomic_write(path, lambda f: f.write(data))
