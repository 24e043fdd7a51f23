"""read_events / iter_events / write_events dispatch: picking the reader and the writer, and
clear errors on the wrong file, on files built here (test_real_files.py does the same on
the real samples)."""

from __future__ import annotations

import numpy as np
import pytest
from _data import bin_bytes, dat_bytes, evt2_bytes, evt3_bytes, random_events

import spikestack.data as data
from spikestack.data import (
    EventFormatError,
    detect_format,
    iter_events,
    read_events,
    write_events,
)
from spikestack.data.io import FORMATS, writer_format

EVENTS = random_events(300, width=34, height=34, t_max=300_000)
SPIKES = random_events(300, width=700, polarities=1)  # 1-D

# (file name, format, events) written by the package writers: one per format
WRITTEN = [
    ("a.bin", "nmnist", EVENTS),
    ("a.bs2", "nmnist", EVENTS),
    ("a.bs1", "bs1", SPIKES),
    ("a2.raw", "evt2", EVENTS),
    ("a3.raw", "evt3", EVENTS),
    ("a.dat", "dat", EVENTS),
    ("a2.aedat", "aedat2", EVENTS),
    ("a3.aedat", "aedat3", EVENTS),
    ("a4.aedat", "aedat4", EVENTS),
    ("a.aedat4", "aedat4", EVENTS),
    ("aer.aedat", "aer", SPIKES),
    ("a.h5", "hdf5", EVENTS),
    ("a.hdf5", "hdf5", SPIKES),
    ("a.mat", "mat", EVENTS),
    ("a.npy", "npy", EVENTS),
    ("a.npz", "npz", SPIKES),
]


def test_public_exports() -> None:
    for name in ("read_events", "iter_events", "write_events", "EVENT_DTYPE", "EventFormatError"):
        assert name in data.__all__ and hasattr(data, name)
    assert issubclass(EventFormatError, ValueError)


def test_every_format_has_a_reader_and_a_writer() -> None:
    import importlib

    for fmt in FORMATS.values():
        module = importlib.import_module(f"spikestack.data.io.{fmt.module}")
        assert callable(getattr(module, fmt.reader)) and callable(getattr(module, fmt.writer))
    assert {f for _, f, _ in WRITTEN} == set(FORMATS)


@pytest.mark.parametrize(("name", "fmt", "events"), WRITTEN, ids=[w[0] for w in WRITTEN])
def test_extension_and_header_pick_the_reader(tmp_path, name, fmt, events) -> None:
    path = tmp_path / name
    write_events(path, events, format=fmt)
    assert detect_format(path) == fmt
    back, meta = read_events(path, return_meta=True)
    assert meta["format"] == fmt
    np.testing.assert_array_equal(back, events)
    chunks = list(iter_events(path, chunk=64))
    assert len(chunks) >= 2 and max(c.shape[0] for c in chunks) <= 64 * 12
    np.testing.assert_array_equal(np.concatenate(chunks), back)


def test_writer_from_extension_format_and_aliases(tmp_path) -> None:
    assert writer_format("x.npz") == "npz" and writer_format("x.HDF5") == "hdf5"
    assert writer_format("x.bs2") == "nmnist" and writer_format("x.aedat4") == "aedat4"
    assert writer_format("x.npz", "evt3") == "evt3"  # format= wins over the extension
    assert writer_format("x", "bin") == "nmnist" and writer_format("x", "NAS") == "aer"
    for name in ("x.raw", "x.aedat"):
        with pytest.raises(ValueError, match="pass format="):
            write_events(name, EVENTS)
    with pytest.raises(ValueError, match="used by evt2, evt3"):
        writer_format("rec.raw")
    with pytest.raises(ValueError, match="cannot tell which format"):
        writer_format("x.txt")
    with pytest.raises(ValueError, match="format must be one of"):
        writer_format("x.npz", "mp4")
    path = tmp_path / "forced.npz"
    write_events(path, EVENTS, format="dat")  # written as .dat, whatever the name says
    np.testing.assert_array_equal(read_events(path, format="dat"), EVENTS)
    with pytest.raises(EventFormatError, match="content is Prophesee .dat"):
        read_events(path)


@pytest.mark.parametrize(
    ("data", "target", "match"),
    [
        (evt2_bytes(EVENTS), "x.bin", "N-MNIST"),  # a .raw renamed .bin
        (evt3_bytes(EVENTS), "x.dat", "content is Prophesee EVT 3.0"),
        (dat_bytes(EVENTS), "x.raw", "content is Prophesee .dat"),
        (bin_bytes(EVENTS), "x.raw", "evt 2.0"),
        (bin_bytes(EVENTS), "x.h5", "HDF5"),
        (bin_bytes(EVENTS), "x.unknown", "cannot tell the event format"),
    ],
)
def test_content_that_does_not_match_extension(tmp_path, data, target, match) -> None:
    path = tmp_path / target
    path.write_bytes(data)
    with pytest.raises(EventFormatError, match=match) as info:
        read_events(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("fmt", "target", "match"),
    [("npy", "x.aedat4", "AEDAT 4.0"), ("aedat4", "x.npz", "numpy .npz")],
)
def test_written_file_under_another_extension(tmp_path, fmt, target, match) -> None:
    path = tmp_path / target
    write_events(path, EVENTS, format=fmt)
    with pytest.raises(EventFormatError, match=match):
        read_events(path)


def test_forced_format_checks_content(tmp_path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(evt2_bytes(EVENTS))
    np.testing.assert_array_equal(read_events(path, format="evt2"), EVENTS)  # format= wins
    with pytest.raises(EventFormatError, match="expected an AEDAT 4.0 file"):
        read_events(path, format="aedat4")
    with pytest.raises(EventFormatError, match="headerless 5-byte"):
        read_events(path, format="nmnist")
    with pytest.raises(EventFormatError, match="headerless raw AER"):
        read_events(path, format="aer")
    with pytest.raises(ValueError, match="format must be one of"):
        read_events(path, format="mp4")


def test_missing_file_names_the_path(tmp_path) -> None:
    missing = tmp_path / "nope.raw"
    with pytest.raises(FileNotFoundError, match="nope.raw"):
        read_events(missing)
    with pytest.raises(FileNotFoundError, match="nope.raw"):
        next(iter_events(missing))
    with pytest.raises(IsADirectoryError):
        read_events(tmp_path)


def test_unknown_reader_or_writer_option_is_a_type_error(tmp_path) -> None:
    path = write_events(tmp_path / "a.bin", EVENTS)
    with pytest.raises(TypeError, match="tick_us"):
        read_events(path, tick_us=0.2)
    with pytest.raises(TypeError, match="compression"):
        write_events(tmp_path / "b.bin", EVENTS, compression="lz4")
    assert not (tmp_path / "b.bin").exists()


def test_iter_events_rejects_bad_chunk(tmp_path) -> None:
    path = write_events(tmp_path / "a.bin", EVENTS)
    with pytest.raises(ValueError, match="chunk must be a positive"):
        next(iter_events(path, chunk=0))


def test_raw_without_evt_line_asks_for_format(tmp_path) -> None:
    words = np.asarray([0x8 << 28 | 5, 1 << 28 | 3 << 11 | 4], dtype="<u4")
    path = tmp_path / "old.raw"
    path.write_bytes(b"% Date 2019-01-01\n" + words.tobytes())
    with pytest.raises(EventFormatError, match="pass format='evt2' or format='evt3'"):
        read_events(path)
    ev = read_events(path, format="evt2")
    assert ev["t"].tolist() == [5 << 6] and ev["x"].tolist() == [3] and ev["y"].tolist() == [4]
