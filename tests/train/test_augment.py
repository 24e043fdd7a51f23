"""--augment: the batch augmentations, the auto choice per data, and where the engine applies them."""

from __future__ import annotations

import pytest
import torch

from spikestack.train.augment import (
    _shift,
    affine,
    event_drop,
    make_augment,
    nda,
    random_affine,
    random_flip,
    random_shift,
)
from spikestack.train.recipes import DataBundle
from spikestack.train.run import train_augment


def _frames(b: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 4, (b, 5, 2, 20, 20), generator=g).float()  # event counts


def test_flip_is_reproducible_and_flips_whole_samples() -> None:
    x = _frames()
    a = random_flip(x, torch.Generator().manual_seed(3))
    b = random_flip(x, torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b)
    flipped = [not torch.equal(a[i], x[i]) for i in range(len(x))]
    assert 0 < sum(flipped) < len(x)
    for i, f in enumerate(flipped):
        torch.testing.assert_close(a[i], x[i].flip(-1) if f else x[i])


def test_nda_keeps_counts_whole_and_the_input_untouched() -> None:
    x = _frames(64)
    before = x.clone()
    out = nda(x, torch.Generator().manual_seed(1))
    torch.testing.assert_close(x, before)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.equal(out, out.round())  # nearest-neighbour resampling: whole event counts
    assert out.sum() <= x.sum() * 1.2  # no mass created beyond rounding of rotations
    changed = sum(not torch.equal(out[i], x[i]) for i in range(len(x)))
    assert changed >= 56  # nearly every sample gets one of the five policies
    # the same augmentation for every step of a sample: motion stays coherent
    single = nda(x[:1, :1].expand(1, 5, 2, 20, 20).clone(), torch.Generator().manual_seed(2))
    assert all(torch.equal(single[0, 0], single[0, t]) for t in range(5))
    torch.testing.assert_close(nda(x, torch.Generator().manual_seed(1)), out)


def test_shift_pads_with_zeros_and_keeps_per_sample_steps_together() -> None:
    x = torch.ones(8, 3, 1, 6, 6)
    out = random_shift(x, torch.Generator().manual_seed(0), max_shift=2)
    for i in range(8):
        assert all(torch.equal(out[i, 0], out[i, t]) for t in range(3))
    assert out.sum() <= x.sum()


def test_affine_without_rotation_or_scale_is_the_shift() -> None:
    """With no rotation and no scaling, the affine resampling moves every count by the
    drawn whole-pixel shift, as ``_shift`` does (the same generator draws)."""
    x = _frames(6)
    out = random_affine(
        x, torch.Generator().manual_seed(4), max_degrees=0, max_scale=0, max_shift=3
    )
    g = torch.Generator().manual_seed(4)
    torch.rand(6, 2, generator=g)  # the rotation and scale draws
    shifts = torch.randint(-3, 4, (6, 2), generator=g)
    assert torch.equal(out, _shift(x, shifts.tolist()))


def test_affine_keeps_counts_whole_steps_together_and_is_reproducible() -> None:
    x = _frames(32)
    before = x.clone()
    out = random_affine(x, torch.Generator().manual_seed(1))
    torch.testing.assert_close(x, before)
    assert out.shape == x.shape and torch.equal(out, out.round())
    assert sum(not torch.equal(out[i], x[i]) for i in range(32)) >= 30
    single = random_affine(
        x[:1, :1].expand(1, 5, 2, 20, 20).clone(), torch.Generator().manual_seed(2)
    )
    assert all(torch.equal(single[0, 0], single[0, t]) for t in range(5))
    torch.testing.assert_close(random_affine(x, torch.Generator().manual_seed(1)), out)


def test_affine_turns_and_scales_about_the_centre() -> None:
    square = torch.arange(16.0).reshape(1, 1, 1, 4, 4)
    one, none = torch.ones(1), torch.zeros(1, 2, dtype=torch.long)
    turned = affine(square, torch.tensor([90.0]), one, none)
    assert torch.equal(turned, square.rot90(1, (-2, -1))) or torch.equal(
        turned, square.rot90(-1, (-2, -1))
    )
    assert torch.equal(affine(turned, torch.tensor([-90.0]), one, none), square)
    assert torch.equal(affine(square, torch.tensor([180.0]), one, none), square.flip(-1, -2))
    grown = affine(square, torch.zeros(1), torch.tensor([2.0]), none)
    centre = torch.tensor([1, 1, 2, 2])  # output pixels 0..3 sit over input 0.75 .. 2.25
    assert torch.equal(grown, square[..., centre, :][..., centre])


def test_event_drop_thins_counts_binomially() -> None:
    x = _frames(64) * 3
    out = event_drop(x, torch.Generator().manual_seed(0), keep=0.8)
    assert torch.equal(out, out.round()) and (out <= x).all() and (out >= 0).all()
    assert abs(float(out.sum() / x.sum()) - 0.8) < 0.01
    assert torch.equal(event_drop(x, torch.Generator(), keep=1.0), x)
    assert event_drop(x, torch.Generator(), keep=0.0).sum() == 0
    for bad in (x + 0.5, -x):
        with pytest.raises(ValueError, match="whole, non-negative"):
            event_drop(bad, torch.Generator())


def test_make_augment_names() -> None:
    assert make_augment("none") is None
    for name in ("shift", "flip", "shift+flip", "nda", "affine", "drop"):
        assert make_augment(name)(_frames(4), torch.Generator()).shape == (4, 5, 2, 20, 20)
    with pytest.raises(ValueError, match="augment must be one of"):
        make_augment("mixup")


def _bundle(layout: str, shape: tuple[int, ...]) -> DataBundle:
    return DataBundle(None, None, None, num_classes=2, input_shape=shape, layout=layout)


def test_auto_is_shift_for_event_frames_only() -> None:
    assert train_augment("auto", _bundle("sequence", (2, 34, 34))) is not None
    assert train_augment("auto", _bundle("static", (1, 8, 8))) is None  # digits stay as they were
    assert train_augment("auto", _bundle("sequence", (1, 1, 700))) is None  # SHD: channels
    assert train_augment("none", _bundle("sequence", (2, 34, 34))) is None
    assert train_augment("flip", _bundle("static", (1, 8, 8))) is not None
    with pytest.raises(ValueError, match="needs images or frames of at least 8x8"):
        train_augment("shift", _bundle("sequence", (1, 1, 700)))


def test_engine_augments_training_batches_only(tmp_path) -> None:
    from torch import nn

    from spikestack.train.engine import Engine
    from spikestack.train.losses import create_loss

    calls: list[int] = []

    def spy(x: torch.Tensor, g: torch.Generator | None) -> torch.Tensor:
        calls.append(x.shape[0])
        return x

    model = nn.Sequential(nn.Flatten(1), nn.Linear(4, 2))
    engine = Engine(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        loss=create_loss("ce"),
        train_augment=spy,
        progress=False,
    )
    data = [(torch.rand(3, 4), torch.tensor([0, 1, 0])) for _ in range(2)]
    engine.train_epoch(data)
    assert calls == [3, 3]
    engine.evaluate(data)
    assert calls == [3, 3]
