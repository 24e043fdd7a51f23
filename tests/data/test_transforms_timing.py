"""The Tonic transforms spikestack lacked: each against a hand computation, the input never
modified, randomness only from the rng."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikestack.data.events import EVENT_DTYPE, make_events
from spikestack.data.transforms import (
    CropTime,
    Decimation,
    EventDrop,
    NumpyAsType,
    RandomDropPixel,
    RandomTimeReversal,
    Repeat,
    TimeAlignment,
    ToBinaRep,
    ToFrame,
    ToImage,
    ToOneHot,
    ToSparseTensor,
    UniformNoise,
)

SENSOR = (4, 3, 2)


def ev(rows):
    """Events from (t, x, y, p) rows."""
    out = np.zeros(len(rows), dtype=EVENT_DTYPE)
    for i, (t, x, y, p) in enumerate(rows):
        out[i] = (t, x, y, p)
    return out


EVENTS = ev(
    [(10, 0, 0, 1), (20, 1, 0, 0), (30, 0, 0, 1), (40, 0, 0, 0), (55, 3, 2, 1), (60, 0, 0, 1)]
)


def unchanged(transform, **kw):
    before = EVENTS.copy()
    out = transform(EVENTS, **kw)
    assert np.array_equal(EVENTS, before), "the input was modified"
    return out


def test_crop_time_and_alignment() -> None:
    assert unchanged(CropTime(20, 55))["t"].tolist() == [20, 30, 40, 55]  # both ends kept
    assert CropTime(max_time=15)(EVENTS)["t"].tolist() == [10]
    with pytest.raises(ValueError, match="after max_time"):
        CropTime(50, 10)
    aligned = unchanged(TimeAlignment())
    assert aligned["t"].tolist() == [0, 10, 20, 30, 45, 50]
    assert np.array_equal(aligned[["x", "y", "p"]], EVENTS[["x", "y", "p"]])


def test_random_time_reversal() -> None:
    out = unchanged(RandomTimeReversal(p=1.0), rng=np.random.default_rng(0))
    assert out["t"].tolist() == [10, 15, 30, 40, 50, 60]  # 10 + 60 - t, in time order
    assert out["x"].tolist() == [0, 3, 0, 0, 1, 0] and out["p"].tolist() == [0, 0, 1, 0, 1, 0]
    assert np.array_equal(RandomTimeReversal(p=0.0)(EVENTS, rng=np.random.default_rng(0)), EVENTS)
    kept = RandomTimeReversal(p=1.0, flip_polarities=False)(EVENTS, rng=np.random.default_rng(0))
    assert kept["p"].tolist() == [1, 1, 0, 1, 0, 1]


def test_decimation_keeps_every_nth_event_of_each_pixel() -> None:
    # pixel (0,0) has events at 10, 30, 40, 60: the 2nd and 4th stay; others have 1 each
    assert unchanged(Decimation(2))["t"].tolist() == [30, 60]
    assert Decimation(3)(EVENTS)["t"].tolist() == [40]
    assert np.array_equal(Decimation(1)(EVENTS), EVENTS)


def test_uniform_noise_adds_n_events_in_range_and_time_order() -> None:
    out = unchanged(UniformNoise(SENSOR, n=50), rng=np.random.default_rng(1))
    assert len(out) == len(EVENTS) + 50 and np.all(np.diff(out["t"]) >= 0)
    assert out["t"].min() >= 10 and out["t"].max() <= 60
    assert out["x"].max() < 4 and out["y"].max() < 3 and set(out["p"].tolist()) <= {0, 1}
    counts = {
        len(UniformNoise(SENSOR, n=(10, 20))(EVENTS, rng=np.random.default_rng(s))) - 6
        for s in range(20)
    }
    assert min(counts) >= 10 and max(counts) <= 20 and len(counts) > 1  # a range: drawn per call


def test_random_drop_pixel_drops_whole_pixels() -> None:
    rng = np.random.default_rng(3)
    many = make_events(t=np.arange(1200), x=np.tile(np.arange(4), 300), y=np.repeat(np.arange(3), 400) % 3,
                       p=np.ones(1200, dtype=np.int8))  # fmt: skip
    out = RandomDropPixel(SENSOR, p=0.5)(many, rng=rng)
    pixels_in = {(int(x), int(y)) for x, y in zip(many["x"], many["y"], strict=True)}
    pixels_out = {(int(x), int(y)) for x, y in zip(out["x"], out["y"], strict=True)}
    for px in pixels_out:  # a pixel survives whole or not at all
        assert np.sum((out["x"] == px[0]) & (out["y"] == px[1])) == np.sum(
            (many["x"] == px[0]) & (many["y"] == px[1])
        )
    assert 0 < len(pixels_out) < len(pixels_in)
    assert len(RandomDropPixel(SENSOR, p=0.0)(many, rng=rng)) == 1200


def test_event_drop_is_one_of_the_drops_and_reproducible() -> None:
    transform = EventDrop(SENSOR)
    outs = [transform(EVENTS, rng=np.random.default_rng(s)) for s in range(30)]
    assert all(len(o) <= len(EVENTS) for o in outs)
    assert any(len(o) == len(EVENTS) for o in outs) and any(len(o) < len(EVENTS) for o in outs)
    assert np.array_equal(
        transform(EVENTS, rng=np.random.default_rng(7)),
        transform(EVENTS, rng=np.random.default_rng(7)),
    )
    with pytest.raises(ValueError, match="ratio"):
        EventDrop(SENSOR, ratio=(0.5, 1.5))


def test_numpy_as_type() -> None:
    out = unchanged(NumpyAsType(np.int64))
    assert out.shape == (6, 4) and out[0].tolist() == [10, 0, 0, 1]
    assert NumpyAsType(np.float32, fields=("x", "t"))(EVENTS)[1].tolist() == [1.0, 20.0]
    with pytest.raises(ValueError, match="no field"):
        NumpyAsType(fields=("z",))(EVENTS)


def test_to_image_counts_everything() -> None:
    image = unchanged(ToImage(SENSOR))
    assert image.shape == (2, 3, 4) and image.sum() == 6
    assert (
        image[1, 0, 0] == 3 and image[0, 0, 0] == 1 and image[0, 0, 1] == 1 and image[1, 2, 3] == 1
    )


def test_to_bina_rep_reads_binary_frames_as_bits() -> None:
    # one pixel, 4 bins of 10 us over [0, 40): events in bins 0 and 2 -> bits 1010 -> 10/15
    events = ev([(0, 0, 0, 1), (5, 0, 0, 1), (25, 0, 0, 1), (39, 1, 0, 1)])
    rep = ToBinaRep((2, 1, 2), n_frames=1, n_bits=4)(events)
    assert rep.shape == (1, 2, 1, 2)
    assert rep[0, 1, 0, 0] == pytest.approx(10 / 15) and rep[0, 1, 0, 1] == pytest.approx(1 / 15)
    assert rep[0, 0].sum() == 0  # no OFF events
    two = ToBinaRep((2, 1, 2), n_frames=2, n_bits=2)(events)
    assert two[:, 1, 0, 0].tolist() == pytest.approx([2 / 3, 2 / 3])  # bits 10, 10


def test_to_sparse_tensor_is_the_frames() -> None:
    frames = ToFrame(SENSOR, n_time_bins=3)
    sparse = unchanged(ToSparseTensor(frames))
    assert sparse.is_sparse and torch.equal(sparse.to_dense(), torch.from_numpy(frames(EVENTS)))


def test_label_transforms() -> None:
    assert Repeat(3)(4).tolist() == [4, 4, 4]
    assert ToOneHot(4)(2).tolist() == [0.0, 0.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="outside 0..3"):
        ToOneHot(4)(4)


def test_downsample_per_axis_and_to_a_target_size() -> None:
    from spikestack.data.transforms import Downsample

    events = ev([(100, 7, 5, 1), (250, 3, 2, 0)])
    out = Downsample(spatial_factor=(0.5, 0.25))(events)
    assert out["x"].tolist() == [3, 1] and out["y"].tolist() == [1, 0]
    sized = Downsample(sensor_size=(8, 6, 2), target_size=(4, 3), time_factor=0.01)(events)
    assert (
        sized["x"].tolist() == [3, 1]
        and sized["y"].tolist() == [2, 1]
        and sized["t"].tolist() == [1, 2]
    )
    with pytest.raises(ValueError, match="both sensor_size and target_size"):
        Downsample(target_size=(4, 3))
    with pytest.raises(ValueError, match="not both"):
        Downsample(spatial_factor=0.5, sensor_size=(8, 6, 2), target_size=(4, 3))


def test_hats_by_hand() -> None:
    import math

    from spikestack.data.transforms import ToAveragedTimeSurface

    events = ev([(0, 1, 1, 1), (1000, 2, 1, 1), (3000, 1, 1, 1), (500, 5, 5, 0)])
    hats = ToAveragedTimeSurface((8, 8, 2), cell_size=4, surface_size=1, tau=1000.0)(events)
    assert hats.shape == (4, 2, 3, 3)  # 2 x 2 cells
    cell = hats[0, 1]
    # centre: every event itself, plus e0 seen from e2 (3 ms earlier); left: e0 from e1;
    # right: e1 from e2; all over the cell's 3 events
    assert cell[1, 1] == pytest.approx((3 + math.exp(-3)) / 3, rel=1e-6)
    assert cell[1, 0] == pytest.approx(math.exp(-1) / 3, rel=1e-6)
    assert cell[1, 2] == pytest.approx(math.exp(-2) / 3, rel=1e-6)
    assert hats[3, 0, 1, 1] == 1.0 and hats[1].sum() == 0  # the OFF event alone; an empty cell
    short = ToAveragedTimeSurface(
        (8, 8, 2), cell_size=4, surface_size=1, tau=1000.0, time_window=1500
    )
    assert short(events)[0, 1, 1, 2] == 0.0  # e1 is 2 ms before e2: outside the window
