"""N-MNIST ``.bin``/``.bs2`` and SLAYER ``.bs1`` readers on hand-built bytes (the real
samples are read in test_real_files.py)."""

from __future__ import annotations

import numpy as np
import pytest
from _data import bin_bytes, bs1_bytes, random_events

from spikestack.data import EVENT_DTYPE_1D, EventFormatError, iter_events, read_events


def nmnist_events(n: int, seed: int = 0) -> np.ndarray:
    return random_events(n, width=34, height=34, t_max=1 << 23, seed=seed)


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
    t = rng.integers(0, 1 << 23, 300)  # SLAYER writes in no time order: sorted on reading
    path = tmp_path / "spikes.bs1"
    path.write_bytes(bs1_bytes(ids, t))
    ev = read_events(path)
    assert ev.dtype == EVENT_DTYPE_1D and np.all(ev["p"] == 1)
    order = np.argsort(t, kind="stable")
    np.testing.assert_array_equal(ev["x"], ids[order])
    np.testing.assert_array_equal(ev["t"], t[order])


def test_overflow_marker_adds_2_13_us(tmp_path) -> None:
    events = nmnist_events(6)
    events["t"] = [10, 20, 30, 5, 15, 25]  # the marker's own t is ignored
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


def test_first_event_that_looks_like_a_percent_sign_is_data(tmp_path) -> None:
    # x = 37, y = 32 spell "% ", the start of a Prophesee header: only a text line is one
    events = nmnist_events(20)
    events["x"][0], events["y"][0] = 37, 32
    path = tmp_path / "pct.bin"
    path.write_bytes(bin_bytes(events))
    np.testing.assert_array_equal(read_events(path), events)
