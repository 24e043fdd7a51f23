"""Every reader on the real sample files (../shared/data, see its SOURCES.md), one test per
sample folder with one subtest per file and check, so that a fresh clone without the
data skips a handful of tests while every file still reports when the data is there.

Besides the decoded values (checked against SOURCES.md and the reference decodes), each
file is detected by its extension and header, streamed in chunks, and written back with
the package writer of its format, which must give the same events (and, for the
headerless formats, the same bytes).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import spikestack.cli
from spikestack.data import (
    EVENT_DTYPE,
    EVENT_DTYPE_1D,
    EventFormatError,
    detect_format,
    iter_events,
    read_events,
    write_events,
)


def streams_like_read(path: Path, chunk: int, **options) -> None:
    whole = read_events(path, **options)
    chunks = list(iter_events(path, chunk=chunk, **options))
    assert len(chunks) > 1
    np.testing.assert_array_equal(np.concatenate(chunks), whole)


def rewrites(path: Path, out: Path, fmt: str, **options) -> bytes:
    """Read ``path``, write it back as ``fmt``; the events must come back equal."""
    events, meta = read_events(path, format=fmt, return_meta=True, **options)
    write_events(out, events, format=fmt, sensor_size=meta["sensor_size"], **options)
    back, back_meta = read_events(out, format=fmt, return_meta=True, **options)
    assert back.dtype == events.dtype
    np.testing.assert_array_equal(back, events)
    assert back_meta["sensor_size"] == meta["sensor_size"]
    return out.read_bytes()


def mismatch(source: Path, target: Path, match: str) -> None:
    """A copy of ``source`` under a misleading name is a clear EventFormatError."""
    shutil.copyfile(source, target)
    with pytest.raises(EventFormatError, match=match) as info:
        read_events(target)
    assert str(target) in str(info.value)


def test_nmnist_small(sample_folder, subtests, tmp_path, capsys) -> None:
    folder = sample_folder("nmnist_small")
    first = folder / "1.bs2"
    with subtests.test("1.bs2 decodes as SOURCES.md says"):
        ev, meta = read_events(first, return_meta=True)
        assert ev.dtype == EVENT_DTYPE and meta == {"format": "nmnist", "sensor_size": (34, 34, 2)}
        assert ev.shape[0] == 4681 and (ev["t"].min(), ev["t"].max()) == (893, 305_924)
        assert ev["x"].max() == 33 and ev["y"].max() == 33
        assert set(np.unique(ev["p"]).tolist()) == {0, 1}
    counts, t_max = [], 0
    for i in range(1, 1001):
        with subtests.test(f"{i}.bs2 is sorted and written back byte for byte"):
            path = folder / f"{i}.bs2"
            ev = read_events(path)
            assert np.all(np.diff(ev["t"]) >= 0)
            counts.append(ev.shape[0])
            t_max = max(t_max, int(ev["t"].max()))
            out = tmp_path / "copy.bs2"
            assert rewrites(path, out, "nmnist") == path.read_bytes()
    with subtests.test("event counts over the 1000 files"):
        assert sum(counts) == 4_133_231 and t_max == 315_109
        assert (min(counts), int(np.median(counts)), max(counts)) == (1112, 4180, 7152)
    with subtests.test("detection, streaming, misleading names, reader options"):
        assert detect_format(first) == "nmnist"
        streams_like_read(first, 1024)
        mismatch(first, tmp_path / "x.raw", "evt 2.0")
        mismatch(first, tmp_path / "x.h5", "HDF5")
        mismatch(first, tmp_path / "x.unknown", "cannot tell the event format")
        with pytest.raises(TypeError, match="tick_us"):
            read_events(first, tick_us=0.2)
    with subtests.test("EventFolder with the labels file"):
        from spikestack.data.datasets import EventFolder
        from spikestack.data.transforms import ToFrame

        ds = EventFolder(folder, frames=ToFrame((34, 34, 2), n_time_bins=3), cache_dir=tmp_path)
        assert len(ds) == 1000 and ds.splits == ("all",)
        assert ds.targets[:10] == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
        assert np.bincount(ds.targets).tolist() == [97, 116, 99, 93, 105, 92, 94, 117, 87, 100]
        frames, label = ds[0]  # 1.bs2: 4681 events, label 5 (SOURCES.md)
        assert label == 5 and frames.shape == (3, 2, 34, 34) and frames.sum() == 4681
    with subtests.test("spikestack data info and convert"):
        assert spikestack.cli.main(["data", "info", str(first)]) == 0
        out = capsys.readouterr().out
        assert "events:      4681" in out and "34 x 34" in out and "893 .. 305924 us" in out
        raw = tmp_path / "1.raw"
        assert (
            spikestack.cli.main(["data", "convert", str(first), str(raw), "--format", "evt3"]) == 0
        )
        assert "4681 events as evt3" in capsys.readouterr().out
        back, meta = read_events(raw, return_meta=True)
        np.testing.assert_array_equal(back, read_events(first))
        assert meta["sensor_size"] == (34, 34, 2)


def test_slayer_oxford(sample_folder, subtests, tmp_path) -> None:
    folder = sample_folder("slayer_oxford")
    for name, count, t_range in [
        ("input.bs1", 1889, (300, 1_888_800)),
        ("output.bs1", 10_361, (321, 1_888_229)),
    ]:
        with subtests.test(name):
            path = folder / name
            assert detect_format(path) == "bs1"
            ev = read_events(path)
            assert ev.dtype == EVENT_DTYPE_1D and ev.shape[0] == count
            assert (ev["x"].min(), ev["x"].max()) == (0, 199) and np.all(ev["p"] == 1)
            assert (ev["t"].min(), ev["t"].max()) == t_range
            assert np.all(np.diff(ev["t"]) >= 0)
            streams_like_read(path, 1024)
            rewrites(path, tmp_path / name, "bs1")  # SLAYER's order is not kept: sorted by t


def test_prophesee(sample_folder, subtests, tmp_path) -> None:
    folder = sample_folder("prophesee")
    evt2 = folder / "evt2_sample.raw"
    with subtests.test("evt2_sample.raw"):
        ev, meta = read_events(evt2, return_meta=True)
        assert ev.dtype == EVENT_DTYPE and meta["format"] == "evt2" == detect_format(evt2)
        assert ev.shape[0] == 539_481 and int(np.count_nonzero(ev["p"] == 1)) == 367_855
        assert (ev["t"].min(), ev["t"].max()) == (1_317_888, 1_367_888)
        assert (ev["x"].min(), ev["x"].max(), ev["y"].min(), ev["y"].max()) == (60, 599, 18, 475)
        assert np.all(np.diff(ev["t"]) >= 0)
        assert meta["sensor_size"] == (640, 480, 2)  # Gen3 plugin in the header
        rewrites(evt2, tmp_path / "evt2.raw", "evt2")
    for name, n_events, n_on, t_range, same_t in [
        ("evt3_sample", 219_596, 115_532, (11_718_656, 11_727_457), 20_121),
        ("evt3_pedestrians_5000ev", 5000, 2894, (5_840_504, 5_885_714), 46),
    ]:
        with subtests.test(f"{name}.raw against its reference decode"):
            path = folder / f"{name}.raw"
            ev, meta = read_events(path, return_meta=True)
            assert (
                detect_format(path) == "evt3" and detect_format(path.with_suffix(".npy")) == "npy"
            )
            ref = np.load(path.with_suffix(".npy"))
            assert ev.shape[0] == ref.shape[0] == n_events
            for field in "xyp":
                np.testing.assert_array_equal(
                    ev[field].astype(np.int64), ref[field].astype(np.int64)
                )
            # The reference t follows a decoder quirk (SOURCES.md); ours is spec-style.
            np.testing.assert_array_equal(ev["t"][:same_t], ref["t"][:same_t])
            assert (int(ev["t"].min()), int(ev["t"].max())) == t_range
            assert np.all(np.diff(ev["t"]) >= 0)
            assert int(np.count_nonzero(ev["p"] == 1)) == n_on
            assert meta["sensor_size"] == (1280, 720, 2)
            rewrites(path, tmp_path / f"{name}.raw", "evt3")
    dat = folder / "ncars_obj_004397_td.dat"
    with subtests.test("ncars_obj_004397_td.dat equals its reference decode"):
        assert detect_format(dat) == "dat"
        ev = read_events(dat)
        ref = np.load(dat.with_suffix(".npy"))
        assert ev.shape[0] == 4407
        for field in "txyp":
            np.testing.assert_array_equal(ev[field].astype(np.int64), ref[field].astype(np.int64))
        rewrites(dat, tmp_path / "ncars.dat", "dat")
    with subtests.test("foreign .npy layouts (expelliarmus dtype, plain (N, 4))"):
        ref = np.load(dat.with_suffix(".npy"))  # i2 / u1 fields
        ev = read_events(dat.with_suffix(".npy"))
        assert ev.dtype == EVENT_DTYPE and ev.shape[0] == 4407
        np.testing.assert_array_equal(ev["x"], ref["x"])
        plain = np.stack([ref["t"], ref["x"], ref["y"], ref["p"]], axis=1).astype(np.int64)
        np.save(tmp_path / "plain.npy", plain)
        np.testing.assert_array_equal(read_events(tmp_path / "plain.npy"), ev)
    for name in ["evt2_sample.raw", "evt3_sample.raw", "ncars_obj_004397_td.dat"]:
        with subtests.test(f"{name} streams in chunks"):
            for chunk in (1000, 4099):
                streams_like_read(folder / name, chunk)
    with subtests.test("misleading names and forced formats"):
        mismatch(evt2, tmp_path / "x.bin", "N-MNIST")
        mismatch(folder / "evt3_sample.raw", tmp_path / "x.dat", "content is Prophesee EVT 3.0")
        mismatch(dat, tmp_path / "x.raw", "content is Prophesee .dat")
        mismatch(folder / "evt3_sample.npy", tmp_path / "x.aedat4", "AEDAT 4.0")
        forced = tmp_path / "x.bin"
        assert read_events(forced, format="evt2").shape[0] == 539_481  # format= wins
        with pytest.raises(EventFormatError, match="expected an AEDAT 4.0 file"):
            read_events(forced, format="aedat4")
        with pytest.raises(EventFormatError, match="headerless 5-byte"):
            read_events(forced, format="nmnist")


def test_tonic_samples(sample_folder, subtests, tmp_path) -> None:
    folder = sample_folder("tonic_samples")
    aedat4 = folder / "sample.aedat4"
    with subtests.test("sample.aedat4 (DVXplorer, LZ4)"):
        ev, meta = read_events(aedat4, return_meta=True)
        assert detect_format(aedat4) == "aedat4" and ev.shape[0] == 111_954
        assert (int(ev["t"].min()), int(ev["t"].max())) == (
            1_605_537_493_718_345,
            1_605_537_494_308_262,
        )
        assert (ev["x"].max(), ev["y"].max()) == (319, 239)
        assert int(np.count_nonzero(ev["p"] == 1)) == 55_023 and np.all(np.diff(ev["t"]) >= 0)
        assert meta["sensor_size"] == (320, 240, 2) and meta["header"]["compression"] == 1
        streams_like_read(aedat4, 1024)
        rewrites(aedat4, tmp_path / "copy.aedat4", "aedat4")
        mismatch(aedat4, tmp_path / "x.npz", "numpy .npz")
    with subtests.test("sample_nmnist.bin"):
        path = folder / "sample_nmnist.bin"
        ev = read_events(path)
        assert detect_format(path) == "nmnist"
        assert ev.shape[0] == 4325 and int(np.count_nonzero(ev["p"] == 1)) == 2145
        assert (ev["t"].min(), ev["t"].max()) == (654, 311_175)
        assert rewrites(path, tmp_path / "copy.bin", "nmnist") == path.read_bytes()
    with subtests.test("sample_ncars.dat"):
        path = folder / "sample_ncars.dat"
        ev = read_events(path)
        assert ev.shape[0] == 2009 and int(np.count_nonzero(ev["p"] == 1)) == 1350
        assert (ev["t"].max(), ev["x"].max(), ev["y"].max()) == (99_952, 77, 41)
        rewrites(path, tmp_path / "copy.dat", "dat")
    with subtests.test("sample_stmnist.mat against scipy"):
        path = folder / "sample_stmnist.mat"
        ev, meta = read_events(path, return_meta=True)
        assert detect_format(path) == "mat" and meta["kind"] == "stmnist"
        assert meta["sensor_size"] == (10, 10, 2) and ev.shape[0] == 2346
        assert (ev["t"].min(), ev["t"].max()) == (196_626, 895_745)  # 0.19663 s - 0.89574 s
        assert ev["x"].max() <= 9 and ev["y"].max() <= 9
        from scipy.io import loadmat

        train = loadmat(path)["spiketrain"]
        taxel = ev["y"].astype(int) * 10 + ev["x"]
        np.testing.assert_array_equal(
            train[taxel, np.arange(train.shape[1])], np.where(ev["p"] == 1, 1, -1)
        )
        streams_like_read(path, 1024)
        rewrites(path, tmp_path / "copy.mat", "mat")  # as ASL-DVS variables + sensor_size
    with subtests.test("sample_aedat_header.aedat (header only)"):
        path = folder / "sample_aedat_header.aedat"
        ev, meta = read_events(path, return_meta=True)
        assert detect_format(path) == "aedat2"
        assert ev.shape[0] == 0 and ev.dtype == EVENT_DTYPE
        assert meta["header"]["version"] == "2.0"
        assert meta["header"]["start_time_ms"] == 1_695_355_587_880
        assert meta["sensor_size"] == (346, 260, 2)


def test_aedat2_header_fixtures(sample_folder, subtests) -> None:
    from spikestack.data.io import aedat2

    folder = sample_folder("aedat2")
    for name, offset, size in [
        ("header_test_128.aedat", 4241, (128, 128, 2)),
        ("header_test_240.aedat", 303_869, (240, 180, 2)),
    ]:
        with subtests.test(name):
            path = folder / name
            assert detect_format(path) == "aedat2"
            info = aedat2.read_header(path)
            assert info["version"] == "2.0" and info["data_offset"] == offset
            assert info["sensor_size"] == size
            # After the header there is only a '$$$...\r\n' marker line: not whole events.
            with pytest.raises(EventFormatError, match="left over"):
                read_events(path)


def test_nas_cochlea(sample_folder, subtests, tmp_path) -> None:
    path = sample_folder("nas_cochlea") / "sound_mono_32ch_ONOFF_addr2b_ts02.aedat"
    with subtests.test("0.2 µs ticks"):
        ev, meta = read_events(path, tick_us=0.2, return_meta=True)
        assert detect_format(path) == "aer" == meta["format"] and ev.dtype == EVENT_DTYPE_1D
        assert ev.shape[0] == 49_864
        assert (ev["x"].min(), ev["x"].max(), np.unique(ev["x"]).shape[0]) == (0, 63, 64)
        assert int(np.count_nonzero(ev["x"] % 2 == 0)) == 25_023
        assert (ev["t"][0], ev["t"][-1]) == (round(573_010 * 0.2), round(6_296_705 * 0.2))
        rewrites(path, tmp_path / "nas02.aedat", "aer", tick_us=0.2)
    with subtests.test("raw ticks, ON/OFF split, streaming, byte-exact rewrite"):
        ticks = read_events(path)  # default tick 1 µs: raw timestamps
        assert (ticks["t"].min(), ticks["t"].max()) == (573_010, 6_296_705)
        split = read_events(path, on_off=True)
        assert split["x"].max() == 31 and int(np.count_nonzero(split["p"] == 0)) == 25_023
        np.testing.assert_array_equal(np.concatenate(list(iter_events(path, chunk=5000))), ticks)
        assert rewrites(path, tmp_path / "nas.aedat", "aer") == path.read_bytes()
        assert rewrites(path, tmp_path / "split.aedat", "aer", on_off=True) == path.read_bytes()
