"""Just enough FlatBuffers to read AEDAT 4 headers and packets with ``struct``.

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
        try:
            (soffset,) = struct.unpack_from("<i", buf, pos)
            self.vtable = pos - soffset
            (self.vtable_size,) = struct.unpack_from("<H", buf, self.vtable)
        except struct.error as err:
            raise EventFormatError(f"corrupt FlatBuffers table at byte {pos}") from err

    def field(self, index: int) -> int | None:
        """Absolute position of field ``index``, or None when the field is absent."""
        entry = 4 + 2 * index
        if entry + 2 > self.vtable_size:
            return None
        (off,) = struct.unpack_from("<H", self.buf, self.vtable + entry)
        return self.pos + off if off else None

    def scalar(self, index: int, fmt: str, default: int = 0) -> int:
        pos = self.field(index)
        return default if pos is None else struct.unpack_from("<" + fmt, self.buf, pos)[0]

    def vector(self, index: int, item_size: int = 1) -> tuple[int, int]:
        """(start, length) of a vector (of ``item_size``-byte items) or string field;
        (0, 0) when absent."""
        pos = self.field(index)
        if pos is None:
            return 0, 0
        start = pos + struct.unpack_from("<I", self.buf, pos)[0]
        (length,) = struct.unpack_from("<I", self.buf, start)
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
