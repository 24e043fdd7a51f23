"""Label transforms: what a data set's target becomes before the loss."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikestack.validation import check_int

__all__ = ["Repeat", "ToOneHot"]


@dataclass(frozen=True)
class Repeat:
    """The label repeated ``n`` times (a target per time step): ``[n]``."""

    n: int

    def __post_init__(self) -> None:
        check_int("n", self.n)

    def __call__(self, label: int | np.ndarray) -> np.ndarray:
        return np.repeat(np.asarray(label)[None], self.n, axis=0)


@dataclass(frozen=True)
class ToOneHot:
    """An integer label as a one-hot float32 vector of ``n_classes``."""

    n_classes: int

    def __post_init__(self) -> None:
        check_int("n_classes", self.n_classes)

    def __call__(self, label: int | np.integer) -> np.ndarray:
        index = int(label)
        if not 0 <= index < self.n_classes:
            raise ValueError(f"label {index} is outside 0..{self.n_classes - 1}")
        out = np.zeros(self.n_classes, dtype=np.float32)
        out[index] = 1.0
        return out
