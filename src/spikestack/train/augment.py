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
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

Augment = Callable[[Tensor, "torch.Generator | None"], Tensor]

__all__ = ["AUGMENTS", "Augment", "make_augment", "random_flip", "random_shift", "nda"]


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
    """``x [..., H, W]`` (one sample) resampled through the 2x3 ``matrix`` (normalised
    coordinates), nearest neighbour, zeros outside."""
    lead, (h, w) = x.shape[:-2], x.shape[-2:]
    planes = x.reshape(1, -1, h, w)
    grid = F.affine_grid(matrix[None].to(x.dtype), list(planes.shape), align_corners=False)
    out = F.grid_sample(planes, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    return out.reshape(*lead, h, w)


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
            out[i] = _affine(x[i], m)
        elif kind == 2:  # cutout
            side = max(1, min(h, w) // 3)
            y0 = int((b + 1) / 2 * (h - side))
            x0 = int((c + 1) / 2 * (w - side))
            out[i, ..., y0 : y0 + side, x0 : x0 + side] = 0
        elif kind == 3:  # shear along x
            out[i] = _affine(x[i], torch.tensor([[1.0, 0.3 * a, 0.0], [0.0, 1.0, 0.0]]))
        else:  # horizontal flip
            out[i] = x[i].flip(-1)
    return out


AUGMENTS: dict[str, Callable[[], Augment | None]] = {
    "none": lambda: None,
    "shift": lambda: lambda x, g=None: random_shift(x, g, max_shift=2),
    "flip": lambda: random_flip,
    "shift+flip": lambda: lambda x, g=None: random_flip(random_shift(x, g, max_shift=2), g),
    "nda": lambda: nda,
}


def make_augment(name: str) -> Augment | None:
    """The augmentation called ``name`` (see :data:`AUGMENTS`), None for ``none``."""
    if name not in AUGMENTS:
        raise ValueError(f"augment must be one of {', '.join(AUGMENTS)}; got {name!r}")
    return AUGMENTS[name]()
