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


def test_event_downsampling_by_hand() -> None:
    """Integrator: 4x4 -> 2x2, 1 ms windows from the first event; ON minus OFF per target
    pixel, an event where the sum reaches +-threshold, then back to zero. Differentiator:
    the integrator on 0.5 ms windows, output counted per 1 ms frame, an event where a frame
    holds more than the one before, stamped with the earlier frame's start."""
    ev = np.zeros(7, dtype=EVENT_DTYPE)
    ev["t"] = [100, 300, 600, 1200, 1500, 2300, 2900]
    ev["x"] = [0, 1, 3, 0, 1, 2, 2]  # target x: 0, 0, 1, 0, 0, 1, 1
    ev["y"] = [0, 1, 0, 0, 0, 3, 3]  # target y: 0, 0, 0, 0, 0, 1, 1
    ev["p"] = [1, 1, 0, 1, 0, 1, 1]
    integrate = T.EventDownsampling((4, 4, 2), (2, 2), time_window=1000)
    got = integrate(ev)
    # window [100, 1100): (0,0) +2 -> ON, (1,0) -1 -> OFF; [1100, 2100): (0,0) +1 -1 = 0;
    # [2100, 3100): (1,1) +2 -> ON
    assert [tuple(int(v) for v in e) for e in got[["t", "x", "y", "p"]]] == [
        (100, 0, 0, 1), (100, 1, 0, 0), (2100, 1, 1, 1),
    ]  # fmt: skip
    twice = T.EventDownsampling((4, 4, 2), (2, 2), time_window=1000, noise_threshold=2)
    assert [(int(e["t"]), int(e["x"]), int(e["y"])) for e in twice(ev)] == [
        (100, 0, 0),
        (2100, 1, 1),
    ]
    # differentiator: 500 µs windows from 100: ON (0,0) at 100; OFF (1,0) at 600; ON (0,0) at
    # 1100; OFF (0,0) at 1100... counted per 1000 µs frame from 100
    diff = T.EventDownsampling((4, 4, 2), (2, 2), time_window=1000, method="differentiator")
    inner = T.EventDownsampling((4, 4, 2), (2, 2), time_window=500)(ev)
    frames = {}
    for e in inner:
        key = ((int(e["t"]) - 100) // 1000, int(e["x"]), int(e["y"]), int(e["p"]))
        frames[key] = frames.get(key, 0) + 1
    last = max(k[0] for k in frames)
    want = sorted(
        (100 + k * 1000, x, y, p)
        for k in range(last)
        for (x, y, p) in {key[1:] for key in frames}
        if frames.get((k + 1, x, y, p), 0) > frames.get((k, x, y, p), 0)
    )
    got = diff(ev)
    assert sorted((int(e["t"]), int(e["x"]), int(e["y"]), int(e["p"])) for e in got) == want
    assert len(want) > 0


def test_event_downsampling_gives_tonics_events_on_full_windows() -> None:
    """Tonic's integrator and differentiator, on a recording that starts at 0 and whose
    last partial window is left out (Tonic drops it), for thresholds 1-4 and three sizes."""
    tf = pytest.importorskip("tonic.functional", reason="needs Tonic (the peers extra)")
    ev, tev = recording(3000, seed=3)
    ev["t"] -= ev["t"][0]
    tev["t"] -= tev["t"][0]
    compared = 0
    for method, window in (("integrator", 2000), ("differentiator", 1000)):
        full = ev[ev["t"] < (int(ev["t"][-1]) // window) * window]
        for threshold in (1, 2, 4):
            for target in ((8, 6), (5, 7), (16, 12)):
                ours = T.EventDownsampling(SENSOR, target, 2000, method, threshold)(full)
                if method == "integrator":
                    theirs = tf.integrator_downsample(
                        tev, sensor_size=SENSOR, target_size=target, dt=2.0,
                        noise_threshold=threshold,
                    )  # fmt: skip
                else:
                    theirs = tf.differentiator_downsample(
                        tev, sensor_size=SENSOR, target_size=target, dt=2.0,
                        noise_threshold=threshold, differentiator_time_bins=2,
                    )  # fmt: skip
                assert len(ours) > 0 and same_events(ours, theirs), (method, threshold, target)
                compared += 1
    assert compared == 18


def test_difference_event_downsampling_counts_the_last_window() -> None:
    """Row 9: the last, partial window counts, and stamps keep the recording's time."""
    ev = np.zeros(4, dtype=EVENT_DTYPE)
    ev["t"], ev["p"] = [0, 1000, 2000, 2500], 1
    got = T.EventDownsampling((4, 4, 2), (2, 2), time_window=1000)(ev)
    assert got["t"].tolist() == [0, 1000, 2000] and got["p"].tolist() == [1, 1, 1]
    later = ev.copy()
    later["t"] += 5_000
    assert T.EventDownsampling((4, 4, 2), (2, 2), time_window=1000)(later)["t"].tolist() == [
        5000, 6000, 7000,
    ]  # fmt: skip
    tf = pytest.importorskip("tonic.functional", reason="needs Tonic (the peers extra)")
    tev = np.zeros(4, dtype=[("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", np.int8)])
    tev["t"], tev["p"] = ev["t"], 1
    theirs = tf.integrator_downsample(
        tev, sensor_size=(4, 4, 2), target_size=(2, 2), dt=1.0, noise_threshold=1
    )
    assert theirs["t"].tolist() == [0, 1000]


def test_event_downsampling_bad_parameters() -> None:
    with pytest.raises(ValueError, match="target_size must be"):
        T.EventDownsampling((4, 4, 2), (5, 2), time_window=10)
    with pytest.raises(ValueError, match="noise_threshold must be an integer >= 1"):
        T.EventDownsampling((4, 4, 2), (2, 2), time_window=10, noise_threshold=0)
    with pytest.raises(ValueError, match="method must be one of"):
        T.EventDownsampling((4, 4, 2), (2, 2), time_window=10, method="naive")
    with pytest.raises(ValueError, match="time_window"):
        T.EventDownsampling((4, 4, 2), (2, 2), time_window=0)
    empty = np.zeros(0, dtype=EVENT_DTYPE)
    assert len(T.EventDownsampling((4, 4, 2), (2, 2), time_window=10)(empty)) == 0
