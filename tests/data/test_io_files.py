"""Raw AER, HDF5 (SHD layout), MATLAB (ASL-DVS) and numpy files on files built here (the
NAS cochlea, ST-MNIST and foreign .npy samples are read in test_real_files.py)."""

from __future__ import annotations

import numpy as np
import pytest
from _data import aer_bytes, write_asl_dvs_mat, write_shd

from spikestack.data import (
    EVENT_DTYPE_1D,
    EventFormatError,
    iter_events,
    make_events,
    read_events,
    write_events,
)


def events_2d(n: int = 200, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return make_events(
        np.sort(rng.integers(0, 10**7, n)),
        rng.integers(0, 346, n),
        rng.integers(0, 260, n),
        rng.integers(0, 2, n),
    )


# --------------------------------------------------------------------- raw AER / NAS


@pytest.mark.parametrize("address_size", [2, 4])
def test_aer_round_trip(tmp_path, address_size) -> None:
    rng = np.random.default_rng(3)
    addr, ticks = rng.integers(0, 64, 100), np.sort(rng.integers(0, 2**32, 100))
    path = tmp_path / "spikes.aedat"
    data = aer_bytes(addr, ticks, address_size=address_size)
    path.write_bytes(data)
    ev = read_events(path, address_size=address_size)
    np.testing.assert_array_equal(ev["x"], addr)
    np.testing.assert_array_equal(ev["t"], ticks)
    ev = read_events(path, address_size=address_size, tick_us=0.2, on_off=True)
    np.testing.assert_array_equal(ev["t"], np.rint(ticks * 0.2))
    np.testing.assert_array_equal(ev["x"], addr >> 1)
    np.testing.assert_array_equal(ev["p"], addr & 1)
    path.write_bytes(data[:-1])
    with pytest.raises(EventFormatError, match="byte\\(s\\) left over"):
        read_events(path, address_size=address_size)


# --------------------------------------------------------------------- HDF5


def test_shd_layout(tmp_path) -> None:
    rng = np.random.default_rng(0)
    samples = []
    for n in (10, 25, 7):
        samples.append((np.sort(rng.uniform(0, 1, n)).astype(np.float32), rng.integers(0, 700, n)))
    path = tmp_path / "shd_train.h5"
    write_shd(path, samples, [3, 17, 5])
    ev, meta = read_events(path, index=1, return_meta=True)
    assert ev.dtype == EVENT_DTYPE_1D and ev.shape[0] == 25
    assert meta["label"] == 17 and meta["num_samples"] == 3
    np.testing.assert_array_equal(ev["x"], samples[1][1])
    np.testing.assert_array_equal(ev["t"], np.rint(samples[1][0].astype(np.float64) * 1e6))
    assert np.all(ev["p"] == 1)
    with pytest.raises(ValueError, match="index=0..2"):
        read_events(path)
    with pytest.raises(IndexError, match="index"):
        read_events(path, index=3)


@pytest.mark.parametrize("suffix", [".npz", ".npy", ".h5"])
@pytest.mark.parametrize("dims", [1, 2])
def test_write_read_round_trip(tmp_path, suffix, dims) -> None:
    events = events_2d()
    if dims == 1:
        events = make_events(events["t"], events["x"], p=events["p"])
    path = tmp_path / f"events{suffix}"
    size = None if suffix == ".npy" else (346, 260, 2)
    write_events(path, events, sensor_size=size)
    back, meta = read_events(path, return_meta=True)
    assert back.dtype == events.dtype
    np.testing.assert_array_equal(back, events)
    assert meta["sensor_size"] == size
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left behind
    np.testing.assert_array_equal(np.concatenate(list(iter_events(path, chunk=64))), events)


def test_write_events_replaces_atomically_and_rejects_bad_input(tmp_path) -> None:
    path = tmp_path / "e.npz"
    write_events(path, events_2d(10))
    write_events(path, events_2d(20, seed=1))
    assert read_events(path).shape[0] == 20
    with pytest.raises(TypeError, match="structured numpy array"):
        write_events(path, np.zeros((5, 4)))
    with pytest.raises(ValueError, match="cannot tell which format"):
        write_events(tmp_path / "e.txt", events_2d(3))
    assert read_events(path).shape[0] == 20


@pytest.mark.parametrize(
    ("array", "match"),
    [
        (
            np.zeros(3, dtype=[("t", "f8"), ("x", "i2"), ("y", "i2"), ("p", "i1")]),
            "integer microseconds",
        ),
        (
            np.array([(0, -1, 0, 1)], dtype=[("t", "i8"), ("x", "i2"), ("y", "i2"), ("p", "i1")]),
            "outside",
        ),
        (np.zeros((4, 7)), "structured event array"),
    ],
)
def test_bad_npy_content(tmp_path, array, match) -> None:
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(EventFormatError, match=match):
        read_events(tmp_path / "bad.npy")


# --------------------------------------------------------------------- MATLAB


def test_asl_dvs_mat(tmp_path) -> None:
    from scipy.io import savemat

    events = events_2d(50)
    events["x"] %= 240
    events["y"] %= 180
    write_asl_dvs_mat(tmp_path / "a_0001.mat", events)
    ev, meta = read_events(tmp_path / "a_0001.mat", return_meta=True)
    assert meta["kind"] == "asl_dvs" and meta["sensor_size"] == (240, 180, 2)
    np.testing.assert_array_equal(ev, events)
    savemat(tmp_path / "other.mat", {"foo": np.zeros(3)})
    with pytest.raises(EventFormatError, match="found \\['foo'\\]"):
        read_events(tmp_path / "other.mat")
