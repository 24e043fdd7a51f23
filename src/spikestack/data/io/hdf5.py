"""HDF5 spike/event files: the SHD/SSC layout and spikestack's own layout.

SHD / SSC (Cramer et al. 2020, "The Heidelberg spiking data sets"): ``spikes/times``
(spike times in seconds, float; one variable-length array per sample), ``spikes/units``
(channel ids, same shape), ``labels`` (one int per sample). A sample is chosen with
``index=``; it gives ``EVENT_DTYPE_1D`` events with x = unit, p = 1 and
t = round(times * 1e6) µs. A file holding a single sample as plain 1-D datasets needs
no ``index``.

spikestack layout (written by :func:`write`): a group ``events`` with datasets
``t, x, (y,) p`` and an optional ``sensor_size`` attribute.

h5py is imported lazily (``pip install h5py``; the ``data`` extra).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from spikestack.atomic import atomic_write
from spikestack.data.events import EventFormatError
from spikestack.data.io._common import (
    SECONDS_LIMIT,
    Meta,
    check_bounds,
    check_finite,
    check_path,
    data_extra,
    from_columns,
)
from spikestack.data.io._writing import check_sensor, prepare


def _h5py() -> Any:
    return data_extra("h5py", "reading/writing HDF5 event files")


def _open(h5py: Any, path: Path) -> Any:
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise EventFormatError(
            f"{path}: expected an HDF5 file; h5py could not open it: {err}"
        ) from err


@contextlib.contextmanager
def _damage_is_a_format_error(path: Path) -> Iterator[None]:
    """h5py reports a damaged dataset or attribute as OSError/KeyError/RuntimeError."""
    try:
        yield
    except (OSError, KeyError, RuntimeError, TypeError) as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        raise EventFormatError(f"{path}: damaged HDF5 content: {reason}") from err


def _shd_sample(f: Any, path: Path, index: int | None) -> tuple[dict[str, np.ndarray], Meta]:
    times, units = f["spikes/times"], f["spikes/units"]
    if times.shape != units.shape:
        raise EventFormatError(
            f"{path}: spikes/times has shape {times.shape} but spikes/units has {units.shape}"
        )
    meta: Meta = {"format": "hdf5", "layout": "shd", "sensor_size": None, "num_samples": 1}
    if times.dtype.kind == "O":  # variable-length: one array per sample
        count = times.shape[0]
        meta["num_samples"] = count
        if index is None:
            if count != 1:
                raise ValueError(
                    f"{path} holds {count} samples (SHD/SSC layout); pass index=0..{count - 1}"
                )
            index = 0
        if not -count <= index < count:
            raise IndexError(f"index must be in [0, {count}); got {index} for {path}")
        t_sec, unit = np.asarray(times[index]), np.asarray(units[index])
        if "labels" in f:
            meta["label"] = int(f["labels"][index])
        meta["index"] = int(index % count)
    else:
        t_sec, unit = np.asarray(times[()]), np.asarray(units[()])
    if t_sec.dtype.kind != "f":
        raise EventFormatError(f"{path}: spikes/times must be float seconds; got {t_sec.dtype}")
    check_finite(t_sec, limit=SECONDS_LIMIT, what="spikes/times", path=path)
    return {
        "t": np.rint(t_sec.astype(np.float64) * 1e6).astype(np.int64),
        "x": unit.astype(np.int64),
    }, meta


def read(path: Path, *, index: int | None = None) -> tuple[np.ndarray, Meta]:
    """Read an HDF5 event file (SHD/SSC sample ``index``, or spikestack's layout)."""
    path = check_path(path)
    h5py = _h5py()
    with _open(h5py, path) as f, _damage_is_a_format_error(path):
        if "events" in f and isinstance(f["events"], h5py.Group):
            group = f["events"]
            columns = {k: group[k][()] for k in ("t", "x", "y", "p") if k in group}
            size = group.attrs.get("sensor_size")
            meta: Meta = {
                "format": "hdf5",
                "layout": "spikestack",
                "sensor_size": tuple(int(v) for v in size) if size is not None else None,
            }
        elif "spikes" in f and "times" in f["spikes"] and "units" in f["spikes"]:
            columns, meta = _shd_sample(f, path, index)
        else:
            raise EventFormatError(
                f"{path}: expected an 'events' group (t, x, y, p) or the SHD/SSC layout "
                f"(spikes/times, spikes/units); found {sorted(f.keys())}"
            )
    events = from_columns(columns, path=path)
    check_bounds(events, meta["sensor_size"], path=path)  # the file's own size holds its events
    return events, meta


def write(
    path: str | os.PathLike[str],
    events: np.ndarray,
    *,
    sensor_size: tuple[int, ...] | None = None,
) -> Path:
    """Write 1-D or 2-D events in spikestack's HDF5 layout (atomically), in the given order.

    Exact for every canonical event array: one dataset per field in its EVENT_DTYPE type,
    and ``sensor_size`` (any length) as an int64 attribute. The reader sorts unsorted
    events (with a warning).
    """
    path = Path(path)
    events = prepare(events, path=path, fmt="HDF5")
    size = check_sensor(sensor_size, events, path=path, fmt="HDF5")
    h5py = _h5py()

    def _write(fileobj: Any) -> None:
        with h5py.File(fileobj, "w") as f:
            group = f.create_group("events")
            for name in events.dtype.names:
                group.create_dataset(name, data=np.ascontiguousarray(events[name]))
            if size is not None:
                group.attrs["sensor_size"] = np.asarray(size, dtype=np.int64)

    return atomic_write(path, _write)
