"""Just enough FlatBuffers to read and write AEDAT 4 headers and packets with ``struct``.

Binary layout (the FlatBuffers "internals" documentation): a buffer starts with a
uint32 offset to the root table, optionally preceded by a uint32 size (size-prefixed
buffers) and followed by a 4-byte file identifier. A table starts with an int32
``soffset``; its vtable lives at ``table - soffset`` and holds uint16 vtable size,
uint16 table size, then one uint16 offset per field (0 = field absent). Strings and
vectors are reached through a uint32 offset relative to where it is stored, and
start with a uint32 length.
"""

from __future__ import annotations

import struct

from spikestack.data.events import EventFormatError


class Table:
    """A view of one FlatBuffers table inside ``buf`` at byte ``pos``."""

    def __init__(self, buf: bytes | memoryview, pos: int) -> None:
        self.buf = buf
        self.pos = pos
        (soffset,) = self._unpack("<i", pos, "table")
        self.vtable = pos - soffset
        (self.vtable_size,) = self._unpack("<H", self.vtable, "vtable")

    def _unpack(self, fmt: str, pos: int, what: str) -> tuple:
        """``struct.unpack_from`` bounded by the buffer (every offset comes from the file)."""
        if pos < 0 or pos + struct.calcsize(fmt) > len(self.buf):
            raise EventFormatError(
                f"corrupt FlatBuffers {what} at byte {pos}: beyond the {len(self.buf)}-byte buffer"
            )
        return struct.unpack_from(fmt, self.buf, pos)

    def field(self, index: int) -> int | None:
        """Absolute position of field ``index``, or None when the field is absent."""
        entry = 4 + 2 * index
        if entry + 2 > self.vtable_size:
            return None
        (off,) = self._unpack("<H", self.vtable + entry, "vtable entry")
        return self.pos + off if off else None

    def scalar(self, index: int, fmt: str, default: int = 0) -> int:
        pos = self.field(index)
        return default if pos is None else self._unpack("<" + fmt, pos, "field")[0]

    def vector(self, index: int, item_size: int = 1) -> tuple[int, int]:
        """(start, length) of a vector (of ``item_size``-byte items) or string field;
        (0, 0) when absent."""
        pos = self.field(index)
        if pos is None:
            return 0, 0
        start = pos + self._unpack("<I", pos, "vector offset")[0]
        (length,) = self._unpack("<I", start, "vector length")
        if start + 4 + length * item_size > len(self.buf):
            raise EventFormatError(f"FlatBuffers vector at byte {start} runs past the buffer end")
        return start + 4, length

    def string(self, index: int) -> str:
        start, length = self.vector(index)
        return bytes(self.buf[start : start + length]).decode("utf-8", errors="replace")


def root(buf: bytes | memoryview, *, size_prefixed: bool = False) -> tuple[Table, bytes]:
    """The root table of ``buf`` and its 4-byte file identifier."""
    base = 4 if size_prefixed else 0
    if len(buf) < base + 8:
        raise EventFormatError(f"FlatBuffers buffer of {len(buf)} bytes is too short")
    (offset,) = struct.unpack_from("<I", buf, base)
    ident = bytes(buf[base + 4 : base + 8])
    return Table(buf, base + offset), ident


# The two buffers AEDAT 4 writing needs, laid out byte for byte as DV writes them.


def io_header(compression: int, info: str) -> bytes:
    """An IOHeader buffer (identifier IOHE), as DV lays it out (byte offsets):

    0 root offset = 24; 4 "IOHE"; 8 padding; 14 vtable (vtable size 10, table size 20,
    compression at +4, dataTablePosition at +12, infoNode at +8); 24 table (soffset 10,
    int32 compression, uint32 offset 12 to the string, int64 dataTablePosition = -1,
    i.e. no data table); 44 string (uint32 length, UTF-8 bytes, NUL, padding to 4).
    """
    text = info.encode("utf-8")
    buf = struct.pack("<I4s", 24, b"IOHE") + bytes(6)
    buf += struct.pack("<HHHHH", 10, 20, 4, 12, 8)
    buf += struct.pack("<iiIq", 10, compression, 12, -1)
    buf += struct.pack("<I", len(text)) + text + b"\x00"
    return buf + bytes(-len(buf) % 4)


def event_packet(elements: bytes, count: int) -> bytes:
    """A size-prefixed EventPacket buffer (identifier EVTS) holding ``count`` 16-byte
    events, as DV lays it out (byte offsets after the uint32 size prefix):

    0 root offset = 16; 4 "EVTS"; 8 padding; 10 vtable (size 6, table size 8, elements
    at +4); 16 table (soffset 6, uint32 offset 4 to the vector); 24 uint32 count;
    28 the events (8-byte aligned counting the size prefix, as their int64 needs).
    """
    body = struct.pack("<I4s", 16, b"EVTS") + bytes(2) + struct.pack("<HHH", 6, 8, 4)
    body += struct.pack("<iII", 6, 4, count) + elements
    return struct.pack("<I", len(body)) + body
