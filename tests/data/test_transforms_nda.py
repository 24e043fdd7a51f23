"""Frame-level neuromorphic data augmentation (NDA) on [T, C, H, W] tensors."""

from __future__ import annotations

import pytest
import torch

from spikestack.data.transforms import NDA, Cutout, Roll, Rotate, Shear, rotate, shear


def frames(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(4, 2, 12, 12, generator=g) < 0.3).float()


def test_rotate_90_is_rot90_and_zero_is_identity() -> None:
    x = frames()
    torch.testing.assert_close(rotate(x, 90.0), torch.rot90(x, -1, dims=(2, 3)))
    torch.testing.assert_close(rotate(x, 0.0), x)
    torch.testing.assert_close(Rotate(max_degrees=0.0)(x), x)


def test_shear_moves_rows_by_factor_times_offset() -> None:
    x = torch.zeros(1, 1, 8, 8)
    x[0, 0, :, 4] = 1  # a vertical line at column 4
    out = shear(x, 0.5)
    # output(x, y) = input(x + 0.5 y) with y from the centre (row 3.5): rows 0 and 7 shift
    # the line by about +1.75 and -1.75 columns; the total count is kept with nearest sampling
    cols = out[0, 0].argmax(dim=1)
    assert cols[0] > 4 and cols[7] < 4
    assert out.sum() == 8
    torch.testing.assert_close(shear(x, 0.0), x)


def test_roll_and_cutout_values() -> None:
    x = frames()
    g = torch.Generator().manual_seed(7)
    out = Roll(max_shift=3)(x, generator=g)
    g = torch.Generator().manual_seed(7)
    dx, dy = torch.randint(-3, 4, (2,), generator=g).tolist()
    torch.testing.assert_close(out, torch.roll(x, shifts=(dy, dx), dims=(2, 3)))
    ones = torch.ones(3, 2, 12, 12)
    cut = Cutout(size_ratio=0.25)(ones, generator=torch.Generator().manual_seed(1))
    zeros_per_frame = (cut == 0).sum(dim=(1, 2, 3))
    assert torch.all(zeros_per_frame == zeros_per_frame[0])  # the same box at every step
    assert 0 < zeros_per_frame[0] <= 2 * 3 * 3
    assert torch.equal(ones, torch.ones(3, 2, 12, 12))  # input untouched


@pytest.mark.parametrize(
    "op", [Roll(), Rotate(), Shear(), Cutout(), NDA(), NDA(num_ops=2)], ids=repr
)
def test_seeded_determinism_and_no_mutation(op) -> None:
    x = frames(3)
    before = x.clone()
    a = op(x, generator=torch.Generator().manual_seed(11))
    b = op(x, generator=torch.Generator().manual_seed(11))
    assert a.shape == x.shape
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(x, before)


def test_bad_input_and_parameters() -> None:
    with pytest.raises(ValueError, match=r"\[T, C, H, W\]"):
        Roll()(torch.zeros(3, 4, 4))
    with pytest.raises(ValueError, match="num_ops"):
        NDA(num_ops=5)
    with pytest.raises(ValueError, match="size_ratio"):
        Cutout(size_ratio=0.0)
