"""Per-class (stratified), seeded splits of a labelled data set: index splits for the
training recipes, and :func:`split_dataset` for any data set."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from torch.utils.data import Subset

from spikestack.validation import check_fraction, check_int

__all__ = ["holdout_splits", "split_dataset", "stratified_split", "subsample"]


def stratified_split(
    labels: np.ndarray, fraction: float, *, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(keep, held_out)`` with ``fraction`` of every class held out (at least one per class)."""
    check_fraction("split fraction", fraction, high_open=True)
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
    if not keep:
        return np.array([], dtype=np.int64), np.array([], dtype=np.int64)
    return np.sort(np.concatenate(keep)), np.sort(np.concatenate(held))


def subsample(labels: np.ndarray, count: int, *, seed: int) -> np.ndarray:
    """Sorted indices of ``min(count, len(labels))`` samples, drawn per class in proportion
    (seeded)."""
    check_int("max_samples", count)
    if count >= len(labels):
        return np.arange(len(labels))
    keep, rest = stratified_split(labels, 1.0 - count / len(labels), seed=seed)
    # rounding per class can keep a few more or fewer than asked: trim or top up at random
    rng = np.random.default_rng(seed)
    if len(keep) > count:
        keep = rng.choice(keep, count, replace=False)
    elif len(keep) < count:
        keep = np.concatenate([keep, rng.choice(rest, count - len(keep), replace=False)])
    return np.sort(keep)


def holdout_splits(
    labels: np.ndarray,
    keep: np.ndarray,
    *,
    val_fraction: float,
    test_fraction: float | None,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(train, val, test)`` indices into ``labels`` from the samples ``keep``: a per-class
    test split (``test_fraction``, ``seed``) unless it is None (the data set has its own test
    part), then a per-class validation split (``val_fraction``, ``seed + 1``) of the rest."""
    rest, test_idx = keep, np.array([], dtype=np.int64)
    if test_fraction is not None:
        rel_rest, rel_test = stratified_split(labels[keep], test_fraction, seed=seed)
        rest, test_idx = keep[rel_rest], keep[rel_test]
    rel_train, rel_val = stratified_split(labels[rest], val_fraction, seed=seed + 1)
    return rest[rel_train], rest[rel_val], test_idx


def _labels_of(dataset: Any) -> np.ndarray:
    targets = getattr(dataset, "targets", None)
    if targets is None:  # ask every sample: (data, label) pairs
        targets = [dataset[i][1] for i in range(len(dataset))]
    return np.asarray([int(t) for t in targets], dtype=np.int64)


def split_dataset(
    dataset: Any, fractions: Sequence[float], *, seed: int = 0, stratify: bool = True
) -> list[Subset]:
    """``dataset`` cut into ``len(fractions)`` seeded subsets of those shares (they must add
    up to 1), per class when ``stratify`` (the labels from ``dataset.targets`` or each
    sample's second element), every index in exactly one subset."""
    shares = [check_fraction("fraction", f) for f in fractions]
    if not shares or abs(sum(shares) - 1.0) > 1e-6:
        raise ValueError(f"fractions must add up to 1; got {list(fractions)} (sum {sum(shares):g})")
    rng = np.random.default_rng(seed)
    groups = [np.arange(len(dataset))]
    if stratify:
        labels = _labels_of(dataset)
        groups = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    parts: list[list[np.ndarray]] = [[] for _ in shares]
    bounds = np.cumsum([0.0, *shares])
    for group in groups:
        order = rng.permutation(group)
        cuts = np.round(bounds * len(order)).astype(np.int64)
        for k in range(len(shares)):
            parts[k].append(order[cuts[k] : cuts[k + 1]])
    return [Subset(dataset, np.sort(np.concatenate(p)).tolist()) for p in parts]
