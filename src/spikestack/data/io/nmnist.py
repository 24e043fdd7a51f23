"""N-MNIST / N-Caltech101 ``.bin`` (also SLAYER ``.bs2``) and SLAYER ``.bs1`` spike files.

Layout (Orchard et al. 2015, "Converting static image datasets to spiking neuromorphic
datasets using saccades"; the SLAYER repository stores the same bytes as ``.bs2``):
headerless, 5 bytes per event, one 40-bit big-endian word

    byte 0 = x, byte 1 = y, bit 23 = p (1 = ON), bits 22-0 = t (µs).

As in the dataset authors' reader, an event with y == 240 is a timestamp-overflow
marker, not a pixel: it adds 2**13 µs to every later timestamp and is dropped.
N-MNIST uses a 34 x 34 sensor; N-Caltech101 the 304 x 240 ATIS.

``.bs1`` (SLAYER 1-D spikes) uses the same 40-bit word with a 16-bit neuron id in
bits 39-24 (bytes 0-1), p = bit 23 and t = bits 22-0; it gives ``EVENT_DTYPE_1D``
events with ``x`` = neuron id.

Neither format has a header, so neither records a sensor size; the writers only check
the events against ``sensor_size`` when one is given.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numba
import numpy as np

from spikestack.atomic import atomic_write
from spikestack.data.events import EVENT_DTYPE, EVENT_DTYPE_1D
from spikestack.data.io._common import (
    Meta,
    check_path,
    check_sorted,
    finish,
    foreign_header,
    iter_blocks,
    mismatch,
    new_stats,
    whole_records,
)
from spikestack.data.io._writing import (
    check_headerless,
    check_polarity,
    check_range,
    check_sensor,
    prepare,
)

RECORD = 5
OVERFLOW_Y = 240
OVERFLOW_STEP = 1 << 13
NMNIST_SIZE = (34, 34, 2)
T_BITS = 23
HEAD = 1024  # bytes that the content check looks at
# The writer inserts one 5-byte overflow marker per 2**13 µs beyond 2**23 µs; the cap keeps
# a file from growing by megabytes of markers for one far-off timestamp.
MAX_T = 2**32 - 1


def _check_content(path: Path, head: bytes) -> None:
    found = foreign_header(head)
    if found is not None:
        raise mismatch(path, f"headerless 5-byte N-MNIST/SLAYER events (looks like {found})", head)


@numba.njit(cache=True, nogil=True)
def _fill(raw, overflows, ev, stats):  # pragma: no cover - compiled
    """Decode 5-byte words into ``ev``; returns the count (overflow markers are dropped)."""
    unsorted, max_x, max_y, last_t = stats[0], stats[1], stats[2], stats[3]
    shift = overflows[0] * OVERFLOW_STEP
    n = 0
    for i in range(raw.shape[0] // RECORD):
        b = raw[RECORD * i : RECORD * i + RECORD]
        if b[1] == OVERFLOW_Y:
            shift += OVERFLOW_STEP
            overflows[0] += 1
            continue
        t = ((np.int64(b[2]) & 0x7F) << 16 | np.int64(b[3]) << 8 | np.int64(b[4])) + shift
        ev[n].t = t
        ev[n].x = b[0]
        ev[n].y = b[1]
        ev[n].p = b[2] >> 7
        n += 1
        if t < last_t:
            unsorted = 1
        last_t = t
        max_x = max(max_x, np.int64(b[0]))
        max_y = max(max_y, np.int64(b[1]))
    stats[0], stats[1], stats[2], stats[3] = unsorted, max_x, max_y, last_t
    return n


def _decode_bin(
    raw: np.ndarray, overflows: np.ndarray, *, path: Path, sensor_size: tuple[int, ...] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Decode a flat uint8 block; returns the events and the decoder stats."""
    events = np.empty(raw.shape[0] // RECORD, dtype=EVENT_DTYPE)
    stats = new_stats()
    n = _fill(raw, overflows, events, stats)
    return finish(events[:n], path=path, sensor_size=sensor_size, stats=stats), stats


def _decode_bs1(raw: np.ndarray) -> np.ndarray:
    raw = raw.reshape(-1, RECORD)
    events = np.empty(raw.shape[0], dtype=EVENT_DTYPE_1D)
    events["t"] = (
        (raw[:, 2].astype(np.int64) & 0x7F) << 16
        | raw[:, 3].astype(np.int64) << 8
        | raw[:, 4].astype(np.int64)
    )
    events["x"] = raw[:, 0].astype(np.uint16) << 8 | raw[:, 1]
    events["p"] = raw[:, 2] >> 7
    return events


def _load(path: Path, allow_truncated: bool) -> np.ndarray:
    """The whole file as flat uint8 whole records (one open; these files are small)."""
    path = check_path(path)
    data = path.read_bytes()
    _check_content(path, data[:HEAD])
    n = whole_records(len(data), RECORD, path=path, what="events", allow_truncated=allow_truncated)
    return np.frombuffer(data, dtype=np.uint8, count=n * RECORD)


def iter_chunks(
    path: Path,
    *,
    chunk: int,
    allow_truncated: bool = False,
    sensor_size: tuple[int, ...] | None = None,
) -> Iterator[np.ndarray]:
    """Stream a ``.bin``/``.bs2`` file in blocks of ``chunk`` events."""
    path = check_path(path)
    with open(path, "rb") as f:
        _check_content(path, f.read(HEAD))
    n = whole_records(
        path.stat().st_size, RECORD, path=path, what="events", allow_truncated=allow_truncated
    )
    overflows = np.zeros(1, dtype=np.int64)
    for raw in iter_blocks(path, offset=0, count=n * RECORD, dtype=np.uint8, block=chunk * RECORD):
        yield _decode_bin(raw, overflows, path=path, sensor_size=sensor_size)[0]


def read(
    path: Path, *, allow_truncated: bool = False, sensor_size: tuple[int, ...] | None = None
) -> tuple[np.ndarray, Meta]:
    """Read a ``.bin``/``.bs2`` file.

    ``sensor_size`` (W, H, P) checks the coordinates; if omitted, a file whose
    coordinates all fit 34 x 34 reports the N-MNIST size, any other reports None.
    """
    path = check_path(path)
    raw = _load(path, allow_truncated)
    overflows = np.zeros(1, dtype=np.int64)
    events, stats = _decode_bin(raw, overflows, path=path, sensor_size=sensor_size)
    if sensor_size is None and max(int(stats[1]), int(stats[2])) < NMNIST_SIZE[0]:
        sensor_size = NMNIST_SIZE
    return events, {"format": "nmnist", "sensor_size": sensor_size}


def read_bs1(path: Path, *, allow_truncated: bool = False) -> tuple[np.ndarray, Meta]:
    """Read a SLAYER ``.bs1`` 1-D spike file (x = neuron id).

    SLAYER writes spikes in no particular time order (often neuron by neuron), so they
    are sorted by t (stably) without a warning.
    """
    path = check_path(path)
    events = check_sorted(_decode_bs1(_load(path, allow_truncated)), path=path, warn=False)
    return events, {"format": "bs1", "sensor_size": None}


def _words(first: np.ndarray, second: np.ndarray, p: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(n, 5) bytes of the 40-bit big-endian word: byte 0, byte 1, p << 7 | t bits 22-16, t."""
    raw = np.empty((t.shape[0], RECORD), dtype=np.uint8)
    raw[:, 0], raw[:, 1] = first, second
    raw[:, 2] = (p.astype(np.int64) << 7) | ((t >> 16) & 0x7F)
    raw[:, 3], raw[:, 4] = (t >> 8) & 0xFF, t & 0xFF
    return raw


def _save(path: Path, raw: np.ndarray, fmt: str) -> Path:
    data = raw.tobytes()
    check_headerless(data, path=path, fmt=fmt)
    return atomic_write(path, lambda f: f.write(data))


def write(
    path: str | os.PathLike[str],
    events: np.ndarray,
    *,
    sensor_size: tuple[int, ...] | None = None,
) -> Path:
    """Write 2-D events as an N-MNIST ``.bin`` / SLAYER ``.bs2`` file (atomically).

    Limits: x in [0, 255], y in [0, 239] (y = 240 marks a timestamp overflow), p 0 or 1,
    t in [0, 2**32) µs and sorted. t needs 23 bits; beyond 2**23 µs the writer inserts
    overflow markers (x = 0, y = 240, p = 0, t = 0), each adding 2**13 µs to every later
    event, as the dataset authors' reader expects. The file records no sensor size: it
    reads back as (34, 34, 2) when all coordinates are below 34, else as None.
    """
    path = Path(path)
    fmt = "N-MNIST .bin"
    events = prepare(events, path=path, fmt=fmt, dims=(2,), needs_order=True)
    check_range(events, "x", 0, 255, path=path, fmt=fmt, why="one byte")
    check_range(
        events, "y", 0, OVERFLOW_Y - 1, path=path, fmt=fmt, why="y = 240 is the overflow marker"
    )
    check_range(
        events,
        "t",
        0,
        MAX_T,
        path=path,
        fmt=fmt,
        why="23 bits plus overflow markers, capped at 2**32 µs",
    )
    check_polarity(events, path=path, fmt=fmt)
    check_sensor(sensor_size, events, path=path, fmt=fmt, max_size=(256, OVERFLOW_Y))
    t = events["t"].astype(np.int64)
    # markers before event i: enough that t - markers * 2**13 fits 23 bits (non-decreasing in t)
    markers = np.maximum(0, -(-(t - ((1 << T_BITS) - 1)) // OVERFLOW_STEP))
    raw = _words(events["x"], events["y"], events["p"], t - markers * OVERFLOW_STEP)
    new = np.diff(markers, prepend=0)
    if new.any():
        slot = np.arange(t.shape[0]) + markers  # each event's row once the markers are in
        out = np.zeros((t.shape[0] + int(markers[-1]), RECORD), dtype=np.uint8)
        out[:, 1] = OVERFLOW_Y
        out[slot] = raw
        raw = out
    return _save(path, raw, fmt)


def write_bs1(
    path: str | os.PathLike[str],
    events: np.ndarray,
    *,
    sensor_size: tuple[int, ...] | None = None,
) -> Path:
    """Write 1-D events as a SLAYER ``.bs1`` file (atomically), in the given order.

    Limits: x (neuron id) in [0, 65535], p 0 or 1, t in [0, 2**23) µs (the format has no
    overflow marker). The file records no sensor size.
    """
    path = Path(path)
    fmt = "SLAYER .bs1"
    events = prepare(events, path=path, fmt=fmt, dims=(1,))
    check_range(
        events, "t", 0, (1 << T_BITS) - 1, path=path, fmt=fmt, why="23 bits, no overflow marker"
    )
    check_polarity(events, path=path, fmt=fmt)
    check_sensor(sensor_size, events, path=path, fmt=fmt)
    x = events["x"].astype(np.int64)
    return _save(path, _words(x >> 8, x & 0xFF, events["p"], events["t"].astype(np.int64)), fmt)
