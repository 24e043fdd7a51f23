"""Chaining transforms."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from spikestack.data.transforms._common import as_rng


@dataclass(frozen=True)
class Compose:
    """Apply ``transforms`` in order, passing one shared ``rng`` to each, so a seeded
    generator makes the whole chain reproducible."""

    transforms: tuple[Callable[..., Any], ...]

    def __post_init__(self) -> None:
        if not isinstance(self.transforms, Sequence) or not all(
            callable(t) for t in self.transforms
        ):
            raise ValueError("transforms must be a sequence of callables")
        object.__setattr__(self, "transforms", tuple(self.transforms))

    def __call__(self, data: Any, *, rng: np.random.Generator | None = None) -> Any:
        rng = as_rng(rng)
        for transform in self.transforms:
            data = transform(data, rng=rng)
        return data
