"""MATLAB ``.mat`` event files: ASL-DVS and ST-MNIST (read with ``scipy.io.loadmat``).

ASL-DVS (Bi et al. 2019, "Graph-based object classification for neuromorphic vision
sensing"): variables ``x``, ``y``, ``ts`` (µs) and ``pol`` (0/1) as column vectors, from
a 240 x 180 DAVIS240c.

ST-MNIST (See et al. 2020, "ST-MNIST - the spiking tactile MNIST neuromorphic dataset"):
one variable ``spiketrain`` of shape (101, N). Rows 0-99 are the 10 x 10 taxels (row
index = 10 * y + x) with exactly one +1 (ON) or -1 (OFF) entry per column; row 100 is
the event time in seconds. Gives t = round(s * 1e6) µs.

MATLAB v7.3 files are HDF5 inside and are not supported here (scipy cannot read them).
Before scipy reads a file, :func:`_check_elements` walks its data elements (through
compressed ones too) and checks every tag's data type and size: scipy's C reader trusts
them, and one damaged type byte crashed the whole process (scipy 1.16, segmentation fault).
A variable ``sensor_size`` (a vector of ints, written by :func:`write`) overrides the default
sensor size of either layout.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np

from spikestack.atomic import atomic_write
from spikestack.data.events import EventFormatError
from spikestack.data.io._common import (
    INT64_LIMIT,
    SECONDS_LIMIT,
    Meta,
    check_finite,
    check_path,
    finish,
    from_columns,
    mismatch,
    read_head,
)
from spikestack.data.io._writing import check_sensor, prepare

ASL_DVS_SIZE = (240, 180, 2)
STMNIST_SIZE = (10, 10, 2)


def _integer(values: np.ndarray, name: str, path: Path) -> np.ndarray:
    values = np.asarray(values).reshape(-1)
    if values.dtype.kind == "f":
        check_finite(values, limit=INT64_LIMIT, what=f"variable {name}", path=path)
        rounded = np.rint(values)
        if not np.array_equal(rounded, values):
            raise EventFormatError(f"{path}: variable {name} must hold whole numbers")
        values = rounded.astype(np.int64)
    return values


def _stmnist(train: np.ndarray, path: Path) -> np.ndarray:
    if train.ndim != 2 or train.shape[0] != 101:
        raise EventFormatError(
            f"{path}: ST-MNIST 'spiketrain' must have shape (101, N); got {train.shape}"
        )
    taxels = train[:100]
    hits = np.count_nonzero(taxels, axis=0)
    if np.any(hits != 1):
        bad = int(np.count_nonzero(hits != 1))
        raise EventFormatError(
            f"{path}: {bad} column(s) of 'spiketrain' do not have exactly one nonzero taxel"
        )
    check_finite(train[100], limit=SECONDS_LIMIT, what="ST-MNIST times (row 101)", path=path)
    taxel = np.argmax(taxels != 0, axis=0)
    value = taxels[taxel, np.arange(train.shape[1])]
    columns = {
        "t": np.rint(train[100] * 1e6).astype(np.int64),
        "x": taxel % 10,
        "y": taxel // 10,
        "p": (value > 0).astype(np.int8),
    }
    return from_columns(columns, path=path)


# MAT v5 data types (miINT8 ... miUTF32); 8, 10 and 11 are reserved
_MI_TYPES = frozenset({1, 2, 3, 4, 5, 6, 7, 9, 12, 13, 14, 15, 16, 17, 18})
_MI_MATRIX, _MI_COMPRESSED = 14, 15


def _check_elements(
    data: bytes, path: Path, *, endian: str = "<", where: int = 0, nested: bool = False
) -> None:
    """Walk the tagged data elements of ``data`` (a file body, a matrix's content, or a
    decompressed element): every tag must name a MAT v5 data type and a size that fits.
    Elements inside a matrix are padded to 8 bytes; top-level ones are not."""
    pos = 0
    while len(data) - pos >= 8:
        first, second = struct.unpack_from(endian + "II", data, pos)
        small = first >> 16  # small element: size in the upper half, data in the next 4 bytes
        kind, size, start = (first & 0xFFFF, small, pos + 4) if small else (first, second, pos + 8)
        if kind not in _MI_TYPES or (small and (size > 4 or kind in (14, 15))):
            raise EventFormatError(
                f"{path}: damaged .mat file: unknown data type {kind} at byte {where + pos}"
            )
        end = start + size
        if end > len(data):
            raise EventFormatError(
                f"{path}: damaged .mat file: an element at byte {where + pos} claims {size} "
                f"bytes, {len(data) - start} left (truncated file?)"
            )
        if kind == _MI_COMPRESSED:
            try:
                inner = zlib.decompressobj().decompress(data[start:end])
            except zlib.error as err:
                raise EventFormatError(
                    f"{path}: damaged .mat file: compressed element at byte {where + pos}: {err}"
                ) from None
            _check_elements(inner, path, endian=endian, where=where + start)
        elif kind == _MI_MATRIX:
            _check_elements(data[start:end], path, endian=endian, where=where + start, nested=True)
        pos = pos + 8 if small else end + (-size % 8 if nested else 0)


def read(path: Path, *, sensor_size: tuple[int, ...] | None = None) -> tuple[np.ndarray, Meta]:
    """Read an ASL-DVS or ST-MNIST ``.mat`` sample."""
    path = check_path(path)
    head = read_head(path, 128)
    if not head.startswith(b"MATLAB 5.0 MAT-file"):
        raise mismatch(
            path, "a MATLAB 5.0 .mat file (v7.3/HDF5 .mat files are not supported)", head
        )
    from scipy.io import loadmat

    content = path.read_bytes()
    _check_elements(
        content[128:], path, endian=">" if content[126:128] == b"MI" else "<", where=128
    )
    try:
        mat = loadmat(path)
    except Exception as err:  # noqa: BLE001 - scipy raises IndexError, zlib.error ... for damage
        reason = " ".join(str(err).split()) or type(err).__name__
        raise EventFormatError(
            f"{path}: scipy could not read this .mat file (damaged?): {reason}"
        ) from err
    if sensor_size is None and "sensor_size" in mat:
        stored = _integer(mat["sensor_size"], "sensor_size", path)
        sensor_size = tuple(int(v) for v in stored) or None
    if "spiketrain" in mat:
        size = sensor_size or STMNIST_SIZE
        events = _stmnist(np.asarray(mat["spiketrain"], dtype=np.float64), path)
        kind = "stmnist"
    elif {"x", "y", "ts", "pol"} <= set(mat):
        size = sensor_size or ASL_DVS_SIZE
        columns = {
            k: _integer(mat[v], v, path)
            for k, v in zip("txyp", ("ts", "x", "y", "pol"), strict=True)
        }
        events = from_columns(columns, path=path)
        kind = "asl_dvs"
    else:
        found = sorted(k for k in mat if not k.startswith("__"))
        raise EventFormatError(
            f"{path}: expected ASL-DVS variables x, y, ts, pol or ST-MNIST 'spiketrain'; "
            f"found {found}"
        )
    return finish(events, path=path, sensor_size=size), {
        "format": "mat",
        "kind": kind,
        "sensor_size": size,
    }


def write(
    path: str | os.PathLike[str],
    events: np.ndarray,
    *,
    sensor_size: tuple[int, ...] | None = None,
) -> Path:
    """Write 2-D events as an ASL-DVS-style ``.mat`` file (MATLAB 5.0, atomically).

    Variables ``ts`` (int64 µs), ``x``, ``y`` (uint16) and ``pol`` (int8) as column
    vectors, so every canonical value is stored exactly, in the given order (the reader
    sorts unsorted events, with a warning); plus ``sensor_size`` when given. Without
    ``sensor_size`` the file reads back as an ASL-DVS sample, 240 x 180, so the events
    must fit that sensor.
    """
    from scipy.io import savemat

    path = Path(path)
    fmt = "MATLAB .mat"
    events = prepare(events, path=path, fmt=fmt, dims=(2,))
    size = check_sensor(sensor_size, events, path=path, fmt=fmt)
    if size is None:
        check_sensor(ASL_DVS_SIZE, events, path=path, fmt=f"{fmt} without sensor_size (ASL-DVS)")
    variables = {
        k: np.ascontiguousarray(events[f])
        for k, f in zip(("ts", "x", "y", "pol"), "txyp", strict=True)
    }
    if size is not None:
        variables["sensor_size"] = np.asarray(size, dtype=np.int64)
    return atomic_write(path, lambda f: savemat(f, variables, oned_as="column"))
