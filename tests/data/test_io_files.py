"""Raw AER (NAS cochlea), HDF5 (SHD layout), MATLAB (ST-MNIST, ASL-DVS) and numpy files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spikestack.data import (
    EVENT_DTYPE,
    EVENT_DTYPE_1D,
    EventFormatError,
    iter_events,
    make_events,
    read_events,
    write_events,
)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
NAS = "nas_cochlea/sound_mono_32ch_ONOFF_addr2b_ts02.aedat"


def real(name: str) -> Path:
    if not DATA.is_dir():
        pytest.skip(f"sample data folder {DATA} is absent")
    return DATA / name


def events_2d(n: int = 200, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return make_events(
        np.sort(rng.integers(0, 10**7, n)),
        rng.integers(0, 346, n),
        rng.integers(0, 260, n),
        rng.integers(0, 2, n),
    )


# --------------------------------------------------------------------- raw AER / NAS


def test_nas_cochlea_recording() -> None:
    ev, meta = read_events(real(NAS), tick_us=0.2, return_meta=True)
    assert meta["format"] == "aer" and ev.dtype == EVENT_DTYPE_1D
    assert ev.shape[0] == 49_864
    assert (ev["x"].min(), ev["x"].max(), np.unique(ev["x"]).shape[0]) == (0, 63, 64)
    assert int(np.count_nonzero(ev["x"] % 2 == 0)) == 25_023
    assert (ev["t"][0], ev["t"][-1]) == (round(573_010 * 0.2), round(6_296_705 * 0.2))
    ticks = read_events(real(NAS))  # default tick 1 µs: raw timestamps
    assert (ticks["t"].min(), ticks["t"].max()) == (573_010, 6_296_705)
    split = read_events(real(NAS), on_off=True)
    assert split["x"].max() == 31 and int(np.count_nonzero(split["p"] == 0)) == 25_023
    np.testing.assert_array_equal(np.concatenate(list(iter_events(real(NAS), chunk=5000))), ticks)


@pytest.mark.parametrize("address_size", [2, 4])
def test_aer_round_trip(tmp_path, address_size) -> None:
    rng = np.random.default_rng(3)
    rec = np.empty(100, dtype=[("a", ">u2" if address_size == 2 else ">u4"), ("t", ">u4")])
    rec["a"], rec["t"] = rng.integers(0, 64, 100), np.sort(rng.integers(0, 2**32, 100))
    path = tmp_path / "spikes.aedat"
    path.write_bytes(rec.tobytes())
    ev = read_events(path, address_size=address_size)
    np.testing.assert_array_equal(ev["x"], rec["a"])
    np.testing.assert_array_equal(ev["t"], rec["t"])
    path.write_bytes(rec.tobytes()[:-1])
    with pytest.raises(EventFormatError, match="byte\\(s\\) left over"):
        read_events(path, address_size=address_size)


# --------------------------------------------------------------------- HDF5


def write_shd(path: Path, samples: list[tuple[np.ndarray, np.ndarray]], labels: list[int]) -> None:
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as f:
        times = f.create_dataset("spikes/times", (len(samples),), dtype=h5py.vlen_dtype(np.float32))
        units = f.create_dataset("spikes/units", (len(samples),), dtype=h5py.vlen_dtype(np.uint16))
        for i, (t, u) in enumerate(samples):
            times[i], units[i] = t, u
        f.create_dataset("labels", data=np.asarray(labels, np.uint16))


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
    if suffix == ".h5":
        pytest.importorskip("h5py")
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


def test_foreign_npy_layouts(tmp_path) -> None:
    ref = np.load(real("prophesee/ncars_obj_004397_td.npy"))  # expelliarmus dtype: i2 / u1 fields
    ev = read_events(real("prophesee/ncars_obj_004397_td.npy"))
    assert ev.dtype == EVENT_DTYPE and ev.shape[0] == 4407
    np.testing.assert_array_equal(ev["x"], ref["x"])
    plain = np.stack([ref["t"], ref["x"], ref["y"], ref["p"]], axis=1).astype(np.int64)
    np.save(tmp_path / "plain.npy", plain)
    np.testing.assert_array_equal(read_events(tmp_path / "plain.npy"), ev)


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


def test_stmnist_sample() -> None:
    ev, meta = read_events(real("tonic_samples/sample_stmnist.mat"), return_meta=True)
    assert meta["kind"] == "stmnist" and meta["sensor_size"] == (10, 10, 2)
    assert ev.shape[0] == 2346
    assert (ev["t"].min(), ev["t"].max()) == (196_626, 895_745)  # 0.19663 s - 0.89574 s
    assert ev["x"].max() <= 9 and ev["y"].max() <= 9
    assert set(np.unique(ev["p"]).tolist()) <= {0, 1}
    from scipy.io import loadmat

    train = loadmat(real("tonic_samples/sample_stmnist.mat"))["spiketrain"]
    taxel = ev["y"].astype(int) * 10 + ev["x"]
    np.testing.assert_array_equal(
        train[taxel, np.arange(train.shape[1])], np.where(ev["p"] == 1, 1, -1)
    )


def test_asl_dvs_mat(tmp_path) -> None:
    from scipy.io import savemat

    events = events_2d(50)
    events["x"] %= 240
    events["y"] %= 180
    cols = {"ts": events["t"], "x": events["x"], "y": events["y"], "pol": events["p"]}
    savemat(
        tmp_path / "a_0001.mat", {k: v.astype(np.float64).reshape(-1, 1) for k, v in cols.items()}
    )
    ev, meta = read_events(tmp_path / "a_0001.mat", return_meta=True)
    assert meta["kind"] == "asl_dvs" and meta["sensor_size"] == (240, 180, 2)
    np.testing.assert_array_equal(ev, events)
    savemat(tmp_path / "other.mat", {"foo": np.zeros(3)})
    with pytest.raises(EventFormatError, match="found \\['foo'\\]"):
        read_events(tmp_path / "other.mat")
