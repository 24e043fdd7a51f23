"""Side by side with Tonic 1.7: the transforms that give Tonic's output, and the rows of the
"differences from Tonic" table in docs/data.md, each pinned by a hand example of our side
(the Tonic half of each test runs where Tonic is installed: the peers extra)."""

from __future__ import annotations

import numpy as np
import pytest

import spikestack.data.transforms as T
from spikestack.data.events import EVENT_DTYPE

SENSOR = (16, 12, 2)


def recording(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The same events in spikestack's layout and in Tonic's (x, y, t, p)."""
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, dtype=EVENT_DTYPE)
    ev["t"] = np.sort(rng.integers(0, 100_000, n))
    ev["x"], ev["y"], ev["p"] = (
        rng.integers(0, 16, n),
        rng.integers(0, 12, n),
        rng.integers(0, 2, n),
    )
    tonic_ev = np.zeros(
        n, dtype=[("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", np.int8)]
    )
    for field in ("x", "y", "t", "p"):
        tonic_ev[field] = ev[field]
    return ev, tonic_ev


def same_events(ours: np.ndarray, theirs: np.ndarray) -> bool:
    return len(ours) == len(theirs) and all(np.array_equal(ours[f], theirs[f]) for f in "txyp")


def test_transforms_that_give_tonics_output() -> None:
    tt = pytest.importorskip("tonic.transforms", reason="needs Tonic (the peers extra)")
    ev, tev = recording()
    assert same_events(T.CropTime(20_000, 60_000)(ev), tt.CropTime(20_000, 60_000)(tev))
    assert same_events(T.TimeAlignment()(ev), tt.TimeAlignment()(tev))
    assert same_events(T.Decimation(3)(ev), tt.Decimation(3)(tev))
    assert np.array_equal(T.ToImage(SENSOR)(ev), tt.ToImage(SENSOR)(tev))
    fields = ("x", "y", "t", "p")
    assert np.array_equal(T.NumpyAsType(np.int64, fields=fields)(ev), tt.NumpyAsType(np.int64)(tev))
    ours = T.ToAveragedTimeSurface(SENSOR, cell_size=4, surface_size=1, time_window=5000, tau=2000)(
        ev
    )
    # Tonic's surface_size is the side (3), ours the radius (1)
    theirs = tt.ToAveragedTimesurface(sensor_size=SENSOR, cell_size=4, surface_size=3,
                                      time_window=5000, tau=2000)(tev)  # fmt: skip
    np.testing.assert_allclose(ours, np.asarray(theirs), atol=1e-6)
    assert tt.ToOneHotEncoding(4)(2).tolist() == T.ToOneHot(4)(2).tolist()


def test_difference_to_frame_by_time_bins_keeps_the_last_event() -> None:
    """Row 1: ``ToFrame(n_time_bins)`` covers [t_first, t_last] (span + 1 µs), so the event
    at the last timestamp is counted; Tonic's windows end at t_last, open, and drop it."""
    ev = np.zeros(2, dtype=EVENT_DTYPE)
    ev["t"], ev["x"], ev["p"] = [0, 10], [0, 1], 1
    ours = T.ToFrame((2, 1, 2), n_time_bins=2)(ev)
    assert ours[:, 1, 0].tolist() == [[1.0, 0.0], [0.0, 1.0]]  # both events counted
    tt = pytest.importorskip("tonic.transforms", reason="needs Tonic (the peers extra)")
    tev = np.zeros(2, dtype=[("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", np.int8)])
    tev["t"], tev["x"], tev["p"] = [0, 10], [0, 1], 1
    assert tt.ToFrame(sensor_size=(2, 1, 2), n_time_bins=2)(tev)[:, 1, 0].tolist() == [
        [1, 0],
        [0, 0],
    ]


def test_difference_time_reversal_keeps_the_start_time() -> None:
    """Row 2: ``RandomTimeReversal`` maps t to t_first + t_last - t (the reversed recording
    keeps its time span); Tonic's to t_last - t (it starts at 0). Order, x, y and the flipped
    polarities agree."""
    ev = np.zeros(3, dtype=EVENT_DTYPE)
    ev["t"], ev["x"], ev["p"] = [100, 130, 200], [0, 1, 2], [1, 0, 1]
    out = T.RandomTimeReversal(p=1.0)(ev, rng=np.random.default_rng(0))
    assert out["t"].tolist() == [100, 170, 200] and out["x"].tolist() == [2, 1, 0]
    assert out["p"].tolist() == [0, 1, 0]
    tt = pytest.importorskip("tonic.transforms", reason="needs Tonic (the peers extra)")
    big, tbig = recording()
    ours, theirs = (
        T.RandomTimeReversal(p=1.0)(big, rng=np.random.default_rng(0)),
        tt.RandomTimeReversal(p=1.0)(tbig),
    )
    assert np.array_equal(ours["t"] - big["t"].min(), theirs["t"])
    assert all(np.array_equal(ours[f], theirs[f]) for f in "xyp")


def test_difference_bina_rep_follows_to_frame() -> None:
    """Row 3: ``ToBinaRep`` bins with ``ToFrame(n_time_bins)``, so the last event counts
    (row 1); on frames that agree it gives Tonic's values."""
    tt = pytest.importorskip("tonic.transforms", reason="needs Tonic (the peers extra)")
    ev, _ = recording()
    frames = T.ToFrame(SENSOR, n_time_bins=8)(ev)
    theirs = np.asarray(tt.ToBinaRep(n_frames=2, n_bits=4)(frames))  # Tonic's on our frames
    np.testing.assert_allclose(T.ToBinaRep(SENSOR, n_frames=2, n_bits=4)(ev), theirs, atol=1e-6)


def _pair(rows):
    """(ours, Tonic's) event arrays from (t, x, y, p) rows."""
    ev = np.zeros(len(rows), dtype=EVENT_DTYPE)
    tev = np.zeros(
        len(rows), dtype=[("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", np.int8)]
    )
    for i, (t, x, y, p) in enumerate(rows):
        ev[i], tev[i] = (t, x, y, p), (x, y, t, p)
    return ev, tev


def _tonic():
    return pytest.importorskip("tonic.transforms", reason="needs Tonic (the peers extra)")


def test_difference_denoise_needs_an_earlier_neighbour() -> None:
    """Row 4: ``Denoise`` keeps an event when one of the 8 neighbouring pixels (not its own)
    had an event at most filter_time before; Tonic also counts the pixel itself and keeps
    every event of the first filter_time µs (its memory starts at t = 0)."""
    same, t_same = _pair([(0, 1, 1, 1), (10, 1, 1, 1)])
    assert len(T.Denoise((4, 4, 2), filter_time=50)(same)) == 0
    assert _tonic().Denoise(filter_time=50)(t_same)["t"].tolist() == [0, 10]


def test_difference_refractory_counts_from_the_last_kept_event() -> None:
    """Row 5: ``RefractoryPeriod`` drops an event less than the period after the last *kept*
    one at its pixel; the first event always stays. Tonic measures from the last event,
    kept or not, and drops everything in the first period (its memory starts at 0)."""
    ev, tev = _pair([(0, 1, 1, 1), (10, 1, 1, 1), (25, 1, 1, 1)])
    assert T.RefractoryPeriod((4, 4, 2), refractory_period=20)(ev)["t"].tolist() == [0, 25]
    assert _tonic().RefractoryPeriod(delta=20)(tev)["t"].tolist() == []


def test_difference_time_surface_and_voxel_grid_keep_the_last_timestamp() -> None:
    """Rows 6 and 7: ``ToTimeSurface`` samples ceil((t_last - t_0 + 1) / dt) surfaces, so the
    last event is in one (Tonic: (t_last - t_0) / dt); ``ToVoxelGrid`` puts the last event in
    the last bin and returns ``[T, H, W]`` (Tonic's last bin loses it, ``[T, 1, H, W]``)."""
    ev, tev = _pair([(0, 1, 1, 1), (10, 2, 1, 1)])
    assert T.ToTimeSurface((4, 4, 2), dt=5, tau=10)(ev).shape == (3, 2, 4, 4)
    voxels = T.ToVoxelGrid((4, 4, 2), n_time_bins=3)(ev)
    assert voxels.shape == (3, 4, 4) and voxels[2, 1, 2] == 1.0
    tt = _tonic()
    assert np.asarray(tt.ToTimesurface(sensor_size=(4, 4, 2), dt=5, tau=10)(tev)).shape == (
        2,
        2,
        4,
        4,
    )
    theirs = np.asarray(tt.ToVoxelGrid(sensor_size=(4, 4, 2), n_time_bins=3)(tev))
    assert theirs.shape == (3, 1, 4, 4) and theirs[2].sum() == 0


def test_difference_time_skew_rounds() -> None:
    """Row 8: ``TimeSkew`` rounds t' = coefficient t + offset to the nearest µs (ties to
    even); Tonic truncates."""
    ev, tev = _pair([(1, 1, 1, 1), (3, 2, 1, 1), (7, 2, 1, 1)])
    assert T.TimeSkew(coefficient=1.0, offset=0.7)(ev)["t"].tolist() == [2, 4, 8]
    assert _tonic().TimeSkew(coefficient=1.0, offset=0.7)(tev)["t"].tolist() == [1, 3, 7]
