"""Prophesee / Chronocam ``.dat`` files (e.g. N-CARS, Gen1 automotive).

Layout (Prophesee "DAT" format documentation): ``%`` text header lines (``% Version 2``,
optionally ``% Width W`` / ``% Height H``), then one byte event type (0 = TD, change
detection) and one byte event size (8), then little-endian uint32 pairs:

    t (µs), then data with  x = bits 13-0, y = bits 27-14, p = bits 31-28   (Version >= 2)
                            x = bits 8-0,  y = bits 16-9,  p = bit 17       (Version 1)

Decoding is one numba pass; the format is stateless, so streaming is plain blocks.
:func:`write` writes Version 2 files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numba
import numpy as np

from spikestack.atomic import atomic_write
from spikestack.data.events import EVENT_DTYPE, EventFormatError
from spikestack.data.io import _prophesee
from spikestack.data.io._common import (
    Meta,
    check_path,
    finish,
    iter_blocks,
    mismatch,
    new_stats,
    read_head,
    whole_records,
)
from spikestack.data.io._writing import check_range, planar_sensor, prepare

_TD = 0


def _open(path: Path, allow_truncated: bool) -> tuple[Path, dict[str, str], int, int, int, bytes]:
    """Parse the header; returns path, header, data offset, event count, version, head bytes."""
    path = check_path(path)
    with open(path, "rb") as f:
        head = f.read(1 << 16)
        file_size = os.fstat(f.fileno()).st_size
    header, offset = _prophesee.read_header(path, head=head)
    version = _prophesee.evt_version(header)
    if offset == 0 or version is not None:
        found = "" if version is None else f"; the content is Prophesee EVT {version} .raw"
        raise mismatch(path, f"a Prophesee .dat file ('%' header, then TD events){found}", head)
    if offset + 2 > len(head):
        head = read_head(path, offset + 2)
    if offset + 2 > len(head):
        raise EventFormatError(f"{path}: .dat header is not followed by the event type/size bytes")
    kind, size = head[offset], head[offset + 1]
    if kind != _TD or size != 8:
        raise EventFormatError(
            f"{path}: only TD events (type 0, 8 bytes) are supported; got type {kind}, size {size}"
        )
    version_field = header.get("Version", "2") or "2"
    if not version_field.strip().isdigit():
        raise EventFormatError(
            f"{path}: header field 'Version' is {version_field!r}, not a whole number"
        )
    version = int(version_field)
    n = whole_records(
        file_size - offset - 2, 8, path=path, what="TD events", allow_truncated=allow_truncated
    )
    return path, header, offset + 2, n, version, head


@numba.njit(cache=True, nogil=True)
def _fill(words, version, ev, stats):  # pragma: no cover - compiled
    """Decode (t, data) uint32 pairs into ``ev``, recording order and maxima in ``stats``."""
    unsorted, max_x, max_y, last_t = stats[0], stats[1], stats[2], stats[3]
    for i in range(words.shape[0] // 2):
        t = np.int64(words[2 * i])
        data = words[2 * i + 1]
        if version >= 2:
            x, y, p = data & 0x3FFF, (data >> 14) & 0x3FFF, data >> 28
        else:
            x, y, p = data & 0x1FF, (data >> 9) & 0xFF, (data >> 17) & 1
        ev[i].t = t
        ev[i].x = x
        ev[i].y = y
        ev[i].p = p
        if t < last_t:
            unsorted = 1
        last_t = t
        max_x = max(max_x, x)
        max_y = max(max_y, y)
    stats[0], stats[1], stats[2], stats[3] = unsorted, max_x, max_y, last_t


def _decode(
    words: np.ndarray, version: int, *, path: Path, sensor_size: tuple[int, ...] | None
) -> np.ndarray:
    events = np.empty(words.shape[0] // 2, dtype=EVENT_DTYPE)
    stats = new_stats()
    _fill(words, version, events, stats)
    return finish(events, path=path, sensor_size=sensor_size, stats=stats)


def iter_chunks(
    path: Path,
    *,
    chunk: int,
    allow_truncated: bool = False,
    sensor_size: tuple[int, ...] | None = None,
) -> Iterator[np.ndarray]:
    """Stream a ``.dat`` file in blocks of ``chunk`` events."""
    path, header, offset, n, version, _ = _open(path, allow_truncated)
    size = sensor_size or _prophesee.sensor_size(header, path)
    for words in iter_blocks(path, offset=offset, count=2 * n, dtype="<u4", block=2 * chunk):
        yield _decode(words, version, path=path, sensor_size=size)


def read(
    path: Path, *, allow_truncated: bool = False, sensor_size: tuple[int, ...] | None = None
) -> tuple[np.ndarray, Meta]:
    """Read a whole ``.dat`` file; ``sensor_size`` overrides the header's ``Width``/``Height``."""
    path, header, offset, n, version, head = _open(path, allow_truncated)
    size = sensor_size or _prophesee.sensor_size(header, path)
    if offset + 8 * n <= len(head):  # small file: already read (copied for alignment)
        words = np.frombuffer(head[offset : offset + 8 * n], dtype="<u4")
    else:
        words = np.fromfile(path, dtype="<u4", count=2 * n, offset=offset)
    events = _decode(words, version, path=path, sensor_size=size)
    return events, {"format": "dat", "sensor_size": size, "header": header}


def write(
    path: str | os.PathLike[str],
    events: np.ndarray,
    *,
    sensor_size: tuple[int, ...] | None = None,
) -> Path:
    """Write 2-D events as a Prophesee ``.dat`` file, Version 2 (atomically), in the given order.

    Header: ``% Data file containing CD events.``, ``% Version 2``, and ``% Width W`` /
    ``% Height H`` with ``sensor_size``; then event type 0 (TD) and size 8. Limits:
    x, y in [0, 16383] (14 bits), p in [0, 15] (4 bits, read back as
    written), t in [0, 2**32) µs (one uint32, no overflow word). Unsorted events are
    written as given; the reader sorts them (with a warning). sensor_size (W, H) or
    (W, H, 2) reads back as (W, H, 2).
    """
    path = Path(path)
    fmt = "Prophesee .dat"
    events = prepare(events, path=path, fmt=fmt, dims=(2,))
    for field in "xy":
        check_range(events, field, 0, 0x3FFF, path=path, fmt=fmt, why="14 bits")
    check_range(events, "p", 0, 15, path=path, fmt=fmt, why="4 bits")
    check_range(events, "t", 0, 2**32 - 1, path=path, fmt=fmt, why="one uint32")
    size = planar_sensor(sensor_size, events, path=path, fmt=fmt, max_size=(0x4000, 0x4000))
    lines = ["Data file containing CD events.", "Version 2"]
    if size is not None:
        lines += [f"Width {size[0]}", f"Height {size[1]}"]
    rec = np.empty(events.shape[0], dtype=[("t", "<u4"), ("data", "<u4")])
    rec["t"] = events["t"]
    rec["data"] = (
        events["x"].astype(np.uint32)
        | events["y"].astype(np.uint32) << 14
        | events["p"].astype(np.uint32) << 28
    )
    data = _prophesee.header_bytes(lines) + bytes([_TD, 8]) + rec.tobytes()
    return atomic_write(path, lambda f: f.write(data))
