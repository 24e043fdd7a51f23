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
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numba
import numpy as np

from spikestack.data.events import EVENT_DTYPE, EVENT_DTYPE_1D
from spikestack.data.io._common import (
    Meta,
    check_path,
    check_sorted,
    finish,
    iter_blocks,
    magic_format,
    mismatch,
    new_stats,
    whole_records,
)

RECORD = 5
OVERFLOW_Y = 240
OVERFLOW_STEP = 1 << 13
NMNIST_SIZE = (34, 34, 2)


def _check_content(path: Path, head: bytes) -> None:
    found = magic_format(head)
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
    _check_content(path, data[:32])
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
        _check_content(path, f.read(32))
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
