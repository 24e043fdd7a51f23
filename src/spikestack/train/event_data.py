"""Event data sets for the training CLI: ``--data folder`` and the named data sets.

Samples become ``[T, P, H, W]`` count frames (``ToFrame`` with ``--frames`` time bins,
cached on disk); the batch ``[B, T, ...]`` is turned time-major for the model.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset, Subset

from spikestack.train.config import TrainConfig
from spikestack.train.data import (
    DataBundle,
    holdout_splits,
    register_data,
    stratified_split,
    time_major,
)

_NAMED = {
    "nmnist": "NMNIST",
    "ncaltech101": "NCaltech101",
    "cifar10dvs": "CIFAR10DVS",
    "dvsgesture": "DVS128Gesture",
    "asldvs": "ASLDVS",
    "ncars": "NCARS",
    "shd": "SHD",
    "ssc": "SSC",
    "esimagenet": "ESImageNet",
}


def infer_sensor_size(dataset: Any, *, probe: int = 16) -> tuple[int, int, int]:
    """Sensor size from the data set, the files' headers, or the largest coordinates seen."""
    known = getattr(dataset, "sensor_size", None)
    if known is not None:
        return tuple(known)  # type: ignore[return-value]
    from spikestack.data import read_events

    width = height = 1
    polarities = 1
    for path, _ in dataset.samples[:probe]:
        events, meta = read_events(path, return_meta=True)
        if meta.get("sensor_size"):
            return tuple(meta["sensor_size"])  # type: ignore[return-value]
        if len(events):
            width = max(width, int(events["x"].max()) + 1)
            if "y" in events.dtype.names:
                height = max(height, int(events["y"].max()) + 1)
            if np.any(events["p"] <= 0):
                polarities = 2
    return (width, height, polarities)


def _frames(config: TrainConfig, sensor_size: tuple[int, int, int]) -> Any:
    from spikestack.data.transforms import ToFrame

    return ToFrame(tuple(sensor_size), n_time_bins=config.frames)


def _bundle(
    train: Dataset[Any],
    val: Dataset[Any] | None,
    test: Dataset[Any] | None,
    sensor_size: tuple[int, int, int],
    num_classes: int,
    config: TrainConfig,
) -> DataBundle:
    width, height, polarities = sensor_size
    return DataBundle(
        train=train,
        val=val,
        test=test,
        input_transform=time_major,
        num_classes=num_classes,
        input_shape=(polarities, height, width),
        info={
            "train": len(train),  # type: ignore[arg-type]
            "val": len(val) if val is not None else 0,  # type: ignore[arg-type]
            "test": len(test) if test is not None else 0,  # type: ignore[arg-type]
            "sensor_size": list(sensor_size),
            "frames": config.frames,
        },
    )


def _split(dataset: Any, config: TrainConfig, *, hold_test: bool) -> tuple[Any, Any, Any]:
    labels = np.asarray(dataset.targets)
    if config.max_samples is not None:
        keep, _ = stratified_split(
            labels, 1 - min(config.max_samples / len(labels), 0.999), seed=config.seed
        )
        keep = keep[: config.max_samples]
    else:
        keep = np.arange(len(labels))
    train_idx, val_idx, test_idx = holdout_splits(labels, keep, config, hold_test=hold_test)

    def subset(idx: np.ndarray) -> Subset[Any] | None:
        return Subset(dataset, idx.tolist()) if len(idx) else None

    return subset(train_idx), subset(val_idx), subset(test_idx)


def _num_classes(*datasets: Any) -> int:
    labels = [label for d in datasets if d is not None for label in d.targets]
    classes = getattr(datasets[0], "classes", None)
    return max(len(classes) if classes else 0, max(labels) + 1 if labels else 0)


@register_data("folder")
def folder(config: TrainConfig) -> DataBundle:
    """An :class:`~spikestack.data.datasets.EventFolder` under ``--root`` (class sub-folders, or a
    flat folder with a ``sample<TAB>class`` labels file); held-out val/test splits per class.
    With ``eval_all`` every sample is test data (``spikestack eval RUN --data folder --root DIR``)."""
    from spikestack.data.datasets import EventFolder

    if not config.root:
        raise ValueError("--data folder needs --root DIR (a folder of event files)")
    root = Path(config.root).expanduser().resolve()
    dataset = EventFolder(root, sensor_size=config.sensor_size)
    sensor = tuple(config.sensor_size) if config.sensor_size else infer_sensor_size(dataset)
    dataset.sensor_size = sensor  # type: ignore[assignment]
    dataset.frames = _frames(config, sensor)
    num_classes = _num_classes(dataset)
    if config.eval_all:
        return _bundle(dataset, None, dataset, sensor, num_classes, config)  # type: ignore[arg-type]
    train, val, test = _split(dataset, config, hold_test=True)
    return _bundle(train, val, test, sensor, num_classes, config)  # type: ignore[arg-type]


def _named(name: str) -> Any:
    def build(config: TrainConfig) -> DataBundle:
        from spikestack.data import datasets

        if not config.root:
            raise ValueError(f"--data {name} needs --root DIR (where the official files are)")
        cls = getattr(datasets, _NAMED[name])
        params = inspect.signature(cls.__init__).parameters
        if "train" in params:
            parts = [cls(config.root, train=True), cls(config.root, train=False)]
        elif "split" in params:
            parts = [cls(config.root, split="train"), cls(config.root, split="test")]
        else:
            parts = [cls(config.root)]
        sensor = tuple(config.sensor_size or cls.sensor_size or infer_sensor_size(parts[0]))
        frames = _frames(config, sensor)  # type: ignore[arg-type]
        for part in parts:
            part.frames = frames
        num_classes = _num_classes(parts[0])
        if len(parts) == 2:
            train_full, test = parts
            if config.eval_all:
                return _bundle(test, None, test, sensor, num_classes, config)  # type: ignore[arg-type]
            train, val, _ = _split(train_full, config, hold_test=False)
            return _bundle(train, val, test, sensor, num_classes, config)  # type: ignore[arg-type]
        (dataset,) = parts
        if config.eval_all:
            return _bundle(dataset, None, dataset, sensor, num_classes, config)  # type: ignore[arg-type]
        train, val, test = _split(dataset, config, hold_test=True)
        return _bundle(train, val, test, sensor, num_classes, config)  # type: ignore[arg-type]

    return build


for _name in _NAMED:
    register_data(_name)(_named(_name))
