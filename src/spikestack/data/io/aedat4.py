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
zstd need the ``lz4`` / ``zstandard`` packages (imported lazily).
"""

from __future__ import annotations

import struct
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from spikestack.data.events import EVENT_DTYPE, EventFormatError
from spikestack.data.io import _flatbuffers as fb
from spikestack.data.io._common import Meta, check_path, finish, mismatch, read_head

MAGIC = b"#!AER-DAT4.0\r\n"
_EVENT = np.dtype({"names": ["t", "x", "y", "on"], "formats": ["<i8", "<i2", "<i2", "u1"],
                   "offsets": [0, 8, 10, 12], "itemsize": 16})  # fmt: skip
_CODECS = {0: "none", 1: "lz4", 2: "lz4", 3: "zstd", 4: "zstd"}


def _decompressor(compression: int, path: Path) -> Callable[[bytes], bytes]:
    codec = _CODECS.get(compression)
    if codec is None:
        raise EventFormatError(f"{path}: unknown AEDAT4 compression {compression} (expected 0-4)")
    if codec == "none":
        return bytes
    package = "lz4" if codec == "lz4" else "zstandard"
    try:
        if codec == "lz4":
            import lz4.frame

            return lz4.frame.decompress
        import zstandard

        return lambda data: zstandard.ZstdDecompressor().decompressobj().decompress(data)
    except ImportError as err:
        raise ImportError(
            f"{path} is {codec}-compressed; reading it needs the '{package}' package: "
            f"pip install {package} (or pip install 'spikestack[data]')"
        ) from err


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
    pos = 0
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
            payload = decompress(data[pos + 8 : pos + 8 + size].tobytes())
            parts.append(_events(payload, path, stream is None))
        pos += 8 + size
    raw = np.concatenate(parts) if parts else np.empty(0, _EVENT)
    if raw.shape[0] and (raw["x"].min() < 0 or raw["y"].min() < 0):
        raise EventFormatError(f"{path}: negative x/y coordinates in the event packets")
    events = np.empty(raw.shape[0], dtype=EVENT_DTYPE)
    events["t"], events["x"], events["y"], events["p"] = (
        raw["t"],
        raw["x"],
        raw["y"],
        raw["on"] != 0,
    )
    meta = {"format": "aedat4", "sensor_size": sensor_size, "stream": stream, "header": header}
    return finish(events, path=path, sensor_size=sensor_size), meta


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
