"""Event recipes: ``--data folder`` and the named event data sets.

Samples become ``[T, P, H, W]`` count frames (``ToFrame`` with ``T`` time bins, cached on
disk); the batch ``[B, T, ...]`` is made time-major for the model (layout ``"sequence"``).
A data set with official train/test parts keeps them; one without (``splits == ("all",)``)
gets per-class held-out test and validation splits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from spikestack.data.splits import subsample
from spikestack.train.config import TrainConfig
from spikestack.train.recipes import DataBundle, Recipe, register_recipe, split_parts, subset


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


def _model_for(sensor_size: tuple[int, int, int]) -> str:
    """A 1-D sensor (one row: cochlea, SHD) gets the MLP; a 2-D one the convolutional net."""
    return "mlp_snn" if sensor_size[1] == 1 else "event_csnn"


def _bundle(
    parts: tuple[Any, Any, Any], sensor_size: tuple[int, int, int], num_classes: int, T: int
) -> DataBundle:
    train, val, test = parts
    width, height, polarities = sensor_size
    return DataBundle(
        train=train,
        val=val,
        test=test,
        num_classes=num_classes,
        input_shape=(polarities, height, width),
        default_model=_model_for(sensor_size),
        info={
            "train": len(train) if train is not None else 0,
            "val": len(val) if val is not None else 0,
            "test": len(test) if test is not None else 0,
            "sensor_size": list(sensor_size),
            "frames": T,
        },
    )


def _set_frames(datasets: list[Any], sensor_size: tuple[int, int, int], T: int) -> None:
    from spikestack.data.transforms import ToFrame

    frames = ToFrame(tuple(sensor_size), n_time_bins=T)
    for dataset in datasets:
        dataset.sensor_size = tuple(sensor_size)
        dataset.frames = frames


def _pooled(dataset: Any, config: TrainConfig) -> tuple[Any, Any, Any]:
    """Splits of a data set without official parts (all of it as test data with eval_all)."""
    labels = np.asarray(dataset.targets)
    if config.data.eval_all:
        keep = np.arange(len(labels))
        if config.data.max_samples is not None:
            keep = subsample(labels, config.data.max_samples, seed=config.run.seed)
        return None, None, subset(dataset, keep)
    train, val, test = split_parts(labels, config, has_test=False)
    return subset(dataset, train), subset(dataset, val), subset(dataset, test)


def _official(train_full: Any, test: Any, config: TrainConfig) -> tuple[Any, Any, Any]:
    """Splits of a data set with official train/test parts (only test with eval_all)."""
    test_labels = np.asarray(test.targets)
    share = len(train_full) / (len(train_full) + len(test))
    n_test = config.data.max_samples
    if n_test is not None and not config.data.eval_all:
        n_test = max(1, round(n_test * (1 - share)))
    test_idx = (
        np.arange(len(test))
        if n_test is None
        else subsample(test_labels, n_test, seed=config.run.seed)
    )
    if config.data.eval_all:
        return None, None, subset(test, test_idx)
    labels = np.asarray(train_full.targets)
    train, val, _ = split_parts(labels, config, has_test=True, share=share)
    return subset(train_full, train), subset(train_full, val), subset(test, test_idx)


def _folder(config: TrainConfig, T: int) -> DataBundle:
    from spikestack.data.datasets import EventFolder

    root = Path(config.data.root or "").expanduser().resolve()
    dataset = EventFolder(root, sensor_size=config.data.sensor_size)
    sensor = tuple(config.data.sensor_size or infer_sensor_size(dataset))
    _set_frames([dataset], sensor, T)  # type: ignore[arg-type]
    labels = dataset.targets
    num_classes = max(len(dataset.classes or ()), max(labels) + 1 if labels else 0)
    return _bundle(_pooled(dataset, config), sensor, num_classes, T)  # type: ignore[arg-type]


register_recipe(
    Recipe(
        name="folder",
        summary="a folder of event files: class sub-folders, or a flat folder with a "
        "'sample<TAB>class' labels file",
        layout="sequence",
        T=10,
        default_model=None,
        num_classes=None,
        input_shape=None,
        needs_root=True,
        build=_folder,
        # N-MNIST samples (docs/training.md, "Time to accuracy on real events"), mean test
        # accuracy over seeds 0-7: 0.971 in about 100 s with these four settings
        batch_size=32,  # seeds 0-3, cross-entropy, 12 epochs: 0.969 (batch 64: 0.951)
        loss="tet",  # cross-entropy on the mean output: 0.957 (12 epochs); TET 0.964
        epochs=20,  # TET, 12 epochs: 0.964
        optimize=True,  # the same results, 1.6x faster steps on 2 cores
    )
)


def _named(class_name: str) -> Any:
    def build(config: TrainConfig, T: int) -> DataBundle:
        from spikestack.data import datasets

        cls = getattr(datasets, class_name)
        root = config.data.root
        if "train" in cls.splits and "test" in cls.splits:
            parts = [cls(root, split="train"), cls(root, split="test")]
        else:
            parts = [cls(root)]
        sensor = tuple(config.data.sensor_size or cls.sensor_size or infer_sensor_size(parts[0]))
        _set_frames(parts, sensor, T)  # type: ignore[arg-type]
        num_classes = len(parts[0].classes)
        if len(parts) == 2:
            bundle = _bundle(_official(*parts, config), sensor, num_classes, T)  # type: ignore[arg-type]
        else:
            bundle = _bundle(_pooled(parts[0], config), sensor, num_classes, T)  # type: ignore[arg-type]
        bundle.info["split"] = _split_record(parts[0], len(parts) == 2, config)
        return bundle

    return build


def _split_record(dataset: Any, official: bool, config: TrainConfig) -> dict[str, Any]:
    """How the run's train/val/test samples were chosen, for the run folder's data.json."""
    record: dict[str, Any] = {
        "test": dataset.split_rule
        if official
        else f"{config.data.test_fraction:g} of all samples, per class, seed {config.run.seed}",
        "val": f"{config.data.val_fraction:g} of the training part, per class, seed "
        f"{config.run.seed}",
    }
    if hasattr(dataset, "train_ratio"):
        record["train_ratio"] = dataset.train_ratio
    return record


# name, data set class, classes, one step's shape (P, H, W), default model, what it is
_NAMED = (
    ("nmnist", "NMNIST", 10, (2, 34, 34), "event_csnn", "N-MNIST (Orchard et al. 2015)"),
    ("ncaltech101", "NCaltech101", 101, None, "event_csnn", "N-Caltech101 (sensor from files)"),
    ("cifar10dvs", "CIFAR10DVS", 10, (2, 128, 128), "event_csnn", "CIFAR10-DVS"),
    ("dvsgesture", "DVS128Gesture", 11, (2, 128, 128), "event_csnn", "DVS128 Gesture"),
    ("asldvs", "ASLDVS", 24, (2, 180, 240), "event_csnn", "ASL-DVS, 24 letters"),
    ("ncars", "NCARS", 2, (2, 100, 120), "event_csnn", "N-CARS, cars and background"),
    ("shd", "SHD", 20, (1, 1, 700), "mlp_snn", "Spiking Heidelberg Digits"),
    ("ssc", "SSC", 35, (1, 1, 700), "mlp_snn", "Spiking Speech Commands"),
    ("esimagenet", "ESImageNet", 1000, (2, 224, 224), "event_csnn", "ES-ImageNet (ODG events)"),
    ("pokerdvs", "POKERDVS", 4, (2, 35, 35), "event_csnn", "POKER-DVS, four card suits"),
    ("dvslip", "DVSLip", 100, (2, 128, 128), "event_csnn", "DVS-Lip, 100 words"),
    ("ntidigits", "NTIDIGITS", 11, (1, 1, 64), "mlp_snn", "N-TIDIGITS single digits"),
    ("hardvs", "HARDVS", 300, (2, 260, 346), "event_csnn", "HARDVS, 300 human activities"),
)

for _name, _class, _classes, _shape, _model, _summary in _NAMED:
    register_recipe(
        Recipe(
            name=_name,
            summary=f"{_summary}: the official files under --root",
            layout="sequence",
            T=10,
            default_model=_model,
            num_classes=_classes,
            input_shape=_shape,
            needs_root=True,
            build=_named(_class),
            batch_size=64 if _shape is not None and _shape[:2] == (1, 1) else 32,
            loss="ce" if _shape is not None and _shape[:2] == (1, 1) else "tet",
        )
    )


class _FrameTensor(Dataset):
    """Event frames stored compactly as uint8 ``[N, T, P, H, W]``, served as float32."""

    def __init__(self, frames: np.ndarray, labels: np.ndarray) -> None:
        self.frames = torch.from_numpy(frames)
        self.targets = [int(v) for v in labels]

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.frames[index].float(), self.targets[index]


def odg_frames(images: np.ndarray, side: int, T: int) -> np.ndarray:
    """``[N, H, W]`` images in [0, 1] -> ``[N, T, 2, side, side]`` uint8 ON/OFF frames made
    by ODG (:class:`spikestack.data.odg.ODG`: the image moved along its trajectory, a DVS
    event where the brightness changed), the trajectory's steps grouped into T bins."""
    from spikestack.data.odg import DEFAULT_TRAJECTORY, ODG

    reach = int(np.abs(np.cumsum(np.array(DEFAULT_TRAJECTORY), axis=0)).max())
    odg = ODG(resize=side + 2 * reach, crop=side)
    steps = len(odg.trajectory)
    bins = (np.arange(steps) * T) // steps  # which of the T frames each step falls in
    out = np.zeros((len(images), T, 2, side, side), dtype=np.uint8)
    for i, image in enumerate(images):
        signed = odg.signed_frames(image)
        np.add.at(out[i, :, 0], bins, (signed > 0).astype(np.uint8))
        np.add.at(out[i, :, 1], bins, (signed < 0).astype(np.uint8))
    return out


def _digits_odg(config: TrainConfig, T: int) -> DataBundle:
    from sklearn.datasets import load_digits

    width, height, polarities = config.data.sensor_size or (34, 34, 2)
    if width != height or polarities != 2:
        raise ValueError(
            f"digits_odg makes square two-polarity frames; got --sensor-size {width} {height} "
            f"{polarities} (for example 34 34 2, N-MNIST's)"
        )
    raw = load_digits()
    labels = np.asarray(raw.target, dtype=np.int64)
    dataset = _FrameTensor(odg_frames(raw.images / 16.0, width, T), labels)
    return _bundle(_pooled(dataset, config), (width, height, 2), 10, T)


register_recipe(
    Recipe(
        name="digits_odg",
        summary="scikit-learn's digits made into event frames by ODG (ES-ImageNet's "
        "image-to-event conversion) on a --sensor-size sensor (default 34x34, N-MNIST's): "
        "static images as events, for pretraining before event data (pipeD)",
        layout="sequence",
        T=8,
        default_model="event_csnn",
        num_classes=10,
        input_shape=None,
        needs_root=False,
        build=_digits_odg,
    )
)


def _audio(config: TrainConfig, T: int) -> DataBundle:
    from spikestack.data.audio import AudioFrames
    from spikestack.data.datasets import AudioFolder

    root = Path(config.data.root or "").expanduser().resolve()
    d = config.data
    frames = AudioFrames(T=T, encoding=d.audio_encoding, n_mels=d.n_mels, hop_ms=d.hop_ms)
    dataset = AudioFolder(root, frames=frames)
    labels = dataset.targets
    num_classes = max(len(dataset.classes or ()), max(labels) + 1 if labels else 0)
    bundle = _bundle(_pooled(dataset, config), (frames.channels, 1, 1), num_classes, T)
    bundle.info.update(encoding=d.audio_encoding, channels=frames.channels)
    return bundle


register_recipe(
    Recipe(
        name="audio",
        summary="a folder of WAV recordings (class sub-folders, or a 'sample<TAB>class' "
        "labels file as the Free Spoken Digit Dataset's), encoded by --audio-encoding",
        layout="sequence",
        T=40,
        default_model="mlp_snn",
        num_classes=None,
        input_shape=None,
        needs_root=True,
        build=_audio,
    )
)
