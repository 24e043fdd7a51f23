"""Datasets for the training CLI: the embedded digits set, and event data by name.

Each builder returns a :class:`DataBundle`: train/val/test datasets of ``(x, y)``
pairs, the input transform that makes the model's ``[T, B, ...]`` input from a
batch, and what a model needs to know (input shape, number of classes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, Subset, TensorDataset

from spikestack import encoders
from spikestack.train.config import TrainConfig

InputTransform = Callable[[Tensor, "torch.Generator | None"], Tensor]


def random_shift(
    x: Tensor, generator: torch.Generator | None = None, *, max_shift: int = 1
) -> Tensor:
    """Shift every sample of ``x [B, ..., H, W]`` by a random whole number of pixels in
    [-max_shift, max_shift] along H and W, filling with zeros (the second view of siamese losses)."""
    b = x.shape[0]
    shifts = torch.randint(-max_shift, max_shift + 1, (b, 2), generator=generator)
    out = torch.zeros_like(x)
    h, w = x.shape[-2:]
    for i, (dy, dx) in enumerate(shifts.tolist()):
        src_y, dst_y = slice(max(0, -dy), h - max(0, dy)), slice(max(0, dy), h - max(0, -dy))
        src_x, dst_x = slice(max(0, -dx), w - max(0, dx)), slice(max(0, dx), w - max(0, -dx))
        out[i, ..., dst_y, dst_x] = x[i, ..., src_y, src_x]
    return out


@dataclass
class DataBundle:
    train: Dataset[Any]
    val: Dataset[Any] | None
    test: Dataset[Any] | None
    input_transform: InputTransform
    num_classes: int
    input_shape: tuple[int, ...]
    info: dict[str, Any] = field(default_factory=dict)
    augment: Callable[[Tensor, torch.Generator | None], Tensor] | None = random_shift


def stratified_split(
    labels: np.ndarray, fraction: float, *, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(keep, held_out)`` with ``fraction`` of every class held out (at least one per class)."""
    if not 0 <= fraction < 1:
        raise ValueError(f"split fraction must be in [0, 1); got {fraction}")
    rng = np.random.default_rng(seed)
    keep, held = [], []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        rng.shuffle(idx)
        n_held = int(round(fraction * len(idx)))
        if fraction > 0 and len(idx) > 1:
            n_held = max(n_held, 1)
        held.append(idx[:n_held])
        keep.append(idx[n_held:])
    return np.sort(np.concatenate(keep)), np.sort(np.concatenate(held))


def holdout_splits(
    labels: np.ndarray, keep: np.ndarray, config: TrainConfig, *, hold_test: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(train, val, test)`` indices into ``labels`` from the samples ``keep``: a per-class
    test split (``test_fraction``, seed) when ``hold_test``, then a per-class validation
    split (``val_fraction``, seed + 1) of the rest."""
    rest, test_idx = keep, np.array([], dtype=np.int64)
    if hold_test:
        rel_rest, rel_test = stratified_split(labels[keep], config.test_fraction, seed=config.seed)
        rest, test_idx = keep[rel_rest], keep[rel_test]
    rel_train, rel_val = stratified_split(labels[rest], config.val_fraction, seed=config.seed + 1)
    return rest[rel_train], rest[rel_val], test_idx


def make_encoder(name: str, T: int) -> InputTransform:
    """Input transform for static images: ``direct``, ``poisson`` or ``latency`` over ``T``."""
    table = {"direct": encoders.Direct, "poisson": encoders.Poisson, "latency": encoders.Latency}
    if name not in table:
        raise ValueError(f"encoding must be one of {', '.join(table)}; got {name!r}")
    encoder = table[name](T)

    def transform(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return encoder(x, generator=generator)

    return transform


def time_major(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """``[B, T, ...] -> [T, B, ...]`` for batches of frame sequences."""
    return x.transpose(0, 1).contiguous()


def digits(config: TrainConfig) -> DataBundle:
    """scikit-learn's 8×8 handwritten digits (1,797 images, shipped with scikit-learn)."""
    from sklearn.datasets import load_digits

    raw = load_digits()
    images = torch.tensor(raw.images / 16.0, dtype=torch.float32).unsqueeze(1)
    labels = np.asarray(raw.target, dtype=np.int64)
    if config.max_samples is not None:
        images, labels = images[: config.max_samples], labels[: config.max_samples]
    train_idx, val_idx, test_idx = holdout_splits(
        labels, np.arange(len(labels)), config, hold_test=True
    )
    full = TensorDataset(images, torch.from_numpy(labels))
    return DataBundle(
        train=Subset(full, train_idx.tolist()),
        val=Subset(full, val_idx.tolist()) if len(val_idx) else None,
        test=Subset(full, test_idx.tolist()) if len(test_idx) else None,
        input_transform=make_encoder(config.encoding, config.T),
        num_classes=10,
        input_shape=(1, 8, 8),
        info={"train": len(train_idx), "val": len(val_idx), "test": len(test_idx)},
    )


def _static(class_name: str) -> Callable[[TrainConfig], DataBundle]:
    """Official train/test files under ``--root``; a stratified val split from train."""

    def build(config: TrainConfig) -> DataBundle:
        from spikestack.data import datasets

        if not config.root:
            raise ValueError(
                f"--data {config.data} needs --root DIR (where the official files are)"
            )
        cls = getattr(datasets, class_name)
        train_full, test = cls(config.root, train=True), cls(config.root, train=False)
        labels = np.asarray(train_full.targets)
        keep = np.arange(len(labels))
        if config.max_samples is not None:
            keep = np.random.default_rng(config.seed).permutation(len(labels))[: config.max_samples]
        train_idx, val_idx, _ = holdout_splits(labels, keep, config, hold_test=False)
        test_set: Dataset[Any] = test
        if config.eval_all or config.max_samples is not None:
            n_test = len(test) if config.max_samples is None else min(len(test), config.max_samples)
            test_set = Subset(test, list(range(n_test)))
        shape = tuple(train_full[0][0].shape)
        return DataBundle(
            train=Subset(train_full, train_idx.tolist()),
            val=Subset(train_full, val_idx.tolist()) if len(val_idx) else None,
            test=test_set,
            input_transform=make_encoder(config.encoding, config.T),
            num_classes=len(cls.classes),
            input_shape=shape,
            info={"train": len(train_idx), "val": len(val_idx), "test": len(test_set)},  # type: ignore[arg-type]
        )

    return build


_BUILDERS: dict[str, Callable[[TrainConfig], DataBundle]] = {
    "digits": digits,
    "mnist": _static("MNIST"),
    "fashion_mnist": _static("FashionMNIST"),
    "cifar10": _static("CIFAR10"),
}


def register_data(
    name: str,
) -> Callable[[Callable[[TrainConfig], DataBundle]], Callable[[TrainConfig], DataBundle]]:
    def decorator(
        builder: Callable[[TrainConfig], DataBundle],
    ) -> Callable[[TrainConfig], DataBundle]:
        if name in _BUILDERS:
            raise ValueError(f"a data set named {name!r} is already registered")
        _BUILDERS[name] = builder
        return builder

    return decorator


def build_data(config: TrainConfig) -> DataBundle:
    import spikestack.train.event_data  # noqa: F401  (registers folder and the event data sets)

    if config.data not in _BUILDERS:
        raise ValueError(
            f"--data must be one of {', '.join(sorted(_BUILDERS))}; got {config.data!r}"
        )
    return _BUILDERS[config.data](config)
