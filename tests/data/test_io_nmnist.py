"""N-MNIST ``.bin``/``.bs2`` and SLAYER ``.bs1`` readers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spikestack.data import (
    EVENT_DTYPE,
    EVENT_DTYPE_1D,
    EventFormatError,
    iter_events,
    read_events,
)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def real(name: str) -> Path:
    if not DATA.is_dir():
        pytest.skip(f"sample data folder {DATA} is absent")
    return DATA / name


def bin_bytes(events: np.ndarray) -> bytes:
    """The 5-byte big-endian N-MNIST word per event (written here, independently of the reader)."""
    raw = np.zeros((events.shape[0], 5), dtype=np.uint8)
    t = events["t"].astype(np.int64)
    raw[:, 0] = events["x"]
    raw[:, 1] = events["y"]
    raw[:, 2] = (events["p"].astype(np.int64) << 7) | (t >> 16) & 0x7F
    raw[:, 3] = (t >> 8) & 0xFF
    raw[:, 4] = t & 0xFF
    return raw.tobytes()


def nmnist_events(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, dtype=EVENT_DTYPE)
    ev["t"] = np.sort(rng.integers(0, 1 << 23, n))
    ev["x"] = rng.integers(0, 34, n)
    ev["y"] = rng.integers(0, 34, n)
    ev["p"] = rng.integers(0, 2, n)
    return ev


def test_nmnist_bs2_sample_1() -> None:
    ev, meta = read_events(real("nmnist_small/1.bs2"), return_meta=True)
    assert ev.dtype == EVENT_DTYPE and meta == {"format": "nmnist", "sensor_size": (34, 34, 2)}
    assert ev.shape[0] == 4681
    assert (ev["t"].min(), ev["t"].max()) == (893, 305_924)
    assert ev["x"].max() == 33 and ev["y"].max() == 33
    assert set(np.unique(ev["p"]).tolist()) == {0, 1}


def test_nmnist_all_1000_files() -> None:
    folder = real("nmnist_small")
    counts, t_max = [], 0
    for i in range(1, 1001):
        ev = read_events(folder / f"{i}.bs2")
        assert np.all(np.diff(ev["t"]) >= 0)
        counts.append(ev.shape[0])
        t_max = max(t_max, int(ev["t"].max()))
    assert sum(counts) == 4_133_231
    assert (min(counts), int(np.median(counts)), max(counts)) == (1112, 4180, 7152)
    assert t_max == 315_109


def test_tonic_nmnist_bin() -> None:
    ev = read_events(real("tonic_samples/sample_nmnist.bin"))
    assert ev.shape[0] == 4325 and int(np.count_nonzero(ev["p"] == 1)) == 2145
    assert (ev["t"].min(), ev["t"].max()) == (654, 311_175)


@pytest.mark.parametrize(
    ("name", "count", "t_range"),
    [("input.bs1", 1889, (300, 1_888_800)), ("output.bs1", 10_361, (321, 1_888_229))],
)
def test_slayer_bs1(name, count, t_range) -> None:
    ev = read_events(real(f"slayer_oxford/{name}"))
    assert ev.dtype == EVENT_DTYPE_1D and ev.shape[0] == count
    assert (ev["x"].min(), ev["x"].max()) == (0, 199)
    assert np.all(ev["p"] == 1)
    assert (ev["t"].min(), ev["t"].max()) == t_range
    assert np.all(np.diff(ev["t"]) >= 0)


@pytest.mark.parametrize("suffix", [".bin", ".bs2"])
def test_bin_round_trip_and_chunks(tmp_path, suffix) -> None:
    events = nmnist_events(1000)
    path = tmp_path / f"sample{suffix}"
    path.write_bytes(bin_bytes(events))
    np.testing.assert_array_equal(read_events(path), events)
    chunks = list(iter_events(path, chunk=64))
    assert len(chunks) == 16
    np.testing.assert_array_equal(np.concatenate(chunks), events)


def test_bs1_round_trip(tmp_path) -> None:
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 60_000, 300)
    t = np.sort(rng.integers(0, 1 << 23, 300))
    raw = np.zeros((300, 5), np.uint8)
    raw[:, 0], raw[:, 1] = ids >> 8, ids & 0xFF
    raw[:, 2], raw[:, 3], raw[:, 4] = 0x80 | (t >> 16), (t >> 8) & 0xFF, t & 0xFF
    path = tmp_path / "spikes.bs1"
    path.write_bytes(raw.tobytes())
    ev = read_events(path)
    np.testing.assert_array_equal(ev["x"], ids)
    np.testing.assert_array_equal(ev["t"], t)


def test_overflow_marker_adds_2_13_us(tmp_path) -> None:
    events = nmnist_events(6)
    events["t"] = [10, 20, 30, 5, 15, 25]
    events["y"][3] = 240  # overflow marker: dropped, later events shifted
    path = tmp_path / "ov.bin"
    path.write_bytes(bin_bytes(events))
    ev, meta = read_events(path, return_meta=True)
    assert ev["t"].tolist() == [10, 20, 30, 15 + 8192, 25 + 8192]
    assert meta["sensor_size"] == (34, 34, 2)
    chunked = np.concatenate(list(iter_events(path, chunk=2)))
    np.testing.assert_array_equal(chunked, ev)


def test_truncated_bin(tmp_path) -> None:
    path = tmp_path / "cut.bs2"
    path.write_bytes(bin_bytes(nmnist_events(10)) + b"\x01\x02\x03")
    with pytest.raises(EventFormatError, match="3 byte\\(s\\) left over after 10"):
        read_events(path)
    with pytest.warns(UserWarning, match="3 byte"):
        assert read_events(path, allow_truncated=True).shape[0] == 10


def test_out_of_range_for_declared_size(tmp_path) -> None:
    events = nmnist_events(10)
    events["x"][0] = 50
    path = tmp_path / "big.bin"
    path.write_bytes(bin_bytes(events))
    ev, meta = read_events(path, return_meta=True)  # N-Caltech101-like: no size claimed
    assert meta["sensor_size"] is None and ev["x"].max() == 50
    with pytest.raises(EventFormatError, match="x >= 34"):
        read_events(path, sensor_size=(34, 34, 2))


def test_unsorted_bin_sorted_with_warning(tmp_path) -> None:
    events = nmnist_events(50)[::-1]
    path = tmp_path / "rev.bin"
    path.write_bytes(bin_bytes(events))
    with pytest.warns(UserWarning, match="sorted the events"):
        ev = read_events(path)
    np.testing.assert_array_equal(ev, events[np.argsort(events["t"], kind="stable")])
