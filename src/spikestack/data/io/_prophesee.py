"""The ``%`` text header shared by Prophesee ``.raw`` (EVT 2.0 / 3.0) and ``.dat`` files.

Header lines start with ``%`` and end with ``\\n``; binary data starts right after the
last one (newer files end the header with ``% end``). The resolution comes from, in
order: ``% geometry WxH``, ``% format EVT3;height=H;width=W``, ``% Width W`` /
``% Height H`` (``.dat``), or the sensor generation named in ``% plugin_name``.
"""

from __future__ import annotations

import re
from pathlib import Path

from spikestack.data.io._common import read_text_header

# Sensor generation (as named by the HAL plugin) -> (width, height).
_PLUGIN_SIZES = (
    ("gen41", (1280, 720)),
    ("imx636", (1280, 720)),
    ("gen4", (1280, 720)),
    ("genx320", (320, 320)),
    ("gen31", (640, 480)),
    ("gen3", (640, 480)),
)


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


def sensor_size(header: dict[str, str]) -> tuple[int, int, int] | None:
    """(W, H, 2) declared by the header, or None when it says nothing."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", header.get("geometry", ""))
    if m:
        return int(m.group(1)), int(m.group(2)), 2
    fields = dict(re.findall(r"(\w+)=(\w+)", header.get("format", "")))
    if "width" in fields and "height" in fields:
        return int(fields["width"]), int(fields["height"]), 2
    if header.get("Width", "").isdigit() and header.get("Height", "").isdigit():
        return int(header["Width"]), int(header["Height"]), 2
    plugin = header.get("plugin_name", "").lower()
    for name, (w, h) in _PLUGIN_SIZES:
        if name in plugin:
            return w, h, 2
    return None
