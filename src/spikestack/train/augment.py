"""Training-time augmentation of batches, before the input transform: ``--augment``.

Each function takes a batch ``x [B, ..., H, W]`` (images, or event frames
``[B, T, P, H, W]``: one draw per sample, the same for all its steps, so motion stays
coherent) and the epoch's ``torch.Generator``, and returns a new tensor.

- ``shift``: a random translation of up to ``max_shift`` pixels along H and W, zeros
  filling the uncovered border (event sensors record a scene that may sit anywhere).
- ``flip``: a horizontal flip with probability 1/2 (not for digits or letters).
- ``nda``: Neuromorphic Data Augmentation (Li et al., ECCV 2022): per sample one of
  roll (translation up to 5 px), rotation (up to 15 degrees), cutout (a square of a
  third of the side set to zero), shear (up to 0.3) and horizontal flip, drawn
  uniformly; the geometric ones resample with nearest neighbours, so event counts
  stay whole numbers.
- ``affine``: per sample a rotation of up to 10 degrees, a scaling by 0.9-1.1 about the
  centre and a shift of up to 2 pixels, in one nearest-neighbour resampling.
- ``drop``: event drop, each event of a count frame kept with probability 0.9.

On the N-MNIST samples (four seeds, docs/training.md) ``shift`` gave the best test
accuracy; ``affine``, ``drop`` after ``shift``, and shifts of up to 3 pixels did not help.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

Augment = Callable[[Tensor, "torch.Generator | None"], Tensor]

__all__ = [
    "AUGMENTS",
    "Augment",
    "affine",
    "event_drop",
    "make_augment",
    "nda",
    "random_affine",
    "random_flip",
    "random_shift",
]


def random_shift(
    x: Tensor, generator: torch.Generator | None = None, *, max_shift: int = 1
) -> Tensor:
    """Shift every sample of ``x [B, ..., H, W]`` by a random whole number of pixels in
    [-max_shift, max_shift] along H and W, filling with zeros."""
    shifts = torch.randint(-max_shift, max_shift + 1, (x.shape[0], 2), generator=generator)
    return _shift(x, shifts.tolist())


def _shift(x: Tensor, shifts: list[list[int]]) -> Tensor:
    out = torch.zeros_like(x)
    h, w = x.shape[-2:]
    for i, (dy, dx) in enumerate(shifts):
        if abs(dy) >= h or abs(dx) >= w:
            continue
        src_y, dst_y = slice(max(0, -dy), h - max(0, dy)), slice(max(0, dy), h - max(0, -dy))
        src_x, dst_x = slice(max(0, -dx), w - max(0, dx)), slice(max(0, dx), w - max(0, -dx))
        out[i, ..., dst_y, dst_x] = x[i, ..., src_y, src_x]
    return out


def random_flip(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Flip each sample of ``x [B, ..., H, W]`` left-right with probability 1/2."""
    flip = torch.rand(x.shape[0], generator=generator) < 0.5
    out = x.clone()
    out[flip] = x[flip].flip(-1)
    return out


def _affine(x: Tensor, matrix: Tensor) -> Tensor:
    """Each sample of ``x [B, ..., H, W]`` resampled through its 2x3 ``matrix[i]``
    (``[B, 2, 3]``, normalised coordinates, output -> input), nearest neighbour, zeros
    outside."""
    b, (h, w) = x.shape[0], x.shape[-2:]
    planes = x.reshape(b, -1, h, w)
    grid = F.affine_grid(matrix.to(x.dtype), list(planes.shape), align_corners=False)
    out = F.grid_sample(planes, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    return out.reshape(x.shape)


def random_affine(
    x: Tensor,
    generator: torch.Generator | None = None,
    *,
    max_degrees: float = 10.0,
    max_scale: float = 0.1,
    max_shift: int = 2,
) -> Tensor:
    """Rotate each sample of ``x [B, ..., H, W]`` by up to ``max_degrees``, scale it by a
    factor in [1 - max_scale, 1 + max_scale] about the centre, and shift it by a whole
    number of pixels in [-max_shift, max_shift]; nearest neighbour, zeros outside."""
    b = x.shape[0]
    u = torch.rand(b, 2, generator=generator) * 2 - 1
    shifts = torch.randint(-max_shift, max_shift + 1, (b, 2), generator=generator)
    return affine(x, max_degrees * u[:, 0], 1 + max_scale * u[:, 1], shifts)


def affine(x: Tensor, degrees: Tensor, scale: Tensor, shifts: Tensor) -> Tensor:
    """Sample ``i`` of ``x [B, ..., H, W]`` rotated by ``degrees[i]`` and scaled by
    ``scale[i]`` about its centre, then moved by ``shifts[i]`` = (dy, dx) pixels; nearest
    neighbour, zeros outside (whole event counts stay whole)."""
    h, w = x.shape[-2:]
    angle = torch.deg2rad(degrees.double())
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    # output pixel -> input pixel, in normalised coordinates (x along W, y along H)
    matrix = torch.stack(
        [
            torch.stack([cos, -sin * h / w, -2 * shifts[:, 1] / w], 1),
            torch.stack([sin * w / h, cos, -2 * shifts[:, 0] / h], 1),
        ],
        1,
    )
    return _affine(x, matrix)


def event_drop(x: Tensor, generator: torch.Generator | None = None, *, keep: float = 0.9) -> Tensor:
    """Drop each event of the count frames ``x`` with probability ``1 - keep``: every count
    becomes Binomial(count, keep) (counts must be whole numbers, as event frames' are)."""
    if not (x >= 0).all() or not torch.equal(x, x.floor()):
        raise ValueError(
            "event drop thins event counts: it needs whole, non-negative numbers (count "
            "frames), not images or normalised frames"
        )
    return torch.binomial(x, torch.full_like(x, keep), generator=generator)


def nda(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Neuromorphic Data Augmentation (see the module docstring): one random policy per sample."""
    out = x.clone()
    h, w = x.shape[-2:]
    choice = torch.randint(0, 5, (x.shape[0],), generator=generator).tolist()
    u = torch.rand(x.shape[0], 3, generator=generator) * 2 - 1  # uniform in [-1, 1]
    for i, kind in enumerate(choice):
        a, b, c = (float(v) for v in u[i])
        if kind == 0:  # roll
            out[i] = _shift(x[i : i + 1], [[round(5 * a), round(5 * b)]])[0]
        elif kind == 1:  # rotation
            t = math.radians(15 * a)
            m = torch.tensor([[math.cos(t), -math.sin(t), 0.0], [math.sin(t), math.cos(t), 0.0]])
            out[i] = _affine(x[i : i + 1], m[None])[0]
        elif kind == 2:  # cutout
            side = max(1, min(h, w) // 3)
            y0 = int((b + 1) / 2 * (h - side))
            x0 = int((c + 1) / 2 * (w - side))
            out[i, ..., y0 : y0 + side, x0 : x0 + side] = 0
        elif kind == 3:  # shear along x
            shear = torch.tensor([[[1.0, 0.3 * a, 0.0], [0.0, 1.0, 0.0]]])
            out[i] = _affine(x[i : i + 1], shear)[0]
        else:  # horizontal flip
            out[i] = x[i].flip(-1)
    return out


AUGMENTS: dict[str, Callable[[], Augment | None]] = {
    "none": lambda: None,
    "shift": lambda: lambda x, g=None: random_shift(x, g, max_shift=2),
    "flip": lambda: random_flip,
    "shift+flip": lambda: lambda x, g=None: random_flip(random_shift(x, g, max_shift=2), g),
    "nda": lambda: nda,
    "affine": lambda: random_affine,
    "drop": lambda: event_drop,
}


def make_augment(name: str) -> Augment | None:
    """The augmentation called ``name`` (see :data:`AUGMENTS`), None for ``none``."""
    if name not in AUGMENTS:
        raise ValueError(f"augment must be one of {', '.join(AUGMENTS)}; got {name!r}")
    return AUGMENTS[name]()
