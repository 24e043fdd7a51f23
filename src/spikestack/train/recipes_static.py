"""Static-image recipes: the embedded digits set, and MNIST, Fashion-MNIST, CIFAR-10 from files.

Each sample is an image ``[C, H, W]`` that the run encodes over ``T`` steps (layout
``"static"``; ``--encoding direct | poisson | latency``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Subset, TensorDataset

from spikestack.data.splits import subsample
from spikestack.train.config import TrainConfig
from spikestack.train.recipes import (
    Builder,
    DataBundle,
    Recipe,
    register_recipe,
    split_parts,
    subset,
)


def _digits(config: TrainConfig, T: int) -> DataBundle:
    from sklearn.datasets import load_digits

    raw = load_digits()
    images = torch.tensor(raw.images / 16.0, dtype=torch.float32).unsqueeze(1)
    labels = np.asarray(raw.target, dtype=np.int64)
    train_idx, val_idx, test_idx = split_parts(labels, config, has_test=False)
    full = TensorDataset(images, torch.from_numpy(labels))
    train = Subset(full, train_idx.tolist())
    return DataBundle(
        train=train,
        val=subset(full, val_idx),
        test=subset(full, test_idx),
        num_classes=10,
        input_shape=(1, 8, 8),
        info={"train": len(train_idx), "val": len(val_idx), "test": len(test_idx)},
    )


register_recipe(
    Recipe(
        name="digits",
        summary="scikit-learn's 8x8 handwritten digits (1,797 images, shipped with scikit-learn)",
        layout="static",
        T=4,
        default_model="digits_csnn",
        num_classes=10,
        input_shape=(1, 8, 8),
        needs_root=False,
        build=_digits,
    )
)


def _image_files(class_name: str) -> Builder:
    """Official train/test files under ``--root``; a per-class validation split of train."""

    def build(config: TrainConfig, T: int) -> DataBundle:
        from spikestack.data import datasets

        cls = getattr(datasets, class_name)
        train_full, test = cls(config.data.root, split="train"), cls(config.data.root, split="test")
        labels = np.asarray(train_full.targets)
        share = len(train_full) / (len(train_full) + len(test))
        if config.data.eval_all:
            train_idx = val_idx = np.array([], dtype=np.int64)
        else:
            train_idx, val_idx, _ = split_parts(labels, config, has_test=True, share=share)
        test_idx = np.arange(len(test))
        if config.data.max_samples is not None:
            n_test = max(1, round(config.data.max_samples * (1 - share)))
            if config.data.eval_all:
                n_test = config.data.max_samples
            test_idx = subsample(np.asarray(test.targets), n_test, seed=config.run.seed)
        return DataBundle(
            train=Subset(train_full, train_idx.tolist()),
            val=subset(train_full, val_idx),
            test=subset(test, test_idx),
            num_classes=len(cls.classes),
            input_shape=tuple(train_full[0][0].shape),
            info={"train": len(train_idx), "val": len(val_idx), "test": len(test_idx)},
        )

    return build


for _name, _class, _classes, _shape, _summary in (
    ("mnist", "MNIST", 10, (1, 28, 28), "MNIST idx files"),
    ("fashion_mnist", "FashionMNIST", 10, (1, 28, 28), "Fashion-MNIST idx files"),
    ("cifar10", "CIFAR10", 10, (3, 32, 32), "CIFAR-10 binary batches"),
):
    register_recipe(
        Recipe(
            name=_name,
            summary=f"{_summary} under --root",
            layout="static",
            T=4,
            default_model="event_csnn",
            num_classes=_classes,
            input_shape=_shape,
            needs_root=True,
            build=_image_files(_class),
        )
    )
