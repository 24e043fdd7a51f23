"""Helpers shared by the readers: path checks, text headers, record counts, finishing.

Every reader ends with :func:`finish`, which gives all formats the same guarantees:
events sorted by ``t`` (a stable sort plus a warning when the file was not), and
coordinates inside the declared sensor size (an :class:`EventFormatError` if not).
"""

from __future__ import annotations

import importlib
import os
import stat
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from spikestack.data.events import EventFormatError

Meta = dict[str, Any]


def data_extra(module: str, purpose: str, package: str | None = None) -> ModuleType:
    """``import module`` (a package of the ``data`` extra, imported on first use), or an
    ImportError saying that ``purpose`` needs it and how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:  # pragma: no cover - depends on the environment
        name = package or module
        raise ImportError(
            f"{purpose} needs {name}: pip install {name} (or pip install 'spikestack[data]')"
        ) from err


def check_path(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` as a :class:`Path`; raise FileNotFoundError naming it if absent."""
    p = path if isinstance(path, Path) else Path(path)
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"event file not found: '{p}'") from None
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(f"expected an event file, got a directory: '{p}'")
    return p


# Magic bytes of the formats that have them -> format name (see spikestack.data.io.FORMATS).
MAGIC = (
    (b"#!AER-DAT1", "aedat2"),
    (b"#!AER-DAT2", "aedat2"),
    (b"#!AER-DAT3", "aedat3"),
    (b"#!AER-DAT4", "aedat4"),
    (b"\x93NUMPY", "npy"),
    (b"PK\x03\x04", "npz"),
    (b"PK\x05\x06", "npz"),
    (b"\x89HDF\r\n\x1a\n", "hdf5"),
    (b"MATLAB 5.0 MAT-file", "mat"),
    (b"% ", "prophesee"),
)


def magic_format(head: bytes) -> str | None:
    """The format whose magic bytes start ``head`` ("prophesee" for a ``%`` header), or None."""
    for magic, name in MAGIC:
        if head.startswith(magic):
            return name
    return None


def foreign_header(head: bytes) -> str | None:
    """The format whose header starts ``head``: the content check of headerless formats.

    Binary magics count as they are. A ``%`` header counts only when its first line is
    printable text ending in a newline, because "% " (0x25 0x20) is also a plausible first
    N-MNIST event (x = 37, y = 32) or AER address. Writers of headerless formats run the
    same check on what they wrote, so that every file they write reads back.
    """
    found = magic_format(head)
    if found != "prophesee":
        return found
    end = head.find(b"\n")
    line = head[:end]
    return found if end > 0 and all(0x20 <= b < 0x7F or b in (0x09, 0x0D) for b in line) else None


def read_head(path: Path, n: int = 64) -> bytes:
    """The first ``n`` bytes of a file (fewer if it is shorter)."""
    with open(path, "rb") as f:
        return f.read(n)


def parse_text_header(
    buf: bytes, *, prefix: bytes, end_marker: bytes | None = None
) -> tuple[list[str], int, bool]:
    """Parse leading ``prefix`` lines from the bytes ``buf``.

    Returns (lines without prefix and line ending, offset of the first data byte,
    complete). ``complete`` is False when ``buf`` ends inside a header line, so the
    caller must read more of the file to know where the header ends.
    """
    lines: list[str] = []
    offset = 0
    while buf.startswith(prefix, offset):
        end = buf.find(b"\n", offset)
        if end < 0:
            return lines, offset, False
        raw = buf[offset : end + 1]
        offset = end + 1
        lines.append(raw[len(prefix) :].rstrip(b"\r\n").decode("latin-1"))
        if end_marker is not None and raw.rstrip(b"\r\n") == end_marker:
            break
    else:
        if offset == len(buf):  # the data may still start with the prefix
            return lines, offset, False
    return lines, offset, True


def read_text_header(
    path: Path, *, prefix: bytes, end_marker: bytes | None = None, head: bytes | None = None
) -> tuple[list[str], int]:
    """Read the leading ASCII lines that start with ``prefix``.

    Returns the decoded lines (prefix and line ending stripped) and the byte offset
    where binary data starts. A line ``end_marker`` (if given) ends the header even
    when the next byte happens to equal ``prefix``. A last line without a newline
    (a file that ends inside its header) still counts as header. ``head``, the first
    bytes of the file if the caller already has them, saves a read when it holds the
    whole header.
    """
    if head is None:
        head = read_head(path, 1 << 16)
    lines, offset, complete = parse_text_header(head, prefix=prefix, end_marker=end_marker)
    if complete:
        return lines, offset
    data = path.read_bytes()  # a long header (or a header-only file): parse all of it
    lines, offset, complete = parse_text_header(data, prefix=prefix, end_marker=end_marker)
    if not complete and offset < len(data):  # the file ends inside its last header line
        lines.append(data[offset + len(prefix) :].rstrip(b"\r\n").decode("latin-1"))
        offset = len(data)
    return lines, offset


def whole_records(nbytes: int, record: int, *, path: Path, what: str, allow_truncated: bool) -> int:
    """Number of whole ``record``-byte records in ``nbytes``; a partial tail is an error.

    With ``allow_truncated=True`` the tail is dropped with a warning instead (the usual
    state of a recording whose writer was killed).
    """
    n, left = divmod(nbytes, record)
    if left:
        msg = (
            f"{path}: {nbytes} data bytes are not a whole number of {record}-byte {what}; "
            f"{left} byte(s) left over after {n} complete record(s) (truncated file?)"
        )
        if not allow_truncated:
            raise EventFormatError(msg + "; pass allow_truncated=True to drop them")
        warnings.warn(msg + "; dropped them", stacklevel=3)
    return n


def check_sorted(events: np.ndarray, *, path: Path, warn: bool = True) -> np.ndarray:
    """Sort ``events`` stably by ``t``, with a warning (if ``warn``) when they were not sorted."""
    t = events["t"]
    if t.shape[0] > 1 and np.any(t[1:] < t[:-1]):
        if not warn:
            return events[np.argsort(t, kind="stable")]
        warnings.warn(
            f"{path}: timestamps are not non-decreasing; sorted the events by t (stable)",
            stacklevel=3,
        )
        events = events[np.argsort(t, kind="stable")]
    return events


def check_bounds(
    events: np.ndarray,
    sensor_size: tuple[int, ...] | None,
    *,
    path: Path,
    maxima: tuple[int, int] | None = None,
) -> None:
    """Raise EventFormatError if any x / y lies outside ``sensor_size = (W, H, P)``.

    ``maxima`` = (max x, max y) when a decoder already knows them (saves two passes).
    """
    if sensor_size is None or events.shape[0] == 0:
        return
    for axis, field in enumerate(("x", "y")):
        if field not in events.dtype.names or axis >= len(sensor_size):
            continue
        limit = int(sensor_size[axis])
        top = int(maxima[axis]) if maxima is not None else int(events[field].max())
        if top >= limit:
            bad = int(np.count_nonzero(events[field] >= limit))
            raise EventFormatError(
                f"{path}: {bad} event(s) have {field} >= {limit} (max {top}), outside the "
                f"declared sensor size {tuple(sensor_size)}; the file is corrupt or its "
                f"header does not match its data"
            )


def new_stats() -> np.ndarray:
    """Scratch array a numba decoder fills: [unsorted (0/1), max x, max y, last t]."""
    return np.array([0, 0, 0, np.iinfo(np.int64).min], dtype=np.int64)


def drop_negative_times(events: np.ndarray, *, path: Path) -> np.ndarray:
    """``events`` without those whose time is negative, with a warning giving the count: no
    format stores times before its start, so they are damage (a flipped high byte)."""
    if events.shape[0] == 0 or int(events["t"].min()) >= 0:
        return events
    negative = events["t"] < 0
    warnings.warn(
        f"{path}: dropped {int(negative.sum())} event(s) with a negative timestamp (damaged file?)",
        stacklevel=4,
    )
    return events[~negative]


def finish(
    events: np.ndarray,
    *,
    path: Path,
    sensor_size: tuple[int, ...] | None,
    stats: np.ndarray | None = None,
) -> np.ndarray:
    """The common last step of every reader: events with a negative time dropped (see
    :func:`drop_negative_times`), bounds check, then a stable sort by t.

    ``stats`` (from :func:`new_stats`, filled by a decoder whose times cannot be negative)
    skips the extra passes.
    """
    if stats is None:
        events = drop_negative_times(events, path=path)
        check_bounds(events, sensor_size, path=path)
        return check_sorted(events, path=path)
    check_bounds(events, sensor_size, path=path, maxima=(int(stats[1]), int(stats[2])))
    return check_sorted(events, path=path) if stats[0] else events


def iter_blocks(
    path: Path, *, offset: int, count: int, dtype: np.dtype | type, block: int
) -> Iterator[np.ndarray]:
    """Yield ``count`` records of ``dtype`` from ``offset`` on, ``block`` records at a time."""
    block = max(int(block), 1)
    with open(path, "rb") as f:
        f.seek(offset)
        done = 0
        while done < count:
            n = min(block, count - done)
            arr = np.fromfile(f, dtype=dtype, count=n)
            if arr.shape[0] != n:
                raise EventFormatError(f"{path}: file shrank while it was being read")
            done += n
            yield arr


def concat(chunks: list[np.ndarray], dtype: np.dtype) -> np.ndarray:
    """Concatenate event chunks (an empty list gives an empty array of ``dtype``)."""
    if not chunks:
        return np.empty(0, dtype=dtype)
    if len(chunks) == 1:
        return chunks[0]
    return np.concatenate(chunks)


# float values whose product with 1e6 (seconds to µs) or themselves still fit int64
SECONDS_LIMIT = 9.2e12
INT64_LIMIT = 9.2e18


def check_finite(values: np.ndarray, *, limit: float, what: str, path: Path) -> None:
    """Raise unless every float in ``values`` is finite and within ±``limit`` (so that its
    conversion to int64 cannot wrap); ``what`` names the variable in the message."""
    values = np.asarray(values)
    finite = np.isfinite(values)
    if not finite.all() or (values.size and float(np.abs(values).max()) > limit):
        raise EventFormatError(
            f"{path}: {what} holds {int((~finite).sum())} non-finite value(s) or values beyond "
            "the int64 range once converted"
        )


def mismatch(path: Path, expected: str, head: bytes) -> EventFormatError:
    """The error for a file whose content does not look like the format it should be."""
    return EventFormatError(
        f"{path}: expected {expected}, but the file starts with {head[:16]!r}; "
        f"it is another format or corrupt (pass format=... to choose a reader)"
    )


def from_columns(columns: dict[str, np.ndarray], *, path: Path, sort: bool = True) -> np.ndarray:
    """Build canonical events from columns ``t, x, (y,) p`` read from a file, checking ranges.

    ``t`` must be integer microseconds; ``x``/``y`` must fit uint16 and ``p`` int8.
    A column that does not fit is an EventFormatError, never a silent wrap-around.
    """
    from spikestack.data.events import EVENT_DTYPE, EVENT_DTYPE_1D

    missing = {"t", "x"} - set(columns)
    if missing:
        raise EventFormatError(
            f"{path}: expected event columns t, x, (y,) p; missing {sorted(missing)} "
            f"(found {sorted(columns)})"
        )
    t = np.asarray(columns["t"]).reshape(-1)
    if t.dtype.kind not in "iub":
        raise EventFormatError(f"{path}: column t must hold integer microseconds; got {t.dtype}")
    if t.dtype.kind == "u" and t.shape[0] and int(t.max()) > np.iinfo(np.int64).max:
        raise EventFormatError(
            f"{path}: column t has values above 2^63 - 1 µs (an unsigned time that would wrap)"
        )
    dtype = EVENT_DTYPE if "y" in columns else EVENT_DTYPE_1D
    events = np.empty(t.shape[0], dtype=dtype)
    events["t"] = t
    limits = {"x": (0, 65535), "y": (0, 65535), "p": (-128, 127)}
    for name in dtype.names[1:]:
        col = np.asarray(columns[name]) if name in columns else np.ones(t.shape[0], np.int8)
        col = col.reshape(-1)
        if col.shape[0] != t.shape[0]:
            raise EventFormatError(
                f"{path}: column {name} has {col.shape[0]} entries but t has {t.shape[0]}"
            )
        if col.dtype.kind not in "iub":
            raise EventFormatError(f"{path}: column {name} must be integer; got {col.dtype}")
        lo, hi = limits[name]
        if col.shape[0] and (int(col.min()) < lo or int(col.max()) > hi):
            raise EventFormatError(
                f"{path}: column {name} has values in [{int(col.min())}, {int(col.max())}], "
                f"outside [{lo}, {hi}]"
            )
        events[name] = col
    events = drop_negative_times(events, path=path)
    return check_sorted(events, path=path) if sort else events
