"""Plain numpy event files: ``.npy`` and ``.npz``.

``.npy``: one structured array with fields ``t, x, (y,) p`` (any integer dtypes, e.g.
tonic's or expelliarmus's), or a plain integer array of shape (N, 4) / (N, 3) whose
columns are ``t, x, y, p`` / ``t, x, p``. ``.npz``: arrays ``t, x, (y,) p`` (what
:func:`write` produces, plus an optional ``sensor_size``), or one structured array under
``events``. Files are loaded with ``allow_pickle=False``.
"""

from __future__ import annotations

import os
import tokenize
import zipfile
import zlib
from pathlib import Path

import numpy as np

from spikestack.atomic import atomic_write
from spikestack.data.events import EventFormatError
from spikestack.data.io._common import Meta, check_bounds, check_path, from_columns
from spikestack.data.io._writing import check_sensor, prepare


def _columns_of(arr: np.ndarray, path: Path) -> dict[str, np.ndarray]:
    if arr.dtype.names is not None:
        return {name: arr[name] for name in arr.dtype.names if name in ("t", "x", "y", "p")}
    if arr.ndim == 2 and arr.shape[1] in (3, 4):
        names = ("t", "x", "y", "p") if arr.shape[1] == 4 else ("t", "x", "p")
        return {name: arr[:, i] for i, name in enumerate(names)}
    raise EventFormatError(
        f"{path}: expected a structured event array (fields t, x, (y,) p) or an (N, 4)/(N, 3) "
        f"integer array; got dtype {arr.dtype}, shape {arr.shape}"
    )


def _damaged(path: Path, err: BaseException) -> EventFormatError:
    reason = " ".join(str(err).split()) or type(err).__name__
    return EventFormatError(f"{path}: not a readable numpy file (damaged or not numpy): {reason}")


# what numpy, zipfile and zlib raise for a damaged file (a bad header is a tokenize error)
# NotImplementedError: a damaged zip member header naming an unknown compression method
_DAMAGE = (ValueError, OSError, EOFError, KeyError, IndexError, SyntaxError, zipfile.BadZipFile,
           zlib.error, tokenize.TokenError, NotImplementedError)  # fmt: skip


def _load(path: Path) -> object:
    try:
        return np.load(path, allow_pickle=False)
    except _DAMAGE as err:  # pickled objects, a cut or damaged file, not numpy at all
        raise _damaged(path, err) from err


def read_npy(path: Path) -> tuple[np.ndarray, Meta]:
    """Read events from a ``.npy`` file."""
    path = check_path(path)
    arr = _load(path)
    if not isinstance(arr, np.ndarray):
        raise EventFormatError(f"{path}: expected a .npy array, found an .npz archive")
    return from_columns(_columns_of(arr, path), path=path), {"format": "npy", "sensor_size": None}


def read_npz(path: Path) -> tuple[np.ndarray, Meta]:
    """Read events from a ``.npz`` archive (columns, or a structured ``events`` array)."""
    path = check_path(path)
    archive = _load(path)
    if isinstance(archive, np.ndarray):
        raise EventFormatError(f"{path}: expected an .npz archive, found a single .npy array")
    try:
        with archive as z:  # members load here, lazily: damage shows up now
            if "events" in z.files:
                columns = _columns_of(z["events"], path)
            else:
                columns = {k: z[k] for k in ("t", "x", "y", "p") if k in z.files}
            stored = z["sensor_size"] if "sensor_size" in z.files else None
    except EventFormatError:
        raise
    except _DAMAGE as err:
        raise _damaged(path, err) from err
    size = None
    if stored is not None:
        if stored.dtype.kind not in "iu" or stored.ndim != 1:
            raise EventFormatError(
                f"{path}: sensor_size must be a 1-D integer array; got dtype {stored.dtype}, "
                f"shape {stored.shape}"
            )
        size = tuple(int(v) for v in stored) or None
    events = from_columns(columns, path=path)
    check_bounds(events, size, path=path)  # the file's own sensor size holds its events
    return events, {"format": "npz", "sensor_size": size}


def write_npy(
    path: str | os.PathLike[str],
    events: np.ndarray,
    *,
    sensor_size: tuple[int, ...] | None = None,
) -> Path:
    """Write 1-D or 2-D events as one structured ``.npy`` array (atomically), in the given
    order; exact for every canonical event array. A ``.npy`` holds one array and no sensor
    size: ``sensor_size`` only checks the events (write ``.npz`` or ``.h5`` to keep it)."""
    path = Path(path)
    events = prepare(events, path=path, fmt=".npy")
    check_sensor(sensor_size, events, path=path, fmt=".npy")
    return atomic_write(path, lambda f: np.save(f, events, allow_pickle=False))


def write_npz(
    path: str | os.PathLike[str],
    events: np.ndarray,
    *,
    sensor_size: tuple[int, ...] | None = None,
) -> Path:
    """Write 1-D or 2-D events as columns ``t, x, (y,) p`` (+ ``sensor_size``, any length)
    in a compressed ``.npz`` (atomically), in the given order; exact for every canonical
    event array."""
    path = Path(path)
    events = prepare(events, path=path, fmt=".npz")
    size = check_sensor(sensor_size, events, path=path, fmt=".npz")
    arrays = {name: np.ascontiguousarray(events[name]) for name in events.dtype.names}
    if size is not None:
        arrays["sensor_size"] = np.asarray(size, dtype=np.int64)
    return atomic_write(path, lambda f: np.savez_compressed(f, **arrays))
