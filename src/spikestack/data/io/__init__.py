"""Event-file readers: one module per format, one entry point for all of them.

    events = read_events("rec.raw")                         # reader picked by extension + header
    events, meta = read_events("rec.raw", return_meta=True) # meta["sensor_size"] = (W, H, P) or None
    for chunk in iter_events("big.raw", chunk=1_000_000): ...
    write_events("copy.npz", events)                        # writer picked by extension
    write_events("copy.raw", events, format="evt3", sensor_size=(640, 480, 2))

Every reader returns the canonical structured array (``EVENT_DTYPE``, or
``EVENT_DTYPE_1D`` for 1-D sensors) sorted by t. A file whose content does not match
its extension, a truncated file, or coordinates outside the declared sensor are an
:class:`~spikestack.data.events.EventFormatError`; a missing file a FileNotFoundError.

Every format also has a writer, beside its reader, that writes atomically and gives
back the same events: ``read_events(write_events(path, events))`` equals ``events``
for any canonical (sorted) array the format can hold. Events it cannot hold (bits,
sensor, order, 1-D vs 2-D) are a ValueError naming the file, the field and the limit.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spikestack.data.events import EventFormatError
from spikestack.data.io import _prophesee
from spikestack.data.io._common import check_path, magic_format, read_head

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class Format:
    """A file format: where its reader and writer live and what it is called."""

    name: str
    module: str
    reader: str
    description: str
    chunks: str | None = None  # streaming reader, if the format has one
    writer: str = "write"  # write(path, events, *, sensor_size=None, **options) -> Path


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            "nmnist", "nmnist", "read", "N-MNIST/N-Caltech101 .bin (SLAYER .bs2)", "iter_chunks"
        ),
        Format("bs1", "nmnist", "read_bs1", "SLAYER .bs1 1-D spikes", writer="write_bs1"),
        Format("evt2", "evt2", "read", "Prophesee EVT 2.0 .raw", "iter_chunks"),
        Format("evt3", "evt3", "read", "Prophesee EVT 3.0 .raw", "iter_chunks"),
        Format("dat", "dat", "read", "Prophesee .dat", "iter_chunks"),
        Format("aedat2", "aedat2", "read", "AEDAT 2.0 (jAER)", "iter_chunks"),
        Format("aedat3", "aedat3", "read", "AEDAT 3.1 (cAER / DVS128 Gesture)"),
        Format("aedat4", "aedat4", "read", "AEDAT 4.0 (DV)"),
        Format(
            "aer",
            "aer",
            "read",
            "headerless 6-byte raw AER (AEDAT 1.0, NAS cochlea)",
            "iter_chunks",
        ),
        Format("hdf5", "hdf5", "read", "HDF5 (SHD/SSC layout or spikestack layout)"),
        Format("mat", "mat", "read", "MATLAB .mat (ASL-DVS, ST-MNIST)"),
        Format("npy", "numpy_files", "read_npy", "numpy .npy", writer="write_npy"),
        Format("npz", "numpy_files", "read_npz", "numpy .npz", writer="write_npz"),
    )
}
_ALIASES = {"bin": "nmnist", "bs2": "nmnist", "ncaltech101": "nmnist", "nas": "aer", "h5": "hdf5"}

# Extension -> the formats a file with that extension may hold.
_EXTENSIONS: dict[str, tuple[str, ...]] = {
    ".bin": ("nmnist",),
    ".bs2": ("nmnist",),
    ".bs1": ("bs1",),
    ".raw": ("evt2", "evt3"),
    ".dat": ("dat",),
    ".aedat": ("aedat2", "aedat3", "aedat4", "aer"),
    ".aedat4": ("aedat4",),
    ".h5": ("hdf5",),
    ".hdf5": ("hdf5",),
    ".mat": ("mat",),
    ".npy": ("npy",),
    ".npz": ("npz",),
}
_HEADERLESS = {"nmnist", "bs1", "aer"}  # formats with no magic: only the extension tells


def _sniff(path: Path, *, expected: tuple[str, ...] | None = None) -> str | None:
    """The format named by the file's magic bytes / text header, or None."""
    head = read_head(path, 1 << 16)
    found = magic_format(head)
    if found != "prophesee":
        return found
    if expected == ("dat",):
        return "dat"  # the .dat reader itself rejects an EVT header (saves a parse)
    header, _ = _prophesee.read_header(path, head=head)
    version = _prophesee.evt_version(header)
    if version is None:
        return "dat" if "Version" in header or path.suffix.lower() == ".dat" else "prophesee"
    return {"2.0": "evt2", "3.0": "evt3"}.get(version, f"evt {version}")


def detect_format(path: PathLike) -> str:
    """Name of the reader for ``path``, from its extension and header magic.

    Raises EventFormatError when the content contradicts the extension or when
    neither tells the format.
    """
    path = check_path(path)
    ext = path.suffix.lower()
    expected = _EXTENSIONS.get(ext)
    if expected is not None and len(expected) == 1 and expected[0] in _HEADERLESS:
        return expected[0]  # its reader checks the content for another format's magic
    found = _sniff(path, expected=expected)
    if found == "prophesee" and ext == ".raw":
        found = None  # a '%' header without an EVT version line: ask for format=
    if found is not None and found not in FORMATS:
        raise EventFormatError(
            f"{path}: unsupported Prophesee header ({found}); supported: evt2, evt3, dat"
        )
    if expected is None:
        if found is not None:
            return found
        raise EventFormatError(
            f"{path}: cannot tell the event format from extension '{ext}' or the header; "
            f"pass format= one of {sorted(FORMATS)}"
        )
    if found is None:
        headerless = [name for name in expected if name in _HEADERLESS]
        if headerless:
            return headerless[0]
        if ext == ".raw":
            raise EventFormatError(
                f"{path}: expected a Prophesee .raw header with '% evt 2.0' or '% evt 3.0'; "
                f"found none (pass format='evt2' or format='evt3')"
            )
        names = " or ".join(FORMATS[n].description for n in expected)
        raise EventFormatError(
            f"{path}: extension '{ext}' means {names}, but the file has no such header "
            f"(starts with {read_head(path, 16)!r})"
        )
    if found not in expected:
        names = " or ".join(FORMATS[n].description for n in expected)
        raise EventFormatError(
            f"{path}: extension '{ext}' means {names}, but the content is "
            f"{FORMATS[found].description}; rename the file or pass format='{found}'"
        )
    return found


def _named(format: str) -> Format:
    name = _ALIASES.get(format.lower(), format.lower())
    if name not in FORMATS:
        raise ValueError(f"format must be one of {sorted(FORMATS)} or None; got {format!r}")
    return FORMATS[name]


def _format(path: PathLike, format: str | None) -> Format:
    return FORMATS[detect_format(path)] if format is None else _named(format)


def _function(fmt: Format, attr: str) -> Any:
    return getattr(importlib.import_module(f"spikestack.data.io.{fmt.module}"), attr)


def read_events(
    path: PathLike, *, format: str | None = None, return_meta: bool = False, **options: Any
) -> np.ndarray | tuple[np.ndarray, dict[str, Any]]:
    """Read an event file into the canonical structured array, sorted by t.

    ``format`` forces a reader (see ``FORMATS``); by default it is picked from the
    extension and header. ``options`` go to the reader (e.g. ``allow_truncated=True``,
    ``sensor_size=(W, H, 2)``, ``index=`` for SHD, ``tick_us=`` for raw AER). With
    ``return_meta=True`` the result is ``(events, meta)``; meta has at least
    ``format`` and ``sensor_size`` ((W, H, P) or None).
    """
    path = check_path(path)
    fmt = _format(path, format)
    events, meta = _function(fmt, fmt.reader)(path, **options)
    return (events, meta) if return_meta else events


def iter_events(
    path: PathLike, *, chunk: int = 1_000_000, format: str | None = None, **options: Any
) -> Iterator[np.ndarray]:
    """Yield the events of ``path`` in chunks of about ``chunk`` events.

    Binary formats (.bin/.bs2, EVT 2.0, EVT 3.0, .dat, AEDAT 2.0, raw AER) are read
    block by block, so files larger than memory work; decoder state is carried across
    blocks. Other formats are read whole and sliced. For a time-sorted file, the
    concatenated chunks equal :func:`read_events`; an out-of-order file is sorted
    within each chunk only (with a warning).
    """
    if int(chunk) < 1:
        raise ValueError(f"chunk must be a positive number of events; got {chunk}")
    path = check_path(path)
    fmt = _format(path, format)
    if fmt.chunks is not None:
        yield from _function(fmt, fmt.chunks)(path, chunk=int(chunk), **options)
        return
    events, _ = _function(fmt, fmt.reader)(path, **options)
    for start in range(0, events.shape[0], int(chunk)):
        yield events[start : start + int(chunk)]


def writer_format(path: PathLike, format: str | None = None) -> str:
    """Name of the writer for ``path``: ``format`` (a name or alias of ``FORMATS``) if given,
    else the one format its extension stands for."""
    if format is not None:
        return _named(format).name
    ext = Path(path).suffix.lower()
    names = _EXTENSIONS.get(ext)
    if names is None:
        raise ValueError(
            f"cannot tell which format to write to '{path}' from its extension; use one of "
            f"{sorted(_EXTENSIONS)} or pass format= one of {sorted(FORMATS)}"
        )
    if len(names) > 1:
        choices = " or ".join(f"format='{n}'" for n in names)
        raise ValueError(
            f"'{path}': the extension '{ext}' is used by {', '.join(names)}; pass {choices}"
        )
    return names[0]


def write_events(
    path: PathLike,
    events: np.ndarray,
    *,
    format: str | None = None,
    sensor_size: tuple[int, ...] | None = None,
    **options: Any,
) -> Path:
    """Write ``events`` to ``path`` atomically (temporary file, fsync, rename) and return the path.

    ``format`` forces a writer (the names and aliases of :func:`read_events`); otherwise the
    extension decides, and an extension shared by several formats (``.raw``, ``.aedat``)
    needs ``format=``. ``sensor_size`` is checked against the events and recorded where the
    format has a place for it (evt2, evt3, dat, aedat4, hdf5, npz, mat; aedat2 and aedat3
    for the sensor sizes of the chips they can name); nmnist, bs1, aer and npy only check
    it. ``options`` go to the writer (e.g. ``compression=`` for aedat4, ``layout=`` for
    aedat2, ``tick_us=`` for aer). :func:`read_events` (with the same reader options) gives
    back the same events; see each writer's docstring for what its format can hold.
    """
    fmt = FORMATS[writer_format(path, format)]
    return _function(fmt, fmt.writer)(Path(path), events, sensor_size=sensor_size, **options)


__all__ = [
    "FORMATS",
    "detect_format",
    "iter_events",
    "read_events",
    "write_events",
    "writer_format",
]
