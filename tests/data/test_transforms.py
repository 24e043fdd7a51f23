"""Event transforms: values against hand computations, no mutation, seeded determinism."""

from __future__ import annotations

import numpy as np
import pytest

import spikestack.data.transforms as T
from spikestack.data import make_events

SENSOR = (10, 10, 2)


def ramp() -> np.ndarray:
    """Ten events at t = 0, 10, ..., 90 µs on a 4 x 1 sensor, x = i % 4, p = i % 2."""
    i = np.arange(10)
    return make_events(i * 10, i % 4, np.zeros(10), i % 2)


def cloud(n: int = 400, seed: int = 0) -> np.ndarray:
    g = np.random.default_rng(seed)
    return make_events(
        np.sort(g.integers(0, 10_000, n)),
        g.integers(0, 10, n),
        g.integers(0, 10, n),
        g.integers(0, 2, n),
    )


def counts(frames: np.ndarray) -> list[int]:
    return frames.sum(axis=(1, 2, 3)).astype(int).tolist()


def test_to_frame_time_bins_by_hand() -> None:
    frames = T.ToFrame((4, 1, 2), n_time_bins=2)(ramp())
    assert frames.shape == (2, 2, 1, 4) and frames.dtype == np.float32
    # bin 0 holds i = 0..4: (x, p) = (0,0) (1,1) (2,0) (3,1) (0,0)
    np.testing.assert_array_equal(frames[0, 0, 0], [2, 0, 1, 0])
    np.testing.assert_array_equal(frames[0, 1, 0], [0, 1, 0, 1])
    # bin 1 holds i = 5..9: (1,1) (2,0) (3,1) (0,0) (1,1)
    np.testing.assert_array_equal(frames[1, 0, 0], [1, 0, 1, 0])
    np.testing.assert_array_equal(frames[1, 1, 0], [0, 2, 0, 1])


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"time_window": 30}, [3, 3, 3]),  # span 91 µs: [0,30) [30,60) [60,90)
        ({"time_window": 30, "include_incomplete": True}, [3, 3, 3, 1]),
        ({"time_window": 40, "overlap": 20}, [4, 4, 4]),  # [0,40) [20,60) [40,80)
        ({"event_count": 4, "overlap": 2}, [4, 4, 4, 4]),
        ({"event_count": 3}, [3, 3, 3]),
        ({"event_count": 3, "include_incomplete": True}, [3, 3, 3, 1]),
        ({"n_event_bins": 3}, [3, 3, 4]),  # boundaries floor(0, 3.33, 6.67, 10)
        ({"n_time_bins": 3, "overlap": 0.5}, [5, 4, 5]),  # L = 45.5, stride 22.75
        ({"n_time_bins": 1}, [10]),
    ],
)
def test_to_frame_slicing_modes(kwargs: dict, expected: list[int]) -> None:
    assert counts(T.ToFrame((4, 1, 2), **kwargs)(ramp())) == expected


def test_to_frame_single_polarity_and_empty() -> None:
    frames = T.ToFrame((4, 1, 1), n_time_bins=1)(ramp())
    np.testing.assert_array_equal(frames[0, 0, 0], [3, 3, 2, 2])
    empty = make_events(np.zeros(0), np.zeros(0), np.zeros(0))
    assert T.ToFrame(SENSOR, n_time_bins=4)(empty).shape == (4, 2, 10, 10)
    # never zero frames: an empty recording gives one frame of zeros
    assert T.ToFrame(SENSOR, time_window=100)(empty).shape == (1, 2, 10, 10)
    assert T.ToFrame(SENSOR, event_count=5)(empty).sum() == 0


def test_to_frame_short_recordings_and_a_fixed_span() -> None:
    events = make_events(np.array([0, 10, 20]), np.zeros(3), np.zeros(3), p=np.ones(3))
    sensor = (2, 2, 2)
    for kwargs in ({"time_window": 100}, {"event_count": 5}):  # shorter than one window
        frames = T.ToFrame(sensor, **kwargs)(events)
        assert frames.shape == (1, 2, 2, 2) and frames.sum() == 3  # one partial frame
    spanned = T.ToFrame(sensor, time_window=10, start_time=0, end_time=40)(events)
    assert spanned.sum(axis=(1, 2, 3)).tolist() == [1.0, 1.0, 1.0, 0.0]  # 4 windows, the last empty
    bins = T.ToFrame(sensor, n_time_bins=2, start_time=-20, end_time=20)(events)
    assert bins.sum(axis=(1, 2, 3)).tolist() == [0.0, 2.0]  # [-20, 0), [0, 20): t = 20 is out
    with pytest.raises(ValueError, match="end_time 5 must be after start_time 10"):
        T.ToFrame(sensor, n_time_bins=2, start_time=10, end_time=5)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"n_time_bins": 2, "event_count": 3},
        {"n_time_bins": 0},
        {"n_time_bins": 2, "overlap": 1.0},
        {"time_window": 10, "overlap": 10},
    ],
)
def test_to_frame_bad_parameters(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        T.ToFrame(SENSOR, **kwargs)


def test_bad_sensor_and_out_of_range_events() -> None:
    with pytest.raises(ValueError, match="sensor_size"):
        T.ToFrame((10, 10), n_time_bins=2)
    with pytest.raises(ValueError, match="width is 3"):
        T.ToFrame((3, 1, 2), n_time_bins=2)(ramp())
    with pytest.raises(TypeError, match="structured"):
        T.ToFrame(SENSOR, n_time_bins=2)(np.zeros(3))


def test_voxel_grid_by_hand() -> None:
    ev = make_events([0, 25, 50, 100], [0, 3, 1, 2], [0, 0, 0, 0], [1, 1, 0, 1])
    grid = T.ToVoxelGrid((4, 1, 2), n_time_bins=3)(ev)
    # t* = 2 t / 100 = 0, 0.5, 1, 2
    expected = np.zeros((3, 1, 4), dtype=np.float32)
    expected[0, 0, 0] = 1
    expected[0, 0, 3] = expected[1, 0, 3] = 0.5
    expected[1, 0, 1] = -1
    expected[2, 0, 2] = 1
    np.testing.assert_allclose(grid, expected)


def test_time_surface_by_hand() -> None:
    ev = make_events([0, 150], [0, 1], [0, 0], [1, 0])
    surf = T.ToTimeSurface((2, 1, 2), dt=100, tau=100)(ev)
    assert surf.shape == (2, 2, 1, 2)  # samples at t = 100 and 200
    np.testing.assert_allclose(surf[0, :, 0], [[0, 0], [np.exp(-1), 0]], rtol=1e-6)
    np.testing.assert_allclose(surf[1, :, 0], [[0, np.exp(-0.5)], [np.exp(-2), 0]], rtol=1e-6)


def test_denoise_removes_isolated_events() -> None:
    ev = make_events(
        [0, 10, 20, 30, 40, 500], [5, 5, 6, 1, 1, 5], [5, 6, 5, 1, 1, 5], [1, 0, 1, 1, 1, 0]
    )
    out = T.Denoise(SENSOR, filter_time=100)(ev)
    # kept: (5,6) and (6,5), supported by (5,5) 10 and 20 µs earlier. Dropped: the first
    # event (no earlier support), the isolated (1,1) and its same-pixel repeat, and the
    # late (5,5), whose neighbours fired 480 µs before.
    np.testing.assert_array_equal(out["t"], [10, 20])


def test_refractory_period_by_hand() -> None:
    ev = make_events([0, 5, 6, 10, 20], [0, 0, 1, 0, 0], [0, 0, 0, 0, 0])
    out = T.RefractoryPeriod(SENSOR, refractory_period=10)(ev)
    np.testing.assert_array_equal(out["t"], [0, 6, 10, 20])


def test_drop_event_and_pixel() -> None:
    ev = cloud()
    assert len(T.DropEvent(p=0.0)(ev)) == len(ev)
    assert len(T.DropEvent(p=1.0)(ev)) == 0
    kept = len(T.DropEvent(p=0.25)(ev, rng=np.random.default_rng(1)))
    assert 240 < kept < 360
    out = T.DropPixel(coordinates=[(3, 4)])(ev)
    assert len(out) == len(ev) - np.sum((ev["x"] == 3) & (ev["y"] == 4))
    assert not np.any((out["x"] == 3) & (out["y"] == 4))
    hot = np.concatenate(
        [ev, make_events(np.arange(0, 10_000, 10), np.full(1000, 9), np.full(1000, 9))]
    )
    hot = hot[np.argsort(hot["t"], kind="stable")]
    # pixel (9, 9) fires 1000+ events in 10 ms (~100 kHz); the others ~4 events (~400 Hz)
    out = T.DropPixel(hot_pixel_frequency=5_000)(hot)
    assert not np.any((out["x"] == 9) & (out["y"] == 9))
    assert len(out) == len(hot) - np.sum((hot["x"] == 9) & (hot["y"] == 9))


def test_drop_by_time_and_area() -> None:
    ev = make_events(np.arange(1001) * 10, np.zeros(1001), np.zeros(1001))
    out = T.DropByTime(duration_ratio=0.2)(ev, rng=np.random.default_rng(3))
    dropped = np.setdiff1d(ev["t"], out["t"])
    assert 199 <= len(dropped) <= 201
    assert dropped.max() - dropped.min() <= 2000
    ev = cloud()
    out = T.DropByArea(SENSOR, area_ratio=0.3)(ev, rng=np.random.default_rng(4))
    gone = ev[~np.isin(np.arange(len(ev)), np.flatnonzero(np.isin(ev, out)))]
    assert len(gone) > 0
    assert np.ptp(gone["x"]) < 3 and np.ptp(gone["y"]) < 3


def test_flips() -> None:
    ev = cloud()
    out = T.RandomFlipLR(SENSOR, p=1.0)(ev)
    np.testing.assert_array_equal(out["x"], 9 - ev["x"])
    np.testing.assert_array_equal(out["y"], ev["y"])
    np.testing.assert_array_equal(T.RandomFlipUD(SENSOR, p=1.0)(ev)["y"], 9 - ev["y"])
    np.testing.assert_array_equal(T.RandomFlipLR(SENSOR, p=0.0)(ev), ev)
    np.testing.assert_array_equal(T.RandomFlipPolarity(p=1.0)(ev)["p"], 1 - ev["p"])
    signed = ev.copy()
    signed["p"] = 2 * ev["p"] - 1
    np.testing.assert_array_equal(T.RandomFlipPolarity(p=1.0)(signed)["p"], -signed["p"])
    with pytest.raises(ValueError, match="p must be in"):
        T.RandomFlipLR(SENSOR, p=1.5)


def test_downsample_crop_and_merge() -> None:
    ev = make_events(
        [1000, 2500, 3999, 4000, 7001], [0, 1, 2, 3, 5], [9, 8, 4, 3, 6], [1, 0, 1, 0, 1]
    )
    out = T.Downsample(spatial_factor=0.5, time_factor=1e-3)(ev)
    np.testing.assert_array_equal(out["x"], [0, 0, 1, 1, 2])
    np.testing.assert_array_equal(out["y"], [4, 4, 2, 1, 3])
    np.testing.assert_array_equal(out["t"], [1, 2, 3, 4, 7])
    crop = T.CenterCrop(SENSOR, size=(4, 4))(ev)  # box x, y in 3..6
    np.testing.assert_array_equal(crop["t"], [4000, 7001])  # (3, 3) and (5, 6)
    np.testing.assert_array_equal(crop["x"], [0, 2])
    np.testing.assert_array_equal(crop["y"], [0, 3])
    assert np.all(T.MergePolarities()(ev)["p"] == 0)
    rc = T.RandomCrop(SENSOR, size=(5, 5))(cloud(), rng=np.random.default_rng(0))
    assert rc["x"].max() < 5 and rc["y"].max() < 5 and len(rc) > 0
    with pytest.raises(ValueError, match="size"):
        T.CenterCrop(SENSOR, size=(11, 4))


def test_jitters_and_skew() -> None:
    ev = cloud()
    np.testing.assert_array_equal(T.SpatialJitter(SENSOR, std_x=0, std_y=0)(ev), ev)
    np.testing.assert_array_equal(T.TimeJitter(std=0)(ev), ev)
    moved = T.SpatialJitter(SENSOR, std_x=1.0, std_y=1.0)(ev, rng=np.random.default_rng(0))
    assert len(moved) < len(ev) and moved["x"].max() <= 9
    jit = T.TimeJitter(std=500)(ev, rng=np.random.default_rng(0))
    assert np.all(np.diff(jit["t"]) >= 0) and jit["t"].min() >= 0
    skew = T.TimeSkew(coefficient=2.0, offset=5)(ev)
    np.testing.assert_array_equal(skew["t"], ev["t"] * 2 + 5)
    with pytest.raises(ValueError, match="coefficient"):
        T.TimeSkew(coefficient=0.0)


def every_transform() -> list:
    return [
        T.ToFrame(SENSOR, n_time_bins=3),
        T.ToFrame(SENSOR, time_window=1000, overlap=200),
        T.ToVoxelGrid(SENSOR, n_time_bins=4),
        T.ToTimeSurface(SENSOR, dt=2000, tau=1000),
        T.Denoise(SENSOR, filter_time=500),
        T.RefractoryPeriod(SENSOR, refractory_period=300),
        T.DropEvent(p=0.3),
        T.DropPixel(coordinates=[(1, 1)]),
        T.DropByTime(duration_ratio=0.3),
        T.DropByArea(SENSOR, area_ratio=0.4),
        T.RandomFlipLR(SENSOR),
        T.RandomFlipUD(SENSOR),
        T.RandomFlipPolarity(),
        T.Downsample(spatial_factor=0.5),
        T.CenterCrop(SENSOR, size=(6, 6)),
        T.RandomCrop(SENSOR, size=(6, 6)),
        T.SpatialJitter(SENSOR),
        T.TimeJitter(std=100),
        T.TimeSkew(coefficient=1.5),
        T.MergePolarities(),
        T.Compose([T.DropEvent(p=0.2), T.RandomFlipLR(SENSOR), T.ToFrame(SENSOR, n_event_bins=2)]),
    ]


@pytest.mark.parametrize("transform", every_transform(), ids=lambda t: type(t).__name__)
def test_no_mutation_and_seeded_determinism(transform) -> None:
    ev = cloud(seed=5)
    before = ev.copy()
    first = transform(ev, rng=np.random.default_rng(123))
    np.testing.assert_array_equal(ev, before)
    second = transform(ev, rng=np.random.default_rng(123))
    np.testing.assert_array_equal(first, second)
    assert first is not ev
    hash(transform)  # frozen dataclasses are hashable values
    assert repr(transform) == repr(eval(repr(transform), vars(T)))  # noqa: S307 - config round trip


@pytest.mark.parametrize("transform", every_transform(), ids=lambda t: type(t).__name__)
def test_empty_input(transform) -> None:
    empty = make_events(np.zeros(0), np.zeros(0), np.zeros(0))
    out = transform(empty, rng=np.random.default_rng(0))
    assert len(out) == 0 or (out.dtype == np.float32 and not out.any())


def test_1d_events_get_a_clear_error_from_2d_transforms() -> None:
    one_d = make_events([0, 5], [1, 2])
    for transform in (
        T.CenterCrop(SENSOR, size=(4, 4)),
        T.SpatialJitter(SENSOR),
        T.RandomFlipUD(SENSOR),
    ):
        with pytest.raises(ValueError, match="2-D events"):
            transform(one_d)
    frames = T.ToFrame((3, 1, 1), n_time_bins=1)(one_d)  # 1-D sensors: H = 1
    np.testing.assert_array_equal(frames[0, 0, 0], [0, 1, 1])


def test_random_transforms_vary_with_seed() -> None:
    ev = cloud()
    outs = {len(T.DropEvent(p=0.5)(ev, rng=np.random.default_rng(s))) for s in range(5)}
    assert len(outs) > 1
