"""Per-class (stratified), seeded index splits of a labelled data set."""

from __future__ import annotations

import numpy as np

from spikestack.validation import check_fraction, check_int

__all__ = ["holdout_splits", "stratified_split", "subsample"]


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
