"""The ``%`` text header shared by Prophesee ``.raw`` (EVT 2.0 / 3.0) and ``.dat`` files.

Header lines start with ``%`` and end with ``\\n``; binary data starts right after the
last one (newer files end the header with ``% end``). The resolution comes from, in
order: ``% geometry WxH``, ``% format EVT3;height=H;width=W``, ``% Width W`` /
``% Height H`` (``.dat``), or the sensor generation named in ``% plugin_name``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spikestack.data.events import EventFormatError
from spikestack.data.io._common import (
    Meta,
    check_path,
    iter_blocks,
    mismatch,
    read_head,
    read_text_header,
    whole_records,
)
from spikestack.data.io._writing import check_polarity, check_range, planar_sensor, prepare

# Sensor generation (as named by the HAL plugin) -> (width, height).
_PLUGIN_SIZES = (
    ("gen41", (1280, 720)),
    ("imx636", (1280, 720)),
    ("gen4", (1280, 720)),
    ("genx320", (320, 320)),
    ("gen31", (640, 480)),
    ("gen3", (640, 480)),
)


def header_bytes(lines: list[str]) -> bytes:
    """``% line\\n`` for each line (ASCII)."""
    return "".join(f"% {line}\n" for line in lines).encode("ascii")


def evt_header(version: str, size: tuple[int, int, int] | None) -> bytes:
    """The header an EVT writer puts first: version, format and geometry lines, then
    ``% end``, which ends the header even when the first data byte is a ``%``."""
    name = "EVT" + version.split(".")[0]
    lines = [f"evt {version}"]
    if size is None:
        lines.append(f"format {name}")
    else:
        lines += [
            f"format {name};height={size[1]};width={size[0]}",
            f"geometry {size[0]}x{size[1]}",
        ]
    return header_bytes([*lines, "end"])


def evt_events(
    events: object, sensor_size: object, *, path: Path, fmt: str, max_t: int, time_why: str
) -> tuple[np.ndarray, tuple[int, int, int] | None]:
    """What EVT 2.0 and 3.0 writers can store: sorted 2-D events with 11-bit x and y, one-bit
    p and t in [0, ``max_t``] (``time_why`` says why), and the sensor size to record."""
    events = prepare(events, path=path, fmt=fmt, dims=(2,), needs_order=True)
    for field in "xy":
        check_range(events, field, 0, 2047, path=path, fmt=fmt, why="11 bits")
    check_range(events, "t", 0, max_t, path=path, fmt=fmt, why=time_why)
    check_polarity(events, path=path, fmt=fmt)
    size = planar_sensor(sensor_size, events, path=path, fmt=fmt, max_size=(2048, 2048))
    return events, size


def assemble(
    event_words: np.ndarray,
    steps: list[tuple[np.ndarray, np.ndarray]],
    wraps: np.ndarray,
    wrap_pair: tuple[int, int],
) -> np.ndarray:
    """Interleave state words with event words: the EVT writers' common last step.

    Before event i come, in order: ``wraps[i]`` copies of ``wrap_pair`` (a maximal then a
    zero TIME_HIGH: a decrease, which the readers count as one wrap of the counter), then
    ``words[i]`` of each ``(mask, words)`` step where ``mask[i]`` is set, then
    ``event_words[i]``.
    """
    n = event_words.shape[0]
    before = 2 * wraps + sum((mask.astype(np.int64) for mask, _ in steps), np.zeros(n, np.int64))
    slot = np.arange(n) + np.cumsum(before)  # where each event word lands
    out = np.empty(n + int(before.sum()), dtype=event_words.dtype)
    out[slot] = event_words
    offset = np.ones(n, dtype=np.int64)
    for mask, words in reversed(steps):
        out[(slot - offset)[mask]] = words[mask]
        offset += mask
    for i in np.flatnonzero(wraps):  # rare: one per 2**34 µs (EVT 2.0) or 2**24 µs (EVT 3.0)
        start = int(slot[i] - offset[i]) - 2 * int(wraps[i]) + 1
        out[start : start + 2 * int(wraps[i])] = np.tile(
            np.asarray(wrap_pair, out.dtype), int(wraps[i])
        )
    return out


def changed(values: np.ndarray) -> np.ndarray:
    """True where a value differs from the one before (and for the first)."""
    mask = np.ones(values.shape[0], dtype=bool)
    mask[1:] = values[1:] != values[:-1]
    return mask


def read_header(path: Path, *, head: bytes | None = None) -> tuple[dict[str, str], int]:
    """Parse the ``%`` header into ``{key: value}`` and return the data offset.

    ``head`` (the file's first bytes, if already read) saves a read.
    """
    lines, offset = read_text_header(path, prefix=b"%", end_marker=b"% end", head=head)
    header: dict[str, str] = {}
    for line in lines:
        key, _, value = line.strip().partition(" ")
        if key and key != "end":
            header.setdefault(key, value.strip())
    return header, offset


def evt_version(header: dict[str, str]) -> str | None:
    """``"2.0"``, ``"3.0"``, ... from ``% evt X`` or ``% format EVTX;...``, else None."""
    if "evt" in header:
        return header["evt"]
    fmt = header.get("format", "")
    m = re.match(r"EVT(\d)(\d?)", fmt, re.IGNORECASE)
    if m:
        return f"{m.group(1)}.{m.group(2) or '0'}"
    return None


def sensor_size(header: dict[str, str], path: Path | str = "") -> tuple[int, int, int] | None:
    """(W, H, 2) declared by the header, or None when it says nothing; a size field that
    is not a whole number raises, naming the file and the field."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", header.get("geometry", ""))
    if m:
        return int(m.group(1)), int(m.group(2)), 2
    fields = dict(re.findall(r"(\w+)=([^;\s]*)", header.get("format", "")))
    for key in ("width", "height"):
        if key in fields and not fields[key].isdigit():
            raise EventFormatError(
                f"{path}: header field 'format' has {key}={fields[key]!r}, not a whole number"
            )
    if "width" in fields and "height" in fields:
        return int(fields["width"]), int(fields["height"]), 2
    if header.get("Width", "").isdigit() and header.get("Height", "").isdigit():
        return int(header["Width"]), int(header["Height"]), 2
    plugin = header.get("plugin_name", "").lower()
    for name, (w, h) in _PLUGIN_SIZES:
        if name in plugin:
            return w, h, 2
    return None


@dataclass(frozen=True)
class EvtFormat:
    """What tells the EVT 2.0 and EVT 3.0 readers apart; the rest is shared below."""

    name: str  # "evt2"
    version: str  # as in the header's '% evt 2.0' line
    word: str  # numpy dtype of one word
    new_state: Callable[[], np.ndarray]  # decoder state at the start of a file
    dropped_slot: int  # index in the state that counts events without time or row
    dropped_why: str  # what those events are, for the warning
    # decode(words, state, *, path, sensor_size) -> events, updating state
    decode: Callable[..., np.ndarray]
    damaged_slot: int | None = None  # index in the state counting damaged time words
    damaged_why: str = ""
    reserved_slot: int | None = None  # index in the state counting words of reserved types


def open_evt(fmt: EvtFormat, path: Path, allow_truncated: bool) -> tuple[Path, dict, int, int]:
    """(path, header, data offset, whole words) of an EVT file, or a clear error."""
    path = check_path(path)
    header, offset = read_header(path)
    version = evt_version(header)
    if version is None and "Version" in header:  # DAT's '% Version 2'; EVT files say '% evt'
        raise EventFormatError(
            f"{path}: this looks like a Prophesee DAT file ('% Version' header, no '% evt' "
            f"line); read it with format='dat'"
        )
    if offset == 0 or version not in (None, fmt.version):
        raise mismatch(
            path,
            f"a Prophesee EVT {fmt.version} file (header '% evt {fmt.version}'; got evt {version})",
            read_head(path),
        )
    n = whole_records(
        path.stat().st_size - offset,
        np.dtype(fmt.word).itemsize,
        path=path,
        what=f"EVT {fmt.version} words",
        allow_truncated=allow_truncated,
    )
    return path, header, offset, n


def _warn_dropped(fmt: EvtFormat, path: Path, state: np.ndarray, stacklevel: int) -> None:
    if state[fmt.dropped_slot]:
        warnings.warn(
            f"{path}: dropped {int(state[fmt.dropped_slot])} {fmt.dropped_why}",
            stacklevel=stacklevel,
        )
    if fmt.damaged_slot is not None and state[fmt.damaged_slot]:
        warnings.warn(
            f"{path}: {int(state[fmt.damaged_slot])} {fmt.damaged_why}",
            stacklevel=stacklevel,
        )
    if fmt.reserved_slot is not None and state[fmt.reserved_slot]:
        warnings.warn(
            f"{path}: skipped {int(state[fmt.reserved_slot])} word(s) of a type EVT "
            f"{fmt.version} does not define (damaged file?)",
            stacklevel=stacklevel,
        )


def read_evt(
    fmt: EvtFormat, path: Path, *, allow_truncated: bool, size: tuple[int, ...] | None
) -> tuple[np.ndarray, Meta]:
    """A whole EVT file; ``size`` (if given) overrides the header's resolution."""
    path, header, offset, n = open_evt(fmt, path, allow_truncated)
    size = size or sensor_size(header, path)
    state = fmt.new_state()
    words = np.fromfile(path, dtype=fmt.word, count=n, offset=offset)
    events = fmt.decode(words, state, path=path, sensor_size=size)
    _warn_dropped(fmt, path, state, stacklevel=4)  # the caller of evt2.read / evt3.read
    return events, {"format": fmt.name, "sensor_size": size, "header": header}


def iter_evt(
    fmt: EvtFormat,
    path: Path,
    *,
    chunk: int,
    allow_truncated: bool,
    size: tuple[int, ...] | None,
) -> Iterator[np.ndarray]:
    """An EVT file decoded ``chunk`` words at a time, the decoder state carried across."""
    path, header, offset, n = open_evt(fmt, path, allow_truncated)
    size = size or sensor_size(header, path)
    state = fmt.new_state()
    for words in iter_blocks(path, offset=offset, count=n, dtype=fmt.word, block=chunk):
        yield fmt.decode(words, state, path=path, sensor_size=size)
    _warn_dropped(fmt, path, state, stacklevel=3)  # whoever advanced the generator
