"""Sensor chips named in AEDAT headers (jAER's ``# AEChip:``, cAER's ``#Source N:``) and
their sizes: the only place those formats have for a sensor size."""

from __future__ import annotations

# Known sensors -> (width, height); matched as case-insensitive substrings of a chip
# or source name, first match wins (so "davis346" is tried before "davis").
_CHIPS = (
    ("dvs128", (128, 128)),
    ("davis240", (240, 180)),
    ("davis346", (346, 260)),
    ("davis640", (640, 480)),
    ("davis208", (208, 192)),
    ("dvxplorer_lite", (320, 240)),
    ("dvxplorer", (640, 480)),
)


def chip_sensor_size(name: str) -> tuple[int, int, int] | None:
    """(W, H, 2) for a known chip / camera name (``"DVS128"``, ``"Davis346red"``), else None."""
    lowered = name.lower().replace(" ", "")
    for key, (w, h) in _CHIPS:
        if key in lowered:
            return w, h, 2
    return None


# jAER chip classes the writer names in '# AEChip:': the name is the only place the format
# has for the sensor, and the reader maps each back to its layout and size.
JAER_CHIPS = (
    ("ch.unizh.ini.jaer.chip.retina.DVS128", "dvs128", (128, 128)),
    ("eu.seebetter.ini.chips.davis.DAVIS240C", "davis", (240, 180)),
    ("eu.seebetter.ini.chips.davis.Davis346B", "davis", (346, 260)),
    ("eu.seebetter.ini.chips.davis.Davis640", "davis", (640, 480)),
    ("eu.seebetter.ini.chips.davis.Davis208PixelParade", "davis", (208, 192)),
)
ANY_DAVIS = "eu.seebetter.ini.chips.DavisChip"  # the DAVIS layout, no particular size

# cAER source names the writer puts in '#Source 1:', by sensor size (the reader maps them back)
CAER_SOURCES = {
    (128, 128): "DVS128",
    (240, 180): "DAVIS240C",
    (346, 260): "DAVIS346B",
    (640, 480): "DAVIS640",
    (208, 192): "DAVIS208",
}
NO_SOURCE = "Unknown"  # names no sensor: the file reads back with sensor_size None
