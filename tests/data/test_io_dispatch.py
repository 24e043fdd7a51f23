"""read_events / iter_events dispatch: picking the reader, and clear errors on the wrong file."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import spikestack.data as data
from spikestack.data import EventFormatError, detect_format, iter_events, read_events

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def real(name: str) -> Path:
    if not DATA.is_dir():
        pytest.skip(f"sample data folder {DATA} is absent")
    return DATA / name


def test_public_exports() -> None:
    for name in ("read_events", "iter_events", "write_events", "EVENT_DTYPE", "EventFormatError"):
        assert name in data.__all__ and hasattr(data, name)
    assert issubclass(EventFormatError, ValueError)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("prophesee/evt2_sample.raw", "evt2"),
        ("prophesee/evt3_sample.raw", "evt3"),
        ("prophesee/ncars_obj_004397_td.dat", "dat"),
        ("prophesee/evt3_sample.npy", "npy"),
        ("nmnist_small/1.bs2", "nmnist"),
        ("tonic_samples/sample_nmnist.bin", "nmnist"),
        ("slayer_oxford/input.bs1", "bs1"),
        ("tonic_samples/sample.aedat4", "aedat4"),
        ("tonic_samples/sample_aedat_header.aedat", "aedat2"),
        ("aedat2/header_test_128.aedat", "aedat2"),
        ("nas_cochlea/sound_mono_32ch_ONOFF_addr2b_ts02.aedat", "aer"),
        ("tonic_samples/sample_stmnist.mat", "mat"),
    ],
)
def test_detect_format_of_real_files(name, fmt) -> None:
    assert detect_format(real(name)) == fmt


@pytest.mark.parametrize(
    ("source", "target", "match"),
    [
        ("prophesee/evt2_sample.raw", "x.bin", "N-MNIST"),  # a .raw renamed .bin
        ("prophesee/evt3_sample.raw", "x.dat", "content is Prophesee EVT 3.0"),
        ("prophesee/ncars_obj_004397_td.dat", "x.raw", "content is Prophesee .dat"),
        ("prophesee/evt3_sample.npy", "x.aedat4", "AEDAT 4.0"),
        ("tonic_samples/sample.aedat4", "x.npz", "numpy .npz"),
        ("nmnist_small/1.bs2", "x.raw", "evt 2.0"),
        ("nmnist_small/1.bs2", "x.h5", "HDF5"),
        ("nmnist_small/1.bs2", "x.unknown", "cannot tell the event format"),
    ],
)
def test_content_that_does_not_match_extension(tmp_path, source, target, match) -> None:
    path = tmp_path / target
    shutil.copyfile(real(source), path)
    with pytest.raises(EventFormatError, match=match) as info:
        read_events(path)
    assert str(path) in str(info.value)


def test_forced_format_checks_content(tmp_path) -> None:
    path = tmp_path / "x.bin"
    shutil.copyfile(real("prophesee/evt2_sample.raw"), path)
    ev = read_events(path, format="evt2")  # format= overrides the extension
    assert ev.shape[0] == 539_481
    with pytest.raises(EventFormatError, match="expected an AEDAT 4.0 file"):
        read_events(path, format="aedat4")
    with pytest.raises(EventFormatError, match="headerless 5-byte"):
        read_events(path, format="nmnist")
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


def test_unknown_reader_option_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="tick_us"):
        read_events(real("nmnist_small/1.bs2"), tick_us=0.2)


@pytest.mark.parametrize(
    "name",
    [
        "nmnist_small/1.bs2",
        "slayer_oxford/output.bs1",
        "prophesee/evt3_pedestrians_5000ev.raw",
        "nas_cochlea/sound_mono_32ch_ONOFF_addr2b_ts02.aedat",
        "tonic_samples/sample.aedat4",
        "tonic_samples/sample_stmnist.mat",
    ],
)
def test_iter_events_concatenates_to_read_events(name) -> None:
    if name.endswith("aedat4"):
        pytest.importorskip("lz4")
    whole = read_events(real(name))
    chunks = list(iter_events(real(name), chunk=1024))
    assert len(chunks) >= 2 and max(c.shape[0] for c in chunks) <= 1024 * 12
    np.testing.assert_array_equal(np.concatenate(chunks), whole)


def test_iter_events_rejects_bad_chunk() -> None:
    with pytest.raises(ValueError, match="chunk must be a positive"):
        next(iter_events(real("nmnist_small/1.bs2"), chunk=0))


def test_raw_without_evt_line_asks_for_format(tmp_path) -> None:
    words = np.asarray([0x8 << 28 | 5, 1 << 28 | 3 << 11 | 4], dtype="<u4")
    path = tmp_path / "old.raw"
    path.write_bytes(b"% Date 2019-01-01\n" + words.tobytes())
    with pytest.raises(EventFormatError, match="pass format='evt2' or format='evt3'"):
        read_events(path)
    ev = read_events(path, format="evt2")
    assert ev["t"].tolist() == [5 << 6] and ev["x"].tolist() == [3] and ev["y"].tolist() == [4]
