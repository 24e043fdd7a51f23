"""Prophesee EVT 2.0 ``.raw`` files.

Layout (Prophesee "EVT 2.0" format documentation): a ``%`` text header, then
little-endian uint32 words with the type in bits 31-28:

    0x0 CD_OFF / 0x1 CD_ON   t_low = bits 27-22, x = bits 21-11, y = bits 10-0
    0x8 EV_TIME_HIGH         bits 27-0 = t >> 6, so t = time_high << 6 | t_low (µs)
    0xA EXT_TRIGGER, 0xE OTHERS, 0xF CONTINUED   (ignored here)
    other types              reserved: never written, so damage; counted in a warning

A decrease of TIME_HIGH from the top of its 28-bit counter to the bottom is a wrap and
adds 2**34 µs; any other decrease is a damaged word (counted in a warning; the times
follow the later word, so one bad word cannot shift the rest of the file by hours). CD events
before the first TIME_HIGH word have no defined time; they are dropped with a warning.
Decoding is one numba pass; streaming carries the TIME_HIGH state across blocks.
:func:`write` produces the same words (see its docstring for the limits).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numba
import numpy as np

from spikestack.atomic import atomic_write
from spikestack.data.events import EVENT_DTYPE
from spikestack.data.io import _prophesee
from spikestack.data.io._common import (
    Meta,
    finish,
    new_stats,
)

# Indices into the int64 decoder state carried from block to block.
_HIGH, _RAW_HIGH, _WRAPS, _DROPPED, _DAMAGED, _RESERVED = range(6)
# A decrease of TIME_HIGH is a wrap of its 28-bit counter only from the counter's top
# (within 2**20 units, 67 s) to its bottom; any other decrease is a damaged word.
_WRAP_MARGIN = 1 << 20


def new_state() -> np.ndarray:
    """Decoder state at the start of a file: no TIME_HIGH seen yet."""
    return np.array([-1, -1, 0, 0, 0, 0], dtype=np.int64)


@numba.njit(cache=True, nogil=True)
def _fill(words, state, ev, stats):  # pragma: no cover - compiled
    """Decode ``words`` into ``ev``; returns the number of events written."""
    high, raw_high, wraps, dropped = state[_HIGH], state[_RAW_HIGH], state[_WRAPS], state[_DROPPED]
    damaged = state[_DAMAGED]
    unsorted, max_x, max_y, last_t = stats[0], stats[1], stats[2], stats[3]
    n = 0
    for w in words:
        kind = w >> 28
        if kind <= 1:
            if high < 0:
                dropped += 1
                continue
            t = (high << 6) | ((w >> 22) & 0x3F)
            x = (w >> 11) & 0x7FF
            y = w & 0x7FF
            ev[n].t = t
            ev[n].x = x
            ev[n].y = y
            ev[n].p = kind
            n += 1
            if t < last_t:
                unsorted = 1
            last_t = t
            max_x = max(max_x, x)
            max_y = max(max_y, y)
        elif kind == 0x8:
            raw = w & 0x0FFFFFFF
            if 0 <= raw_high and raw < raw_high:
                if raw_high >= (1 << 28) - _WRAP_MARGIN and raw < _WRAP_MARGIN:
                    wraps += 1
                else:  # not a wrap: one of the two words is damaged; follow the new one
                    damaged += 1
            raw_high = raw
            high = raw + (wraps << 28)
        elif kind != 0xA and kind != 0xE and kind != 0xF:  # not a trigger, other or continued
            state[_RESERVED] += 1
    state[_HIGH], state[_RAW_HIGH], state[_WRAPS], state[_DROPPED] = high, raw_high, wraps, dropped
    state[_DAMAGED] = damaged
    stats[0], stats[1], stats[2], stats[3] = unsorted, max_x, max_y, last_t
    return n


def decode(
    words: np.ndarray, state: np.ndarray, *, path: Path, sensor_size: tuple[int, ...] | None
) -> np.ndarray:
    """Decode a block of uint32 words (updating ``state``), bounds-checked and sorted."""
    events = np.empty(words.shape[0], dtype=EVENT_DTYPE)
    stats = new_stats()
    n = _fill(words, state, events, stats)
    events = events[:n] if 2 * n > words.shape[0] else events[:n].copy()
    return finish(events, path=path, sensor_size=sensor_size, stats=stats)


FORMAT = _prophesee.EvtFormat(
    name="evt2",
    version="2.0",
    word="<u4",
    new_state=new_state,
    dropped_slot=_DROPPED,
    dropped_why="CD event(s) that came before the first EV_TIME_HIGH word (their time is undefined)",
    decode=decode,
    damaged_slot=_DAMAGED,
    damaged_why="EV_TIME_HIGH word(s) went backwards without a counter wrap (damaged?): the "
    "times follow the later word, without adding 2**34 µs",
    reserved_slot=_RESERVED,
)


def iter_chunks(
    path: Path,
    *,
    chunk: int,
    allow_truncated: bool = False,
    sensor_size: tuple[int, ...] | None = None,
) -> Iterator[np.ndarray]:
    """Stream an EVT 2.0 file in blocks of about ``chunk`` words (≈ events)."""
    return _prophesee.iter_evt(
        FORMAT, path, chunk=chunk, allow_truncated=allow_truncated, size=sensor_size
    )


def read(
    path: Path, *, allow_truncated: bool = False, sensor_size: tuple[int, ...] | None = None
) -> tuple[np.ndarray, Meta]:
    """Read a whole EVT 2.0 file; ``sensor_size`` overrides the header's resolution."""
    return _prophesee.read_evt(FORMAT, path, allow_truncated=allow_truncated, size=sensor_size)


MAX_T = 2**40 - 1  # each 2**34 µs wrap inside a gap costs two words; 64 wraps at most


def write(
    path: str | os.PathLike[str],
    events: np.ndarray,
    *,
    sensor_size: tuple[int, ...] | None = None,
) -> Path:
    """Write 2-D events as an EVT 2.0 ``.raw`` file (atomically).

    Header: ``% evt 2.0``, ``% format EVT2;height=H;width=W`` and ``% geometry WxH`` (with
    ``sensor_size``), ``% end``. Words: one EV_TIME_HIGH (t >> 6) before the first event
    and whenever it changes, then one CD_OFF / CD_ON word per event; a jump across a wrap
    of the 28-bit TIME_HIGH counter is written as a maximal then a zero TIME_HIGH per wrap.
    Limits: x, y in [0, 2047] (11 bits), p 0 or 1, t in [0, 2**40) µs, sorted by t.
    sensor_size (W, H) or (W, H, 2) reads back as (W, H, 2).
    """
    path = Path(path)
    events, size = _prophesee.evt_events(
        events,
        sensor_size,
        path=path,
        fmt="EVT 2.0",
        max_t=MAX_T,
        time_why="28-bit TIME_HIGH, wraps capped at 2**40 µs",
    )
    t = events["t"].astype(np.int64)
    high = t >> 6
    cd = (
        events["p"].astype(np.uint32) << 28
        | (t & 0x3F).astype(np.uint32) << 22
        | events["x"].astype(np.uint32) << 11
        | events["y"].astype(np.uint32)
    )
    time_high = (0x8 << 28 | (high & 0x0FFFFFFF)).astype(np.uint32)
    words = _prophesee.assemble(
        cd,
        [(_prophesee.changed(high), time_high)],
        np.diff(high >> 28, prepend=0),
        (0x8 << 28 | 0x0FFFFFFF, 0x8 << 28),
    )
    data = _prophesee.evt_header("2.0", size) + words.astype("<u4").tobytes()
    return atomic_write(path, lambda f: f.write(data))
