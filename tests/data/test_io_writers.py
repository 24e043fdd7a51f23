"""The writers' refusals (file, field and limit named; nothing written), their documented
behaviours where a format cannot hold something exactly, and their bytes against the
hand-built encodings of tests/_data.py (so that a bug shared by a writer and its reader
cannot hide)."""

from __future__ import annotations

import numpy as np
import pytest
from _data import (
    aedat2_bytes,
    aedat3_packet,
    aer_bytes,
    bin_bytes,
    bs1_bytes,
    dat_bytes,
    evt2_bytes,
    evt3_bytes,
    random_events,
)

from spikestack.data import make_events, read_events, write_events
from spikestack.data.io import _prophesee

EV = random_events(200, width=34, height=34, t_max=10**6)
EV1 = random_events(200, width=700, polarities=1)
EXT = {"nmnist": ".bin", "bs1": ".bs1", "evt2": ".raw", "evt3": ".raw", "dat": ".dat"}
EXT |= {"aedat2": ".aedat", "aedat3": ".aedat", "aedat4": ".aedat4", "aer": ".aedat"}
EXT |= {"hdf5": ".h5", "mat": ".mat", "npy": ".npy", "npz": ".npz"}


def changed(events: np.ndarray, **values: int) -> np.ndarray:
    """A copy with one field of one event set; a t goes first or last, keeping the order."""
    out = events.copy()
    for name, value in values.items():
        where = (0 if value < out["t"][0] else -1) if name == "t" else len(out) // 2
        out[name][where] = value
    return out


def refused(tmp_path, fmt: str, events: np.ndarray, *match: str, **options) -> str:
    """Write must raise a ValueError containing the path and every ``match``; no file appears."""
    path = tmp_path / f"bad{EXT[fmt]}"
    with pytest.raises(ValueError) as info:
        write_events(path, events, format=fmt, **options)
    message = str(info.value)
    for text in (str(path), *match):
        assert text in message, message
    assert not path.exists() and not list(tmp_path.glob(".bad*"))  # nor a temporary file
    return message


LIMITS = [
    ("nmnist", dict(x=256), "x = 256", "[0, 255]"),
    ("nmnist", dict(y=240), "y = 240", "[0, 239]"),
    ("nmnist", dict(t=2**32), "t = 4294967296", "[0, 4294967295]"),
    ("evt2", dict(x=2048), "x = 2048", "[0, 2047]"),
    ("evt2", dict(t=2**40), "t = 1099511627776", "[0, 1099511627775]"),
    ("evt3", dict(y=4000), "y = 4000", "[0, 2047]"),
    ("evt3", dict(t=-1), "t = -1", "[0, 1099511627775]"),
    ("dat", dict(x=16384), "x = 16384", "[0, 16383]"),
    ("dat", dict(p=16), "p = 16", "[0, 15]"),
    ("dat", dict(t=2**32), "t = 4294967296", "[0, 4294967295]"),
    ("aedat2", dict(x=1024), "x = 1024", "[0, 1023]"),
    ("aedat2", dict(y=512), "y = 512", "[0, 511]"),
    ("aedat2", dict(t=2**31), "t = 2147483648", "[0, 2147483647]"),
    ("aedat3", dict(x=40000), "x = 40000", "[0, 32767]"),
    ("aedat3", dict(t=-5), "t = -5", "[0, 4611686018427387903]"),
    ("aedat4", dict(y=32768), "y = 32768", "[0, 32767]"),
    ("mat", dict(x=240), "x = 240", "[0, 239]"),  # no sensor_size: an ASL-DVS sample
]


@pytest.mark.parametrize(("fmt", "values", "what", "limit"), LIMITS)
def test_values_beyond_the_format_are_refused(tmp_path, fmt, values, what, limit) -> None:
    refused(tmp_path, fmt, changed(EV, **values), what, limit)


@pytest.mark.parametrize(
    ("fmt", "events", "values", "what", "limit"),
    [
        ("bs1", EV1, dict(t=2**23), "t = 8388608", "[0, 8388607]"),
        ("aer", EV1, dict(t=2**32), "t = 4294967296", "[0, 4294967295]"),
        ("aer", EV1, dict(p=0), "p = 0", "pass on_off=True"),
    ],
)
def test_1d_values_beyond_the_format_are_refused(tmp_path, fmt, events, values, what, limit):
    refused(tmp_path, fmt, changed(events, **values), what, limit)


@pytest.mark.parametrize("fmt", ["nmnist", "evt2", "evt3", "aedat2", "aedat3", "aedat4"])
def test_one_bit_polarity_refuses_minus_one(tmp_path, fmt) -> None:
    events = EV.copy()
    events["p"][events["p"] == 0] = -1
    refused(tmp_path, fmt, events, "p must be 0 (OFF) or 1 (ON)", "events['p'] > 0")


@pytest.mark.parametrize(
    "fmt", ["nmnist", "evt2", "evt3", "dat", "aedat2", "aedat3", "aedat4", "mat"]
)
def test_1d_events_are_refused_by_2d_formats(tmp_path, fmt) -> None:
    refused(tmp_path, fmt, EV1, "stores 2-D events", "got 1-D events")


@pytest.mark.parametrize("fmt", ["bs1", "aer"])
def test_2d_events_are_refused_by_1d_formats(tmp_path, fmt) -> None:
    refused(tmp_path, fmt, EV, "stores 1-D events", "got 2-D events")


@pytest.mark.parametrize("fmt", ["nmnist", "evt2", "evt3", "aedat3", "aedat4"])
def test_formats_with_relative_time_words_refuse_unsorted_events(tmp_path, fmt) -> None:
    refused(tmp_path, fmt, EV[::-1], "needs events sorted by t", "event 1 has t=")


@pytest.mark.parametrize(
    ("fmt", "events", "warns"),
    [
        ("dat", EV, True),
        ("aedat2", EV, True),
        ("mat", EV, True),
        ("hdf5", EV, True),
        ("npy", EV1, True),
        ("npz", EV, True),
        ("aer", EV1, True),
        ("bs1", EV1, False),  # SLAYER writes spikes in any order: sorted without a warning
    ],
)
def test_other_formats_keep_unsorted_events_and_the_reader_sorts(tmp_path, fmt, events, warns):
    shuffled = events[np.random.default_rng(0).permutation(len(events))]
    path = write_events(tmp_path / f"u{EXT[fmt]}", shuffled, format=fmt)
    if warns:
        with pytest.warns(UserWarning, match="not non-decreasing"):
            back = read_events(path, format=fmt)
    else:
        back = read_events(path, format=fmt)
    np.testing.assert_array_equal(back, shuffled[np.argsort(shuffled["t"], kind="stable")])


def test_non_event_arrays_are_refused(tmp_path) -> None:
    with pytest.raises(TypeError, match="structured numpy array"):
        write_events(tmp_path / "a.npz", np.zeros((5, 4)))
    floats = np.zeros(3, dtype=[("t", "f8"), ("x", "u2"), ("y", "u2"), ("p", "i1")])
    refused(tmp_path, "npz", floats, "field t must hold integers", "float64")
    extra = np.zeros(3, dtype=[("t", "i8"), ("x", "u2"), ("y", "u2"), ("p", "i1"), ("label", "i4")])
    refused(tmp_path, "hdf5", extra, "['label']", "do not store")
    wide = np.zeros(3, dtype=[("t", "i8"), ("x", "i4"), ("p", "i1")])
    wide["x"] = [1, 70_000, 2]
    refused(tmp_path, "npy", wide, "x = 70000", "[0, 65535]", "EVENT_DTYPE")


@pytest.mark.parametrize(
    ("fmt", "size", "match"),
    [
        ("npz", (-1, 34, 2), "sensor_size must be a tuple of positive ints"),
        ("npz", (34.5, 34), "sensor_size must be a tuple of positive ints"),
        ("hdf5", 34, "sensor_size must be a tuple of positive ints"),
        ("nmnist", (20, 20, 2), "sensor_size (20, 20, 2)"),  # events reach x = 33
        ("evt3", (34, 34, 1), "(W, H) or (W, H, 2)"),
        ("evt2", (4096, 34), "too wide"),
        ("aedat2", (34, 600), "too tall"),
    ],
)
def test_bad_sensor_sizes_are_refused(tmp_path, fmt, size, match) -> None:
    refused(tmp_path, fmt, EV, match, sensor_size=size)


def test_a_refused_write_keeps_the_old_file(tmp_path) -> None:
    path = tmp_path / "keep.bin"
    write_events(path, EV)
    before = path.read_bytes()
    with pytest.raises(ValueError, match="x = 300"):
        write_events(path, changed(EV, x=300))
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["keep.bin"]


# --------------------------------------------------------------------- documented behaviours


def test_formats_without_a_sensor_field_only_check_it(tmp_path) -> None:
    # N-MNIST: the reader reports 34 x 34 when every coordinate fits it, else nothing
    _, meta = read_events(
        write_events(tmp_path / "a.bin", EV, sensor_size=(34, 34, 2)), return_meta=True
    )
    assert meta["sensor_size"] == (34, 34, 2)
    big = changed(EV, x=100)
    _, meta = read_events(
        write_events(tmp_path / "b.bin", big, sensor_size=(128, 128, 2)), return_meta=True
    )
    assert meta["sensor_size"] is None
    for fmt, events in (("npy", EV), ("bs1", EV1), ("aer", EV1)):
        path = write_events(tmp_path / f"c{EXT[fmt]}", events, format=fmt, sensor_size=(700, 34, 2))
        assert read_events(path, format=fmt, return_meta=True)[1]["sensor_size"] is None


@pytest.mark.parametrize(
    ("fmt", "options", "size", "chip", "back"),
    [
        ("aedat2", {}, (128, 128), b"AEChip: ch.unizh.ini.jaer.chip.retina.DVS128", (128, 128, 2)),
        ("aedat2", {"layout": "dvs128"}, None, b"retina.DVS128", (128, 128, 2)),
        ("aedat2", {}, (240, 180, 2), b"davis.DAVIS240C", (240, 180, 2)),
        ("aedat2", {}, (300, 200), b"chips.DavisChip", None),
        ("aedat2", {}, None, b"chips.DavisChip", None),
        ("aedat3", {}, (346, 260), b"#Source 1: DAVIS346B", (346, 260, 2)),
        ("aedat3", {}, (300, 200, 2), b"#Source 1: Unknown", None),
    ],
)
def test_aedat2_and_3_record_known_chips_only(tmp_path, fmt, options, size, chip, back) -> None:
    path = write_events(tmp_path / "a.aedat", EV, format=fmt, sensor_size=size, **options)
    assert chip in path.read_bytes()[:400]
    events, meta = read_events(path, return_meta=True)
    np.testing.assert_array_equal(events, EV)
    assert meta["sensor_size"] == back


def test_aedat2_layout_option(tmp_path) -> None:
    with pytest.raises(ValueError, match="layout must be one of"):
        write_events(tmp_path / "a.aedat", EV, format="aedat2", layout="davis346")
    refused(tmp_path, "aedat2", changed(EV, x=128), "x = 128", "[0, 127]", layout="dvs128")


def test_mat_without_sensor_size_is_an_asl_dvs_sample(tmp_path) -> None:
    _, meta = read_events(write_events(tmp_path / "a.mat", EV), return_meta=True)
    assert meta["sensor_size"] == (240, 180, 2) and meta["kind"] == "asl_dvs"


def test_aer_ticks_and_polarity(tmp_path) -> None:
    events = EV1.copy()
    path = write_events(tmp_path / "a.aedat", events, format="aer", tick_us=0.2, address_size=4)
    assert path.stat().st_size == 8 * len(events)
    np.testing.assert_array_equal(read_events(path, tick_us=0.2, address_size=4), events)
    odd = events.copy()
    odd["t"] = 2 * odd["t"] + 1
    refused(tmp_path, "aer", odd, "whole number of 2.0 µs ticks", tick_us=2.0)
    split = events.copy()
    split["p"] = np.arange(len(split)) % 2
    path = write_events(tmp_path / "s.aedat", split, format="aer", on_off=True)
    np.testing.assert_array_equal(read_events(path, on_off=True), split)
    refused(tmp_path, "aer", changed(split, x=40_000), "x = 40000", "[0, 32767]", on_off=True)


def test_headerless_bytes_that_spell_a_header_are_refused(tmp_path) -> None:
    t0 = 0x65 << 16 | 0x76 << 8 | 0x74  # bytes 2-4 of the first N-MNIST event: "evt"
    spelled = make_events([t0, t0], [37, 10], [32, 0], [0, 0])  # "% evt\n..."
    refused(tmp_path, "nmnist", spelled, "spell a prophesee header", "b'% evt\\n")
    addr = make_events([0x6576740A], [0x2520])  # address "% ", ticks "evt\n"
    refused(tmp_path, "aer", addr, "spell a prophesee header")


# --------------------------------------------------------------------- bytes


def data_part(path, fmt: str) -> bytes:
    raw = path.read_bytes()
    if fmt in ("evt2", "evt3", "dat"):
        _, offset = _prophesee.read_header(path)
        return raw[offset + (2 if fmt == "dat" else 0) :]
    if fmt in ("aedat2", "aedat3"):
        end = b"#End Of ASCII Header\r\n" if fmt == "aedat2" else b"#!END-HEADER\r\n"
        return raw[raw.index(end) + len(end) :]
    return raw


@pytest.mark.parametrize(
    ("fmt", "events", "expected"),
    [
        ("nmnist", EV, bin_bytes(EV)),
        ("bs1", EV1, bs1_bytes(EV1["x"], EV1["t"], EV1["p"])),
        ("evt2", EV, evt2_bytes(EV, header="")),
        ("evt3", EV, evt3_bytes(EV, header="")),
        ("dat", EV, dat_bytes(EV, header="")[2:]),
        ("aer", EV1, aer_bytes(EV1["x"], EV1["t"])),
        ("aedat2", EV, aedat2_bytes(EV, layout="davis").split(b"Header\r\n")[1]),
        ("aedat3", EV, aedat3_packet(EV, 0)),
    ],
)
def test_writer_bytes_equal_the_hand_built_encoding(tmp_path, fmt, events, expected) -> None:
    path = write_events(tmp_path / f"a{EXT[fmt]}", events, format=fmt)
    assert data_part(path, fmt) == expected


def test_every_chip_name_the_writers_use_reads_back_as_its_size() -> None:
    from spikestack.data.io._chips import (
        ANY_DAVIS,
        CAER_SOURCES,
        JAER_CHIPS,
        NO_SOURCE,
        chip_sensor_size,
    )

    for chip, _, size in JAER_CHIPS:
        assert chip_sensor_size(chip.rsplit(".", 1)[-1]) == (*size, 2)  # as aedat2 reads it
    for size, source in CAER_SOURCES.items():
        assert chip_sensor_size(source) == (*size, 2)
    assert (
        chip_sensor_size(ANY_DAVIS.rsplit(".", 1)[-1]) is None
        and chip_sensor_size(NO_SOURCE) is None
    )
