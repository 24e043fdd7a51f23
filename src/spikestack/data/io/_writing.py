"""Checks shared by the event writers, so that every format refuses bad input the same way.

A writer first calls :func:`prepare` (canonical events of the right kind, in time order
where the format needs it), then :func:`check_range` for each field whose bits are
limited, then :func:`check_sensor` for the optional ``sensor_size``. Each failure is a
``ValueError`` that names the file, the format, the field and the limit, so that
``write_events`` never writes a file that reads back different from what was given.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spikestack.data.events import EVENT_DTYPE, EVENT_DTYPE_1D, check_events
from spikestack.data.io._common import foreign_header

_FIELDS = ("t", "x", "y", "p")
# what the canonical dtype holds, so that converting a foreign integer dtype cannot wrap
_CANONICAL_RANGE = {
    "t": (-(2**63), 2**63 - 1),
    "x": (0, 2**16 - 1),
    "y": (0, 2**16 - 1),
    "p": (-128, 127),
}


def prepare(
    events: object,
    *,
    path: Path,
    fmt: str,
    dims: tuple[int, ...] = (1, 2),
    needs_order: bool = False,
) -> np.ndarray:
    """``events`` as a canonical array (``EVENT_DTYPE`` or ``EVENT_DTYPE_1D``), or a clear error.

    ``dims`` says whether the format holds 1-D events (t, x, p), 2-D events (t, x, y, p)
    or both; ``needs_order`` refuses events that are not sorted by t (formats whose time
    words are relative to the previous event cannot store them otherwise).
    """
    events = check_events(events)  # TypeError for anything that is not an event array
    names = events.dtype.names
    extra = sorted(set(names) - set(_FIELDS))
    if extra:
        raise ValueError(
            f"{path}: events have field(s) {extra} that event files do not store; "
            f"{fmt} holds only t, x, (y,) p: drop them first"
        )
    kind = 2 if "y" in names else 1
    if kind not in dims:
        want = "2-D events (fields t, x, y, p)" if 2 in dims else "1-D events (fields t, x, p)"
        raise ValueError(f"{path}: {fmt} stores {want}; got {kind}-D events with fields {names}")
    for name in names:
        if events.dtype[name].kind not in "iub":
            raise ValueError(
                f"{path}: field {name} must hold integers (t in µs); got dtype "
                f"{events.dtype[name]} (spikestack.data.EVENT_DTYPE has t int64, x/y uint16, p int8)"
            )
    for name in names:
        lo, hi = _CANONICAL_RANGE[name]
        check_range(
            events, name, lo, hi, path=path, fmt=fmt, why=f"the range of {name} in EVENT_DTYPE"
        )
    canonical = EVENT_DTYPE if kind == 2 else EVENT_DTYPE_1D
    if events.dtype != canonical:
        converted = np.empty(events.shape[0], dtype=canonical)
        for name in canonical.names:
            converted[name] = events[name]
        events = converted
    if needs_order and events.shape[0] > 1:
        t = events["t"]
        back = np.flatnonzero(t[1:] < t[:-1])
        if back.size:
            i = int(back[0]) + 1
            raise ValueError(
                f"{path}: {fmt} needs events sorted by t (its time words are relative to the "
                f"previous event); event {i} has t={int(t[i])} after t={int(t[i - 1])}. Sort "
                f"first: events[np.argsort(events['t'], kind='stable')]"
            )
    return events


def check_range(
    events: np.ndarray, field: str, lo: int, hi: int, *, path: Path, fmt: str, why: str
) -> None:
    """Raise unless every ``events[field]`` lies in ``[lo, hi]``; ``why`` names the limit's origin."""
    if events.shape[0] == 0:
        return
    column = events[field]
    low, high = int(column.min()), int(column.max())
    if low >= lo and high <= hi:
        return
    bad = int(np.count_nonzero((column < lo) | (column > hi)))
    value = low if low < lo else high
    raise ValueError(
        f"{path}: {fmt} cannot store {field} = {value}: {field} must be in [{lo}, {hi}] "
        f"({why}); {bad} event(s) outside"
    )


def check_polarity(events: np.ndarray, *, path: Path, fmt: str) -> None:
    """One-bit polarity: p must be 0 (OFF) or 1 (ON); -1 for OFF is refused, not remapped."""
    if events.shape[0] and not np.all((events["p"] == 0) | (events["p"] == 1)):
        bad = np.unique(events["p"][(events["p"] != 0) & (events["p"] != 1)])
        raise ValueError(
            f"{path}: {fmt} stores p in one bit, so p must be 0 (OFF) or 1 (ON); got "
            f"{bad.tolist()[:5]}. Map it first, e.g. events['p'] = events['p'] > 0"
        )


def check_sensor(
    sensor_size: object,
    events: np.ndarray,
    *,
    path: Path,
    fmt: str,
    max_size: tuple[int, ...] | None = None,
) -> tuple[int, ...] | None:
    """Validate ``sensor_size`` (a tuple of positive ints, or None) and that the events fit it.

    ``max_size`` is the largest (W, H) the format's coordinate bits allow. Returns the
    size as a tuple of ints.
    """
    if sensor_size is None:
        return None
    size = _positive_ints(sensor_size)
    if size is None:
        raise ValueError(
            f"{path}: sensor_size must be a tuple of positive ints (W, H, P) (1-D: (W,) or "
            f"(W, 1, 1)); got {sensor_size!r}"
        )
    for axis, field in enumerate(("x", "y")):
        if axis >= len(size) or field not in events.dtype.names:
            continue
        if max_size is not None and axis < len(max_size) and size[axis] > max_size[axis]:
            raise ValueError(
                f"{path}: {fmt} coordinates reach {max_size[axis] - 1} at most, so sensor_size "
                f"{size} is too {'wide' if axis == 0 else 'tall'} (limit {max_size[axis]})"
            )
        check_range(events, field, 0, size[axis] - 1, path=path, fmt=fmt, why=f"sensor_size {size}")
    return size


def _positive_ints(value: object) -> tuple[int, ...] | None:
    try:
        items = tuple(value)  # type: ignore[arg-type]
    except TypeError:
        return None
    ok = bool(items) and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in items
    )
    return tuple(int(v) for v in items) if ok else None


def planar_sensor(
    sensor_size: object,
    events: np.ndarray,
    *,
    path: Path,
    fmt: str,
    max_size: tuple[int, int],
) -> tuple[int, int, int] | None:
    """A sensor size for headers that record width and height only: (W, H) or (W, H, 2),
    returned as (W, H, 2), which is what the reader reports."""
    size = check_sensor(sensor_size, events, path=path, fmt=fmt, max_size=max_size)
    if size is None:
        return None
    if len(size) not in (2, 3) or (len(size) == 3 and size[2] != 2):
        raise ValueError(
            f"{path}: {fmt} records a sensor's width and height, read back as (W, H, 2); "
            f"sensor_size must be (W, H) or (W, H, 2); got {size}"
        )
    return size[0], size[1], 2


def check_headerless(data: bytes, *, path: Path, fmt: str) -> None:
    """Refuse headerless bytes that start like another format's header: the reader would
    take the file for that format (see ``_common.foreign_header``)."""
    found = foreign_header(data[:1024])
    if found is not None:
        raise ValueError(
            f"{path}: the first bytes of these events spell a {found} header ({data[:8]!r}); "
            f"a headerless {fmt} file cannot be told apart from it. Write another format"
        )
