"""AEDAT 4.0 files (iniVation DV).

Layout (iniVation "AEDAT 4.0" documentation and the DV FlatBuffers schemas):

    "#!AER-DAT4.0\\r\\n", uint32 LE header length, IOHeader FlatBuffer (identifier IOHE):
        table IOHeader { compression: int32 (0 none, 1/2 LZ4, 3/4 zstd);
                         dataTablePosition: int64 = -1; infoNode: string (XML) }
    then packets up to dataTablePosition (or the end of the file):
        int32 LE streamId, int32 LE size, payload (compressed with the file's codec;
        LZ4 in frame format) = a size-prefixed FlatBuffer with identifier EVTS / IMUS / ...
        table EventPacket { elements: [Event] }
        struct Event { int64 t (µs, Unix epoch); int16 x; int16 y; bool on }  (16-byte stride)

The XML names each stream (``<node name="0">`` with ``typeIdentifier`` EVTS and
``sizeX``/``sizeY``). Only the event stream is decompressed (the first EVTS stream
unless ``stream=`` says otherwise). Timestamps stay absolute (Unix epoch µs). LZ4 and
zstd need the ``lz4`` / ``zstandard`` packages (imported lazily). :func:`write` writes
one event stream.
"""

from __future__ import annotations

import contextlib
import os
import struct
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numba
import numpy as np

from spikestack.atomic import atomic_write
from spikestack.data.events import EVENT_DTYPE, EventFormatError
from spikestack.data.io import _flatbuffers as fb
from spikestack.data.io._common import (
    Meta,
    check_path,
    data_extra,
    drop_negative_times,
    finish,
    mismatch,
    new_stats,
    read_head,
)
from spikestack.data.io._writing import check_polarity, check_range, planar_sensor, prepare

MAGIC = b"#!AER-DAT4.0\r\n"
_EVENT = np.dtype({"names": ["t", "x", "y", "on"], "formats": ["<i8", "<i2", "<i2", "u1"],
                   "offsets": [0, 8, 10, 12], "itemsize": 16})  # fmt: skip
_CODECS = {0: "none", 1: "lz4", 2: "lz4", 3: "zstd", 4: "zstd"}


def _decompressor(compression: int, path: Path) -> Callable[[memoryview], Any]:
    codec = _CODECS.get(compression)
    if codec is None:
        raise EventFormatError(f"{path}: unknown AEDAT4 compression {compression} (expected 0-4)")
    if codec == "none":
        return lambda data: data  # a view of the file's bytes: nothing to copy
    purpose = f"{path} is {codec}-compressed; reading it"
    if codec == "lz4":
        return data_extra("lz4.frame", purpose, "lz4").decompress
    zstd = data_extra("zstandard", purpose).ZstdDecompressor()
    return lambda data: zstd.decompressobj().decompress(data)


def _streams(xml: str) -> dict[int, dict[str, Any]]:
    """Stream id -> {"type": "EVTS", "size": (W, H) or None} from the infoNode XML."""
    streams: dict[int, dict[str, Any]] = {}
    try:
        tree = ET.fromstring(xml)
    except ET.ParseError:
        return streams
    for node in tree.iter("node"):
        if not node.get("name", "").isdigit():
            continue
        attrs = {a.get("key"): a.text for a in node.iter("attr")}
        size = None
        if str(attrs.get("sizeX", "")).isdigit() and str(attrs.get("sizeY", "")).isdigit():
            size = (int(attrs["sizeX"]), int(attrs["sizeY"]))
        streams[int(node.get("name", "0"))] = {"type": attrs.get("typeIdentifier"), "size": size}
    return streams


def read_header(path: Path) -> dict[str, Any]:
    """Parse the IOHeader: compression, dataTablePosition, infoNode XML, streams, data offset."""
    path = check_path(path)
    head = read_head(path, len(MAGIC) + 4)
    if not head.startswith(MAGIC):
        raise mismatch(path, "an AEDAT 4.0 file starting with '#!AER-DAT4.0'", head)
    if len(head) < len(MAGIC) + 4:
        raise EventFormatError(f"{path}: file ends inside the AEDAT4 header")
    (length,) = struct.unpack_from("<I", head, len(MAGIC))
    with open(path, "rb") as f:
        f.seek(len(MAGIC) + 4)
        buf = f.read(length)
    if len(buf) != length:
        raise EventFormatError(f"{path}: IOHeader needs {length} bytes, only {len(buf)} present")
    with _naming(path):
        table, ident = fb.root(buf)
        if ident != b"IOHE":
            raise EventFormatError(f"{path}: IOHeader identifier is {ident!r}, expected b'IOHE'")
        xml = table.string(2)
        return {
            "compression": table.scalar(0, "i"),
            "data_table_position": table.scalar(1, "q", default=-1),
            "info": xml,
            "streams": _streams(xml),
            "data_offset": len(MAGIC) + 4 + length,
        }


@contextlib.contextmanager
def _naming(path: Path) -> Iterator[None]:
    """FlatBuffers errors know bytes, not files: name the file."""
    try:
        yield
    except EventFormatError as err:
        if str(path) in str(err):
            raise
        raise EventFormatError(f"{path}: {err}") from err


def read(
    path: Path,
    *,
    stream: int | None = None,
    allow_truncated: bool = False,
    sensor_size: tuple[int, ...] | None = None,
) -> tuple[np.ndarray, Meta]:
    """Read the polarity events of one event stream of an AEDAT 4.0 file."""
    header = read_header(path)
    path = Path(path)
    streams = header["streams"]
    event_ids = sorted(i for i, s in streams.items() if s["type"] == "EVTS")
    if stream is None:
        stream = event_ids[0] if event_ids else None
    elif stream not in event_ids and streams:
        raise ValueError(
            f"stream must be one of the EVTS streams {event_ids} of {path}; got {stream}"
        )
    if sensor_size is None and stream in streams and streams[stream]["size"]:
        sensor_size = (*streams[stream]["size"], 2)
    decompress = _decompressor(header["compression"], path)
    data = np.fromfile(path, dtype=np.uint8, offset=header["data_offset"])
    end = data.shape[0]
    if header["data_table_position"] > 0:
        end = min(end, header["data_table_position"] - header["data_offset"])
    parts: list[np.ndarray] = []
    pos = unknown = 0
    if 0 <= header["data_table_position"] < header["data_offset"]:
        raise EventFormatError(
            f"{path}: the header's dataTablePosition {header['data_table_position']} lies inside "
            f"the header (data start at byte {header['data_offset']})"
        )
    while pos < end:
        if end - pos < 8:
            _truncated(
                path, f"{end - pos} byte(s) left over after the last packet", allow_truncated
            )
            break
        stream_id, size = struct.unpack_from("<ii", data, pos)
        if size < 0 or pos + 8 + size > end:
            _truncated(
                path, f"packet at byte {header['data_offset'] + pos} needs {size} payload bytes, "
                f"{end - pos - 8} left", allow_truncated,
            )  # fmt: skip
            break
        if stream is None or stream_id == stream:
            try:
                payload = decompress(memoryview(data)[pos + 8 : pos + 8 + size])
            except Exception as err:  # noqa: BLE001 - lz4/zstd raise their own error types
                codec = _CODECS[header["compression"]]
                raise EventFormatError(
                    f"{path}: the {codec} packet at byte {header['data_offset'] + pos} does not "
                    f"decompress ({type(err).__name__}: {' '.join(str(err).split())})"
                ) from err
            with _naming(path):
                part = _events(payload, path, stream is None)
            if part.shape[0]:
                parts.append(part)
        elif streams and stream_id not in streams:  # other declared streams: normal
            unknown += 1
        pos += 8 + size
    if unknown:
        warnings.warn(
            f"{path}: skipped {unknown} packet(s) of stream ids the header does not declare "
            f"(declared: {sorted(streams)})",
            stacklevel=2,
        )
    events = np.empty(sum(part.shape[0] for part in parts), dtype=EVENT_DTYPE)
    stats = new_stats()
    at = bad_xy = negative_t = 0
    for part in parts:  # one pass: convert, and the checks finish() would make
        bad, negative = _convert(part, events, at, stats)
        bad_xy, negative_t, at = bad_xy + bad, negative_t + negative, at + part.shape[0]
    if bad_xy:
        raise EventFormatError(f"{path}: negative x/y coordinates in {bad_xy} event(s)")
    meta = {"format": "aedat4", "sensor_size": sensor_size, "stream": stream, "header": header}
    if negative_t:  # damage: dropped with a count, then the full checks
        return finish(
            drop_negative_times(events, path=path), path=path, sensor_size=sensor_size
        ), meta
    return finish(events, path=path, sensor_size=sensor_size, stats=stats), meta


@numba.njit(cache=True, nogil=True)
def _convert(raw, out, at, stats):  # pragma: no cover - compiled
    """Copy packet events into ``out[at:]`` as canonical events and update ``stats`` (see
    ``new_stats``); returns (events with negative x or y, events with a negative time)."""
    bad = negative = 0
    unsorted, max_x, max_y, last = stats[0], stats[1], stats[2], stats[3]
    for i in range(raw.shape[0]):
        r = raw[i]
        t, x, y = r.t, r.x, r.y
        if x < 0 or y < 0:
            bad += 1
        if t < 0:
            negative += 1
        o = out[at + i]
        o.t, o.x, o.y, o.p = t, x, y, 1 if r.on != 0 else 0
        if t < last:
            unsorted = 1
        last = t
        max_x = max(max_x, x)
        max_y = max(max_y, y)
    stats[0], stats[1], stats[2], stats[3] = unsorted, max_x, max_y, last
    return bad, negative


def _events(payload: bytes, path: Path, any_stream: bool) -> np.ndarray:
    table, ident = fb.root(payload, size_prefixed=True)
    if ident != b"EVTS":
        if any_stream:  # no stream list in the header: keep only event packets
            return np.empty(0, _EVENT)
        raise EventFormatError(f"{path}: event stream packet has identifier {ident!r}, not b'EVTS'")
    start, count = table.vector(0, _EVENT.itemsize)
    return (
        np.frombuffer(payload, dtype=_EVENT, count=count, offset=start)
        if count
        else np.empty(0, _EVENT)
    )


def _truncated(path: Path, msg: str, allow_truncated: bool) -> None:
    msg = f"{path}: {msg} (truncated file?)"
    if not allow_truncated:
        raise EventFormatError(msg + "; pass allow_truncated=True to drop the partial packet")
    warnings.warn(msg + "; dropped the partial packet", stacklevel=3)


_WRITE_CODECS = {
    "none": (0, "NONE"),
    "lz4": (1, "LZ4"),
    "zstd": (3, "ZSTD"),
}  # (IOHeader code, XML)


def _compressor(codec: str) -> Callable[[bytes], bytes]:
    if codec == "none":
        return lambda data: data  # a view of the file's bytes: nothing to copy
    if codec == "lz4":
        import lz4.frame

        return lz4.frame.compress
    import zstandard

    return zstandard.ZstdCompressor().compress


def _info(codec: str, size: tuple[int, int, int] | None) -> str:
    """The infoNode XML: stream 0 holds polarity events (EVTS) and, if known, its size."""
    base = "/mainloop/Recorder/outInfo/"
    attrs = [
        ("compression", "string", codec),
        ("originalModuleName", "string", "spikestack"),
        ("originalOutputName", "string", "events"),
        ("typeDescription", "string", "Array of events (polarity ON/OFF)."),
        ("typeIdentifier", "string", "EVTS"),
    ]
    sizes = [] if size is None else [("sizeX", "int", size[0]), ("sizeY", "int", size[1])]

    def lines(items: list[tuple[str, str, object]], indent: str) -> list[str]:
        return [f'{indent}<attr key="{k}" type="{t}">{v}</attr>' for k, t, v in items]

    return "\n".join(
        ['<dv version="2.0">', f'    <node name="outInfo" path="{base}">',
         f'        <node name="0" path="{base}0/">', *lines(attrs, " " * 12),
         f'            <node name="info" path="{base}0/info/">', *lines(sizes, " " * 16),
         "            </node>", "        </node>", "    </node>", "</dv>", ""]
    )  # fmt: skip


def write(
    path: str | os.PathLike[str],
    events: np.ndarray,
    *,
    sensor_size: tuple[int, ...] | None = None,
    compression: str = "lz4",
    packet_events: int = 8192,
) -> Path:
    """Write 2-D events as an AEDAT 4.0 file with one event stream (atomically).

    ``compression`` is ``"none"``, ``"lz4"`` (LZ4 frame format, DV's default) or
    ``"zstd"``. The IOHeader has no data table (dataTablePosition = -1); the infoNode XML
    declares stream 0 as EVTS with sizeX / sizeY when ``sensor_size`` is given. Events go
    into EventPacket buffers of at most ``packet_events`` events. Limits: x, y in
    [0, 32767] (int16), p 0 or 1 (bool ``on``), t any int64 µs, sorted by t (DV expects
    time order). sensor_size (W, H) or (W, H, 2) reads back as (W, H, 2).
    """
    path = Path(path)
    fmt = "AEDAT 4.0"
    if compression not in _WRITE_CODECS:
        raise ValueError(f"compression must be one of {tuple(_WRITE_CODECS)}; got {compression!r}")
    if isinstance(packet_events, bool) or not isinstance(packet_events, int) or packet_events < 1:
        raise ValueError(f"packet_events must be an int >= 1; got {packet_events!r}")
    events = prepare(events, path=path, fmt=fmt, dims=(2,), needs_order=True)
    for field in "xy":
        check_range(events, field, 0, 0x7FFF, path=path, fmt=fmt, why="int16, not negative")
    check_polarity(events, path=path, fmt=fmt)
    size = planar_sensor(sensor_size, events, path=path, fmt=fmt, max_size=(0x8000, 0x8000))
    code, name = _WRITE_CODECS[compression]
    compress = _compressor(compression)
    rec = np.zeros(events.shape[0], dtype=_EVENT)
    rec["t"], rec["x"], rec["y"], rec["on"] = events["t"], events["x"], events["y"], events["p"]
    header = fb.io_header(code, _info(name, size))
    parts = [MAGIC, struct.pack("<I", len(header)), header]
    for start in range(0, rec.shape[0], packet_events):
        chunk = rec[start : start + packet_events]
        payload = compress(fb.event_packet(chunk.tobytes(), chunk.shape[0]))
        parts += [struct.pack("<ii", 0, len(payload)), payload]
    data = b"".join(parts)
    return atomic_write(path, lambda f: f.write(data))
