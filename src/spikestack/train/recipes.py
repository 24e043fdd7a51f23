"""Training-data recipes: what ``spikestack train --data NAME`` trains on, declared once.

A :class:`Recipe` declares its classes, the shape of one input step, the number of steps
``T``, its layout — ``"static"`` (a sample to encode over T steps: images) or
``"sequence"`` (already time-major: event frames, spike trains) — and the default model.
The run reads these declarations; nothing is guessed from shapes. Where a fact depends
on the files (an event folder's classes and sensor), the recipe leaves it ``None`` and its
builder finds it in the data.

    recipe = RECIPES.get("digits")
    bundle = build_data(config)      # DataBundle: splits, input transform, T, model name

``max_samples`` has one meaning everywhere: at most that many samples in all, a per-class
seeded subset drawn before the splits (shared between official train/test parts in
proportion to their sizes). The static recipes live in :mod:`spikestack.train.recipes_static`,
the event recipes in :mod:`spikestack.train.recipes_events`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, Subset

from spikestack import encoders
from spikestack.data.splits import holdout_splits, subsample
from spikestack.registry import Registry
from spikestack.train.augment import Augment, random_shift
from spikestack.train.config import TrainConfig

__all__ = [
    "RECIPES",
    "DataBundle",
    "Recipe",
    "build_data",
    "list_recipes",
    "make_encoder",
    "register_recipe",
    "split_parts",
    "time_major",
]

Layout = Literal["static", "sequence"]
InputTransform = Callable[[Tensor, "torch.Generator | None"], Tensor]


def make_encoder(name: str, T: int) -> InputTransform:
    """Input transform for static samples: ``direct``, ``poisson`` or ``latency`` over ``T`` steps."""
    table = {"direct": encoders.Direct, "poisson": encoders.Poisson, "latency": encoders.Latency}
    if name not in table:
        raise ValueError(f"encoding must be one of {', '.join(table)}; got {name!r}")
    encoder = table[name](T)

    def transform(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return encoder(x, generator=generator)

    return transform


def time_major(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """``[B, T, ...] -> [T, B, ...]`` for batches of sequences."""
    return x.transpose(0, 1).contiguous()


@dataclass
class DataBundle:
    """What a recipe builds: the splits and the facts a model needs."""

    train: Dataset[Any] | None  # None when every sample is test data (eval_all)
    val: Dataset[Any] | None
    test: Dataset[Any] | None
    num_classes: int
    input_shape: tuple[int, ...]  # one step of one sample: [C, H, W], [P, H, W] or [features]
    info: dict[str, Any] = field(default_factory=dict)
    default_model: str | None = None  # set here only by recipes that leave it to the data
    # set by build_data from the recipe's declarations
    T: int = 0
    layout: Layout = "static"
    input_transform: InputTransform = time_major
    augment: Augment | None = random_shift


Builder = Callable[[TrainConfig, int], DataBundle]


@dataclass(frozen=True)
class Recipe:
    """The declarations of one training data set (see the module docstring)."""

    name: str
    summary: str
    layout: Layout
    T: int  # default number of steps: encoder steps (static) or frames (sequence)
    default_model: str | None  # None: the builder picks it from the data's shape
    num_classes: int | None  # None: found in the data
    input_shape: tuple[int, ...] | None  # None: found in the data
    needs_root: bool
    build: Builder = field(repr=False)
    batch_size: int = 64  # the default --batch-size for this data
    loss: str = "ce"  # the loss --loss auto (the default) picks for this data
    epochs: int = 12  # the default --epochs for this data
    optimize: bool = False  # the default of --optimize for this data on the CPU

    def __post_init__(self) -> None:
        if self.layout not in ("static", "sequence"):
            raise ValueError(f"layout must be 'static' or 'sequence'; got {self.layout!r}")


RECIPES: Registry[Recipe] = Registry("data set")


def register_recipe(recipe: Recipe) -> Recipe:
    """Add ``recipe`` under its name (raises if the name is taken)."""
    return RECIPES.register(recipe.name)(recipe)


def list_recipes() -> list[str]:
    return RECIPES.names()


def split_parts(
    labels: np.ndarray, config: TrainConfig, *, has_test: bool, share: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(train, val, test)`` indices of one labelled part: at most ``share`` of ``max_samples``
    (per class, seeded), then a held-out test split unless the data set ``has_test`` its own
    part, then the validation split."""
    data, seed = config.data, config.run.seed
    keep = np.arange(len(labels))
    if data.max_samples is not None:
        keep = subsample(labels, max(1, round(data.max_samples * share)), seed=seed)
    test_fraction = None if has_test else data.test_fraction
    return holdout_splits(
        labels, keep, val_fraction=data.val_fraction, test_fraction=test_fraction, seed=seed
    )


def subset(dataset: Dataset[Any], idx: np.ndarray) -> Subset[Any] | None:
    return Subset(dataset, idx.tolist()) if len(idx) else None


def build_data(config: TrainConfig) -> DataBundle:
    """The :class:`DataBundle` of ``config.data.name``, checked against its recipe."""
    recipe = RECIPES.get(config.data.name)
    if recipe.needs_root:
        if not config.data.root:
            raise ValueError(f"--data {recipe.name} needs --root DIR ({recipe.summary})")
        if not Path(config.data.root).expanduser().is_dir():
            raise FileNotFoundError(f"--root {config.data.root} is not a folder")
    if config.data.batch_size is None:  # recorded resolved, in the run's config.json
        config.data.batch_size = recipe.batch_size
    if config.optim.loss == "auto":  # the same
        config.optim.loss = recipe.loss
    if config.run.epochs is None:  # the same
        config.run.epochs = recipe.epochs
    T = recipe.T if config.data.T is None else config.data.T
    if not isinstance(T, int) or isinstance(T, bool) or T < 1:
        raise ValueError(f"--T (the number of steps) must be an int >= 1; got {T!r}")
    bundle = recipe.build(config, T)
    for fact in ("num_classes", "input_shape"):
        declared = getattr(recipe, fact)
        if declared is not None and getattr(bundle, fact) != declared:
            raise ValueError(
                f"data set {recipe.name!r}: the files give {fact} {getattr(bundle, fact)}, "
                f"but the recipe declares {declared}"
            )
    bundle.T, bundle.layout = T, recipe.layout
    if recipe.default_model is not None:
        bundle.default_model = recipe.default_model
    if bundle.default_model is None:
        raise ValueError(f"data set {recipe.name!r} names no default model; pass --model")
    if recipe.layout == "static":
        bundle.input_transform = make_encoder(config.data.encoding, T)
    else:
        bundle.input_transform = time_major
    return bundle
