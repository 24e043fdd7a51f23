"""The canonical event record and small helpers around it.

Events are data, not classes: one structured numpy array per recording, sorted by
time. Vision sensors use ``EVENT_DTYPE`` (t in microseconds, x, y, polarity);
1-D sensors (cochleas, spike files with unit ids) use ``EVENT_DTYPE_1D``.
Every reader in :mod:`spikestack.data.io` returns one of these.
"""

from __future__ import annotations

import numpy as np

EVENT_DTYPE = np.dtype([("t", np.int64), ("x", np.uint16), ("y", np.uint16), ("p", np.int8)])
EVENT_DTYPE_1D = np.dtype([("t", np.int64), ("x", np.uint16), ("p", np.int8)])


class EventFormatError(ValueError):
    """A file is not of the expected format, or is truncated or malformed."""


def make_events(
    t: np.ndarray,
    x: np.ndarray,
    y: np.ndarray | None = None,
    p: np.ndarray | None = None,
    *,
    sort: bool = True,
) -> np.ndarray:
    """Build a canonical event array from column arrays (``y=None`` gives 1-D events).

    ``p`` defaults to all ones. With ``sort=True`` the result is sorted by ``t``
    with a stable sort, so events with equal timestamps keep their file order.
    """
    t = np.asarray(t)
    n = t.shape[0]
    dtype = EVENT_DTYPE_1D if y is None else EVENT_DTYPE
    columns = {"t": t, "x": x, "y": y, "p": 1 if p is None else p}
    for name in dtype.names:  # a value that does not fit raises; it never wraps around
        values = np.asarray(columns[name])
        if values.size == 0:
            continue
        if values.dtype.kind not in "iub":
            if values.dtype.kind != "f" or not np.array_equal(values, np.rint(values)):
                raise ValueError(f"make_events: {name} must hold whole numbers; got {values.dtype}")
        info = np.iinfo(dtype[name])
        low, high = values.min(), values.max()
        if low < info.min or high > info.max:
            raise ValueError(
                f"make_events: {name} has values in [{low}, {high}], outside its field's range "
                f"[{info.min}, {info.max}] ({dtype[name]})"
            )
    events = np.empty(n, dtype=dtype)
    events["t"] = t
    events["x"] = x
    if y is not None:
        events["y"] = y
    events["p"] = columns["p"]
    if sort and n > 1 and np.any(events["t"][1:] < events["t"][:-1]):
        events = events[np.argsort(events["t"], kind="stable")]
    return events


def is_event_array(events: object) -> bool:
    """True when ``events`` is a structured array with the canonical fields."""
    return (
        isinstance(events, np.ndarray)
        and events.dtype.names is not None
        and {"t", "x", "p"} <= set(events.dtype.names)
    )


def check_events(events: object, *, name: str = "events") -> np.ndarray:
    """Return ``events`` if it is a 1-D canonical event array, else raise a clear error."""
    if not is_event_array(events):
        got = getattr(events, "dtype", type(events).__name__)
        raise TypeError(
            f"{name} must be a structured numpy array with fields t, x, (y,) p "
            f"(spikestack.data.EVENT_DTYPE); got {got}"
        )
    if events.ndim != 1:  # type: ignore[union-attr]
        raise ValueError(f"{name} must be 1-D; got shape {events.shape}")  # type: ignore[union-attr]
    return events  # type: ignore[return-value]
