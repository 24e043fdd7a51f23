"""Frame-level neuromorphic data augmentation (NDA).

Li, Y., Kim, Y., Park, H., Geller, T., Panda, P. "Neuromorphic Data Augmentation for
Training Spiking Neural Networks", ECCV 2022. NDA applies one geometric augmentation,
drawn at random, identically to every time step of a ``[T, C, H, W]`` frame tensor
(the same warp for all steps keeps the motion in the clip consistent), plus a random
horizontal flip.

Unsure details, written from memory of the paper (not checked here): the magnitude ranges
(roll up to 5 px, rotation up to 15 degrees, shear factor up to 0.3, a cutout square of
side H / 6) and the exact policy (flip, then ``num_ops = 1`` of roll / rotate / cutout /
shear chosen uniformly). All of them are fields, so they can be set to the paper's values.
Every op takes an explicit ``torch.Generator``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def _check_frames(frames: torch.Tensor) -> None:
    if not isinstance(frames, torch.Tensor) or frames.ndim != 4:
        shape = tuple(frames.shape) if isinstance(frames, torch.Tensor) else type(frames).__name__
        raise ValueError(f"frames must be a [T, C, H, W] torch tensor; got {shape}")


def _uniform(low: float, high: float, generator: torch.Generator | None) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def _affine(frames: torch.Tensor, matrix: list[list[float]], mode: str) -> torch.Tensor:
    """Warp all frames with the 2x3 ``matrix`` (output -> input, normalised coordinates)."""
    t, c, h, w = frames.shape
    theta = torch.tensor(matrix, dtype=torch.float32).expand(t, 2, 3)
    grid = F.affine_grid(theta, [t, c, h, w], align_corners=False)
    out = F.grid_sample(frames.float(), grid, mode=mode, padding_mode="zeros", align_corners=False)
    return out.to(frames.dtype)


def rotate(frames: torch.Tensor, degrees: float, *, mode: str = "nearest") -> torch.Tensor:
    """Rotate every frame about its centre by ``degrees``, clockwise as displayed (row 0 on
    top): output(x, y) = input(R^-1 (x, y)), pixels from outside are 0. On a square image
    ``rotate(f, 90)`` equals ``torch.rot90(f, -1, dims=(2, 3))``."""
    _check_frames(frames)
    a = math.radians(degrees)
    h, w = frames.shape[-2:]
    # normalised coordinates: scale so that the rotation is isotropic in pixels
    matrix = [
        [math.cos(a), math.sin(a) * h / w, 0.0],
        [-math.sin(a) * w / h, math.cos(a), 0.0],
    ]
    return _affine(frames, matrix, mode)


def shear(frames: torch.Tensor, factor: float, *, mode: str = "nearest") -> torch.Tensor:
    """Horizontal shear about the centre: output(x, y) = input(x + factor * y, y), with x, y
    in pixels measured from the image centre."""
    _check_frames(frames)
    h, w = frames.shape[-2:]
    return _affine(frames, [[1.0, factor * h / w, 0.0], [0.0, 1.0, 0.0]], mode)


@dataclass(frozen=True)
class Roll:
    """Cyclic shift by (dx, dy), each uniform in [-max_shift, max_shift] pixels."""

    max_shift: int = 5

    def __post_init__(self) -> None:
        if self.max_shift < 0:
            raise ValueError(f"max_shift must be >= 0; got {self.max_shift}")

    def __call__(
        self, frames: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        _check_frames(frames)
        dx, dy = torch.randint(
            -self.max_shift, self.max_shift + 1, (2,), generator=generator
        ).tolist()
        return torch.roll(frames, shifts=(dy, dx), dims=(2, 3))


@dataclass(frozen=True)
class Rotate:
    """:func:`rotate` by an angle uniform in [-max_degrees, max_degrees]; ``mode`` is the
    grid-sample interpolation ("nearest" keeps spike counts integral)."""

    max_degrees: float = 15.0
    mode: str = "nearest"

    def __post_init__(self) -> None:
        if self.max_degrees < 0:
            raise ValueError(f"max_degrees must be >= 0; got {self.max_degrees}")

    def __call__(
        self, frames: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        _check_frames(frames)
        return rotate(
            frames, _uniform(-self.max_degrees, self.max_degrees, generator), mode=self.mode
        )


@dataclass(frozen=True)
class Shear:
    """:func:`shear` with a factor uniform in [-max_shear, max_shear]."""

    max_shear: float = 0.3
    mode: str = "nearest"

    def __post_init__(self) -> None:
        if self.max_shear < 0:
            raise ValueError(f"max_shear must be >= 0; got {self.max_shear}")

    def __call__(
        self, frames: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        _check_frames(frames)
        return shear(frames, _uniform(-self.max_shear, self.max_shear, generator), mode=self.mode)


@dataclass(frozen=True)
class Cutout:
    """Zero one square of side ``size_ratio * H`` (rounded, >= 1) whose centre is uniform
    over the image; the square is clipped at the borders (DeVries & Taylor, 2017)."""

    size_ratio: float = 1.0 / 6.0

    def __post_init__(self) -> None:
        if not 0.0 < self.size_ratio <= 1.0:
            raise ValueError(f"size_ratio must be in (0, 1]; got {self.size_ratio}")

    def __call__(
        self, frames: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        _check_frames(frames)
        h, w = frames.shape[-2:]
        side = max(1, round(self.size_ratio * h))
        cy = int(torch.randint(0, h, (), generator=generator))
        cx = int(torch.randint(0, w, (), generator=generator))
        y0, x0 = max(0, cy - side // 2), max(0, cx - side // 2)
        out = frames.clone()
        out[..., y0 : min(h, y0 + side), x0 : min(w, x0 + side)] = 0
        return out


@dataclass(frozen=True)
class NDA:
    """The NDA policy: flip left-right with probability ``flip_p``, then apply ``num_ops``
    distinct ops drawn uniformly from (Roll, Rotate, Cutout, Shear)."""

    num_ops: int = 1
    flip_p: float = 0.5
    roll: Roll = Roll()
    rotate: Rotate = Rotate()
    cutout: Cutout = Cutout()
    shear: Shear = Shear()

    def __post_init__(self) -> None:
        if not 0 <= self.num_ops <= 4:
            raise ValueError(f"num_ops must be in 0..4; got {self.num_ops}")
        if not 0.0 <= self.flip_p <= 1.0:
            raise ValueError(f"flip_p must be in [0, 1]; got {self.flip_p}")

    def __call__(
        self, frames: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        _check_frames(frames)
        if float(torch.rand((), generator=generator)) < self.flip_p:
            frames = torch.flip(frames, dims=(3,))
        ops = (self.roll, self.rotate, self.cutout, self.shear)
        for i in torch.randperm(len(ops), generator=generator)[: self.num_ops].tolist():
            frames = ops[i](frames, generator=generator)
        return frames
