"""Prophesee EVT 2.0 / EVT 3.0 / DAT readers on hand-built words (the real samples are
read in test_real_files.py)."""

from __future__ import annotations

import numpy as np
import pytest
from _data import dat_bytes, evt2_bytes, evt3_bytes, random_events

from spikestack.data import EventFormatError, iter_events, read_events

# --------------------------------------------------------------------- round trips


@pytest.mark.parametrize(
    ("encode", "suffix"), [(evt2_bytes, ".raw"), (evt3_bytes, ".raw"), (dat_bytes, ".dat")]
)
def test_round_trip(tmp_path, encode, suffix) -> None:
    events = random_events(3000, width=640, height=480, t_max=30_000_000)  # > 2**24 µs: EVT3 wrap
    path = tmp_path / f"rec{suffix}"
    path.write_bytes(encode(events))
    np.testing.assert_array_equal(read_events(path), events)
    np.testing.assert_array_equal(np.concatenate(list(iter_events(path, chunk=97))), events)


def test_evt3_vectors_and_time_wrap(tmp_path) -> None:
    words = [
        0x8 << 12 | 0xFFF,  # TIME_HIGH 4095
        0x6 << 12 | 7,  # TIME_LOW 7
        0x0 << 12 | 5,  # y = 5
        0x3 << 12 | 1 << 11 | 100,  # vector base x = 100, ON
        0x4 << 12 | 0b1000_0000_0101,  # VECT_12: x = 100, 102, 111
        0x5 << 12 | 0b1000_0001,  # VECT_8: x = 112, 119
        0x8 << 12 | 0,  # TIME_HIGH wraps to 0: t += 2**24
        0x6 << 12 | 3,
        0x2 << 12 | 0 << 11 | 9,  # ADDR_X: x = 9, OFF
    ]
    path = tmp_path / "vec.raw"
    path.write_bytes(b"% evt 3.0\n% geometry 200x10\n" + np.asarray(words, "<u2").tobytes())
    ev, meta = read_events(path, return_meta=True)
    t0 = 0xFFF << 12 | 7
    assert ev["x"].tolist() == [100, 102, 111, 112, 119, 9]
    assert ev["y"].tolist() == [5] * 6
    assert ev["p"].tolist() == [1, 1, 1, 1, 1, 0]
    assert ev["t"].tolist() == [t0] * 5 + [(1 << 24) + 3]
    assert meta["sensor_size"] == (200, 10, 2)


def test_evt2_time_high_wrap(tmp_path) -> None:
    words = [
        0x8 << 28 | 0x0FFFFFFF,
        1 << 28 | 5 << 22 | 3 << 11 | 4,
        0x8 << 28 | 0,
        2 << 22 | 1 << 11 | 2,
    ]
    path = tmp_path / "wrap.raw"
    path.write_bytes(b"% evt 2.0\n" + np.asarray(words, "<u4").tobytes())
    ev = read_events(path)
    assert ev["t"].tolist() == [0x0FFFFFFF << 6 | 5, (1 << 34) | 2]
    assert ev["p"].tolist() == [1, 0] and ev["x"].tolist() == [3, 1]


# --------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("encode", "suffix", "extra"),
    [(evt2_bytes, ".raw", 3), (evt3_bytes, ".raw", 1), (dat_bytes, ".dat", 5)],
)
def test_truncated_tail(tmp_path, encode, suffix, extra) -> None:
    events = random_events(50, width=64, height=64)
    path = tmp_path / f"cut{suffix}"
    data = encode(events)
    path.write_bytes(data + data[-extra:])
    with pytest.raises(EventFormatError, match=f"{extra} byte\\(s\\) left over"):
        read_events(path)
    with pytest.warns(UserWarning, match="left over"):
        repaired = read_events(path, allow_truncated=True)
    assert repaired.shape[0] >= 50


def test_coordinates_outside_declared_geometry(tmp_path) -> None:
    events = random_events(20, width=64, height=64)
    events["x"][3] = 100
    path = tmp_path / "geom.raw"
    path.write_bytes(evt3_bytes(events, header="% evt 3.0\n% geometry 64x64\n"))
    with pytest.raises(EventFormatError, match="x >= 64"):
        read_events(path)
    path = tmp_path / "geom.dat"
    path.write_bytes(dat_bytes(events, header="% Version 2\n% Width 64\n% Height 64\n"))
    with pytest.raises(EventFormatError, match="outside the declared sensor size"):
        read_events(path)


def test_events_before_first_time_high_are_dropped_with_warning(tmp_path) -> None:
    words = [1 << 28 | 1 << 11 | 1, 0x8 << 28 | 10, 1 << 28 | 2 << 11 | 2]
    path = tmp_path / "early.raw"
    path.write_bytes(b"% evt 2.0\n" + np.asarray(words, "<u4").tobytes())
    with pytest.warns(UserWarning, match="dropped 1 CD event"):
        ev = read_events(path)
    assert ev["t"].tolist() == [10 << 6] and ev["x"].tolist() == [2]


def test_unsorted_dat_is_sorted_with_warning(tmp_path) -> None:
    events = random_events(100, width=64, height=64)
    shuffled = events[::-1]
    path = tmp_path / "rev.dat"
    path.write_bytes(dat_bytes(shuffled))
    with pytest.warns(UserWarning, match="not non-decreasing"):
        ev = read_events(path)
    assert np.all(np.diff(ev["t"]) >= 0)
    np.testing.assert_array_equal(ev, shuffled[np.argsort(shuffled["t"], kind="stable")])


def test_evt_version_mismatch(tmp_path) -> None:
    path = tmp_path / "v.raw"
    path.write_bytes(evt2_bytes(random_events(5, width=8, height=8)))
    with pytest.raises(EventFormatError, match="EVT 3.0"):
        read_events(path, format="evt3")
    with pytest.raises(EventFormatError, match="dat"):
        read_events(path, format="dat")


def test_unsupported_evt_version(tmp_path) -> None:
    path = tmp_path / "v21.raw"
    path.write_bytes(b"% evt 2.1\n" + bytes(16))
    with pytest.raises(EventFormatError, match="unsupported Prophesee header \\(evt 2.1\\)"):
        read_events(path)
    with pytest.raises(EventFormatError, match="got evt 2.1"):
        read_events(path, format="evt2")


def test_format_line_gives_version_and_geometry(tmp_path) -> None:
    events = random_events(30, width=320, height=320)
    path = tmp_path / "imx.raw"
    path.write_bytes(evt3_bytes(events, header="% format EVT3;height=320;width=320\n% end\n"))
    ev, meta = read_events(path, return_meta=True)
    assert meta["format"] == "evt3" and meta["sensor_size"] == (320, 320, 2)
    np.testing.assert_array_equal(ev, events)


def test_header_fields_that_are_not_numbers_are_named(tmp_path) -> None:
    from spikestack.data import EventFormatError, read_events

    raw = tmp_path / "bad.raw"
    raw.write_bytes(b"% evt 2.0\n% format EVT2;height=abc;width=10\n% end\n" + bytes(8))
    with pytest.raises(EventFormatError, match=r"bad\.raw: header field 'format' has height='abc'"):
        read_events(raw)
    dat = tmp_path / "bad.dat"
    dat.write_bytes(b"% Version abc\n" + bytes([0, 8]) + bytes(8))
    with pytest.raises(EventFormatError, match=r"bad\.dat: header field 'Version' is 'abc'"):
        read_events(dat)


@pytest.mark.filterwarnings("ignore:.*timestamps are not non-decreasing")  # the bad word's events
def test_a_damaged_evt2_time_high_word_does_not_shift_the_rest_by_hours(tmp_path) -> None:
    from spikestack.data import read_events, write_events
    from spikestack.data.events import make_events

    n = 2000
    t = np.arange(n, dtype=np.int64) * 25  # 50 ms: TIME_HIGH (t >> 6) changes every few events
    events = make_events(t, t % 30, (t // 7) % 20, t % 2)
    path = tmp_path / "rec.raw"
    write_events(path, events, format="evt2", sensor_size=(32, 32, 2))
    data = bytearray(path.read_bytes())
    offset = data.index(b"% end\n") + len(b"% end\n")
    words = np.frombuffer(bytes(data[offset:]), dtype="<u4").copy()
    highs = np.flatnonzero(words >> 28 == 0x8)
    words[highs[len(highs) // 2]] = 0x8 << 28 | 3  # a TIME_HIGH far back, not a wrap
    path.write_bytes(bytes(data[:offset]) + words.tobytes())
    with pytest.warns(UserWarning, match="went backwards without a counter wrap"):
        got = read_events(path)
    assert len(got) == n and int(got["t"].max()) == int(t.max())  # no 2**34 µs shift


def _evt3_recording(tmp_path, n: int = 2000):
    """A 40 s EVT 3.0 recording (two wraps of its 24-bit time) and its uint16 words."""
    from spikestack.data import write_events
    from spikestack.data.events import make_events

    t = np.arange(n, dtype=np.int64) * 20_000 + 7  # TIME_HIGH (t >> 12) changes every event
    events = make_events(t, t % 30, (t // 7) % 20, t % 2)
    path = tmp_path / "rec.raw"
    write_events(path, events, format="evt3", sensor_size=(32, 32, 2))
    data = path.read_bytes()
    offset = data.index(b"% end\n") + len(b"% end\n")
    return path, data[:offset], np.frombuffer(data[offset:], dtype="<u2").copy(), t


@pytest.mark.filterwarnings("ignore:.*timestamps are not non-decreasing")  # the bad word's event
@pytest.mark.parametrize("damage", ["lone high word", "lone low word that looks like a wrap"])
def test_a_damaged_evt3_time_high_word_does_not_shift_the_rest(tmp_path, damage) -> None:
    path, header, words, t = _evt3_recording(tmp_path)
    highs = np.flatnonzero(words >> 12 == 0x8)
    values = words[highs] & 0xFFF
    if damage == "lone high word":  # mid-counter, a value far ahead, then back
        k = int(np.flatnonzero((values > 200) & (values < 1500))[10])
        words[highs[k]] = 0x8 << 12 | (int(values[k]) + 2000)
    else:  # in the counter's top quarter a word drops to its bottom, then the counter goes on
        k = int(np.flatnonzero((values > 3300) & (values < 3900))[5])
        words[highs[k]] = 0x8 << 12 | 5
    path.write_bytes(header + words.tobytes())
    with pytest.warns(UserWarning, match="no wrap of the 24-bit time explains"):
        got = read_events(path)
    assert len(got) == len(t) and int(got["t"].max()) == int(t.max())  # no 2**24 µs shift
    assert np.isin(got["t"], t).sum() == len(t) - 1  # only the bad word's own event moved


def test_evt3_gaps_of_several_wraps_and_a_plain_wrap_are_not_damage(tmp_path) -> None:
    import warnings

    from spikestack.data import write_events
    from spikestack.data.events import make_events

    t = np.array([5, 4_000_000, 40_000_000, 40_000_100, 2**24 * 7 + 3, 2**24 * 7 + 2**12 * 4095])
    t = np.concatenate([t, t[-1] + np.arange(1, 5_000) * 1000])  # across the next wrap, densely
    events = make_events(t, t % 30, t % 20, t % 2)
    path = write_events(tmp_path / "gaps.raw", events, format="evt3", sensor_size=(32, 32, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = read_events(path)
    np.testing.assert_array_equal(got["t"], t)


@pytest.mark.parametrize(
    ("fmt", "word", "dtype"), [("evt2", 0x3 << 28, "<u4"), ("evt3", 0xC << 12, "<u2")]
)
def test_words_of_reserved_types_are_counted(tmp_path, fmt, word, dtype) -> None:
    from spikestack.data import write_events
    from spikestack.data.events import make_events

    t = np.arange(200, dtype=np.int64) * 50
    events = make_events(t, t % 30, t % 20, t % 2)
    path = write_events(tmp_path / "rec.raw", events, format=fmt, sensor_size=(32, 32, 2))
    data = path.read_bytes()
    path.write_bytes(data + np.full(3, word, dtype=dtype).tobytes())  # three reserved words
    with pytest.warns(
        UserWarning, match=f"rec.raw: skipped 3 word\\(s\\) of a type EVT {fmt[-1]}.0 does not"
    ):
        got = read_events(path)
    np.testing.assert_array_equal(got, events)
