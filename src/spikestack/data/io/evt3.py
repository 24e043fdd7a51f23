"""Prophesee EVT 3.0 ``.raw`` files.

Layout (Prophesee "EVT 3.0" format documentation): a ``%`` text header, then
little-endian uint16 words with the type in bits 15-12. The format is stateful:

    0x0 EVT_ADDR_Y     y = bits 10-0
    0x2 EVT_ADDR_X     p = bit 11, x = bits 10-0; emits one event at (x, y)
    0x3 VECT_BASE_X    p = bit 11, base_x = bits 10-0
    0x4 VECT_12        bits 11-0 mask; an event at base_x + i per set bit i, then base_x += 12
    0x5 VECT_8         bits 7-0 mask; likewise, then base_x += 8
    0x6 EVT_TIME_LOW   t bits 11-0
    0x8 EVT_TIME_HIGH  t bits 23-12
    0xA EXT_TRIGGER, 0xE OTHERS, 0x7 / 0xF CONTINUED   (ignored here)
    0x1, 0x9, 0xB-0xD  reserved: never written, so damage; counted in a warning

Time is spec-style: t = wraps * 2**24 + (TIME_HIGH << 12 | TIME_LOW), where a decrease
of TIME_HIGH is one wrap of the 24-bit counter. The 12-bit counter is short (16.8 s), so a
damaged TIME_HIGH word looks like a wrap unless judged by its neighbours (see ``_high``):
a decrease is a wrap only from the counter's top quarter to its bottom quarter, not when
it returns to where the word before the last one left off (the last one was a lone bad
word), and such a wrap is taken back when the very next word returns above where it
started (the low word was bad); 4095 -> 0 is always a wrap. Damaged words are counted in a warning. Events before the first TIME_HIGH and
ADDR_Y words have no defined time/row; they are dropped with a warning. The decoder
is a numba kernel (count pass, then fill pass) whose state survives across blocks.
:func:`write` produces these words (see its docstring for the limits).
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

# Indices into the int64 decoder state.
_Y, _BASE_X, _VPOL, _TLOW, _THIGH, _WRAPS, _HAVE_T, _HAVE_Y, _DROPPED = range(9)
_PREV_HIGH, _WRAPPED_FROM, _DAMAGED = 9, 10, 11  # for telling damaged TIME_HIGH words
_RESERVED = 12  # words of a type EVT 3.0 does not define
_STATE_SIZE = 13
_TOP = 0xFFF  # largest TIME_HIGH
_QUARTER = 1 << 10  # a quarter of the TIME_HIGH range (4.2 s)


def new_state() -> np.ndarray:
    """Decoder state at the start of a file: no TIME_HIGH or ADDR_Y seen yet."""
    state = np.zeros(_STATE_SIZE, dtype=np.int64)
    state[_PREV_HIGH] = state[_WRAPPED_FROM] = -1
    return state


@numba.njit(cache=True, nogil=True)
def _high(high, state):  # pragma: no cover - compiled
    """Take one TIME_HIGH value into ``state``: a wrap, a damaged word, or a step forward."""
    thigh, prev, wrapped_from = state[_THIGH], state[_PREV_HIGH], state[_WRAPPED_FROM]
    state[_WRAPPED_FROM] = -1
    if not state[_HAVE_T]:
        state[_HAVE_T], state[_THIGH] = 1, high
        return
    if thigh == _TOP and high == 0:
        state[_WRAPS] += 1  # the plain wrap (and how gaps are written): always a wrap
    elif high < thigh:
        if 0 <= prev <= high < prev + _QUARTER:
            state[_DAMAGED] += 1  # back where the word before left off: the last word was bad
        elif thigh > _TOP - _QUARTER and high < _QUARTER:
            state[_WRAPS] += 1
            state[_WRAPPED_FROM] = thigh
        else:
            state[_DAMAGED] += 1  # no wrap explains it: follow the new word, times stay close
    elif high > thigh and 0 <= wrapped_from <= high:
        state[_WRAPS] -= 1  # straight back above the 'wrap': its low word was bad
        state[_DAMAGED] += 1
    if high != thigh:
        state[_PREV_HIGH] = thigh
    state[_THIGH] = high


@numba.njit(cache=True, nogil=True)
def _count(words: np.ndarray) -> int:  # pragma: no cover - compiled
    n = 0
    for w in words:
        kind = w >> 12
        if kind == 0x2:
            n += 1
        elif kind == 0x4 or kind == 0x5:
            m = w & (0xFFF if kind == 0x4 else 0xFF)
            while m:
                m &= m - 1
                n += 1
    return n


@numba.njit(cache=True, nogil=True)
def _fill(words, state, ev, stats):  # pragma: no cover - compiled
    """Decode ``words`` into the preallocated ``ev``; returns the number written."""
    cy, base_x, vpol = state[_Y], state[_BASE_X], state[_VPOL]
    tlow, thigh, wraps = state[_TLOW], state[_THIGH], state[_WRAPS]
    have_t, have_y, dropped = state[_HAVE_T], state[_HAVE_Y], state[_DROPPED]
    unsorted, max_x, max_y, last_t = stats[0], stats[1], stats[2], stats[3]
    n = 0
    for w in words:
        kind = w >> 12
        if kind == 0x0:
            cy = w & 0x7FF
            have_y = 1
        elif kind == 0x2:
            if have_t and have_y:
                t = (wraps << 24) | (thigh << 12) | tlow
                x = w & 0x7FF
                ev[n].t = t
                ev[n].x = x
                ev[n].y = cy
                ev[n].p = (w >> 11) & 1
                n += 1
                if t < last_t:
                    unsorted = 1
                last_t = t
                max_x = max(max_x, x)
                max_y = max(max_y, cy)
            else:
                dropped += 1
        elif kind == 0x3:
            base_x = w & 0x7FF
            vpol = (w >> 11) & 1
        elif kind == 0x4 or kind == 0x5:
            width = 12 if kind == 0x4 else 8
            m = w & (0xFFF if kind == 0x4 else 0xFF)
            if have_t and have_y:
                t = (wraps << 24) | (thigh << 12) | tlow
                for i in range(width):
                    if (m >> i) & 1:
                        ev[n].t = t
                        ev[n].x = base_x + i
                        ev[n].y = cy
                        ev[n].p = vpol
                        n += 1
                        max_x = max(max_x, base_x + i)
                if m:
                    if t < last_t:
                        unsorted = 1
                    last_t = t
                    max_y = max(max_y, cy)
            else:
                while m:
                    m &= m - 1
                    dropped += 1
            base_x += width
        elif kind == 0x6:
            tlow = w & 0xFFF
        elif kind == 0x8:
            state[_THIGH], state[_WRAPS], state[_HAVE_T] = thigh, wraps, have_t
            _high(w & 0xFFF, state)
            thigh, wraps, have_t = state[_THIGH], state[_WRAPS], state[_HAVE_T]
        elif kind == 0x1 or kind == 0x9 or 0xB <= kind <= 0xD:
            state[_RESERVED] += 1
    state[_Y], state[_BASE_X], state[_VPOL] = cy, base_x, vpol
    state[_TLOW], state[_THIGH], state[_WRAPS] = tlow, thigh, wraps
    state[_HAVE_T], state[_HAVE_Y], state[_DROPPED] = have_t, have_y, dropped
    stats[0], stats[1], stats[2], stats[3] = unsorted, max_x, max_y, last_t
    return n


def decode(
    words: np.ndarray, state: np.ndarray, *, path: Path, sensor_size: tuple[int, ...] | None
) -> np.ndarray:
    """Decode a block of uint16 words (updating ``state``, from :func:`new_state`);
    the result is bounds-checked and sorted."""
    events = np.empty(_count(words), dtype=EVENT_DTYPE)
    stats = new_stats()
    n = _fill(words, state, events, stats)
    return finish(events[:n], path=path, sensor_size=sensor_size, stats=stats)


FORMAT = _prophesee.EvtFormat(
    name="evt3",
    version="3.0",
    word="<u2",
    new_state=new_state,
    dropped_slot=_DROPPED,
    dropped_why=(
        "event(s) that came before the first EVT_TIME_HIGH / EVT_ADDR_Y word "
        "(their time or row is undefined)"
    ),
    decode=decode,
    damaged_slot=_DAMAGED,
    damaged_why="EVT_TIME_HIGH word(s) that no wrap of the 24-bit time explains (damaged?): "
    "the times follow their neighbours, without adding 2**24 µs",
    reserved_slot=_RESERVED,
)


def iter_chunks(
    path: Path,
    *,
    chunk: int,
    allow_truncated: bool = False,
    sensor_size: tuple[int, ...] | None = None,
) -> Iterator[np.ndarray]:
    """Stream an EVT 3.0 file, decoding ``chunk`` words (≈ events or more) at a time."""
    return _prophesee.iter_evt(
        FORMAT, path, chunk=chunk, allow_truncated=allow_truncated, size=sensor_size
    )


def read(
    path: Path, *, allow_truncated: bool = False, sensor_size: tuple[int, ...] | None = None
) -> tuple[np.ndarray, Meta]:
    """Read a whole EVT 3.0 file; ``sensor_size`` overrides the header's resolution."""
    return _prophesee.read_evt(FORMAT, path, allow_truncated=allow_truncated, size=sensor_size)


MAX_T = 2**40 - 1  # each 2**24 µs wrap inside a gap costs two words; 65 536 wraps at most


def write(
    path: str | os.PathLike[str],
    events: np.ndarray,
    *,
    sensor_size: tuple[int, ...] | None = None,
) -> Path:
    """Write 2-D events as an EVT 3.0 ``.raw`` file (atomically).

    Header: ``% evt 3.0``, ``% format EVT3;height=H;width=W`` and ``% geometry WxH`` (with
    ``sensor_size``), ``% end``. Before each event come the state words that changed, in
    the order EVT_TIME_HIGH (t bits 23-12), EVT_TIME_LOW (t bits 11-0), EVT_ADDR_Y, then
    one EVT_ADDR_X per event (no vector words: simpler, and every decoder reads it). A
    jump across a wrap of the 24-bit time is written as a maximal then a zero TIME_HIGH
    per wrap. Limits: x, y in [0, 2047] (11 bits), p 0 or 1, t in [0, 2**40) µs, sorted
    by t. sensor_size (W, H) or (W, H, 2) reads back as (W, H, 2).
    """
    path = Path(path)
    events, size = _prophesee.evt_events(
        events,
        sensor_size,
        path=path,
        fmt="EVT 3.0",
        max_t=MAX_T,
        time_why="24-bit time, wraps capped at 2**40 µs",
    )
    t = events["t"].astype(np.int64)
    y = events["y"].astype(np.uint16)
    low = (t & 0xFFF).astype(np.uint16)
    high = t >> 12
    addr_x = (0x2 << 12 | events["p"].astype(np.uint16) << 11 | events["x"]).astype(np.uint16)
    words = _prophesee.assemble(
        addr_x,
        [
            (_prophesee.changed(high), (0x8 << 12 | (high & 0xFFF)).astype(np.uint16)),
            (_prophesee.changed(low), (0x6 << 12 | low).astype(np.uint16)),
            (_prophesee.changed(y), y),  # EVT_ADDR_Y: type 0x0
        ],
        np.diff(t >> 24, prepend=0),
        (0x8 << 12 | 0xFFF, 0x8 << 12),
    )
    data = _prophesee.evt_header("3.0", size) + words.astype("<u2").tobytes()
    return atomic_write(path, lambda f: f.write(data))
