"""Build a training run from a :class:`TrainConfig`: data, model, optimiser, engine.

Used by the ``spikestack train | eval | resume`` commands and usable from Python:
``result = run_training(TrainConfig(epochs=5))``.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Sampler

from spikestack import surrogates
from spikestack.models import create_model
from spikestack.train.config import TrainConfig
from spikestack.train.data import DataBundle, build_data, time_major
from spikestack.train.engine import Engine, is_main_process
from spikestack.train.losses import create_loss
from spikestack.train.optim import build_optimizer, build_scheduler


class EpochShuffleSampler(Sampler[int]):
    """Random order that depends only on (seed, epoch): resuming replays the same order."""

    def __init__(self, length: int, *, seed: int) -> None:
        self.length = length
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(self.seed * 7_919 + self.epoch)
        return iter(torch.randperm(self.length, generator=g).tolist())

    def __len__(self) -> int:
        return self.length


def seed_everything(seed: int, *, deterministic: bool = False) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if dist.is_available() and dist.is_initialized() and torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def setup_distributed() -> bool:
    """Initialise the process group when launched by ``torchrun`` (WORLD_SIZE > 1)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    return True


def resolve_model_name(config: TrainConfig, data: DataBundle) -> str:
    """``auto``: digits_csnn for 8×8 images, event_csnn for 2-D frames, mlp_snn for 1-D sensors."""
    if config.model != "auto":
        return config.model
    if data.input_shape == (1, 8, 8):
        return "digits_csnn"
    return "mlp_snn" if len(data.input_shape) < 3 or data.input_shape[1] == 1 else "event_csnn"


class DecodedModel(nn.Module):
    """A per-step model followed by a decoder ``[T, B, C] -> [B, C]``."""

    def __init__(self, model: nn.Module, decoder: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.decoder = decoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.model(x))


def build_model(config: TrainConfig, data: DataBundle) -> nn.Module:
    name = resolve_model_name(config, data)
    kwargs: dict[str, Any] = {
        "num_classes": data.num_classes,
        "in_channels": data.input_shape[0],
        "neuron": config.neuron,
        "neuron_kwargs": dict(config.neuron_kwargs),
        "surrogate": surrogates.get(config.surrogate),
        "backend": config.backend,
        "mean_output": False,
    }
    if name == "mlp_snn":
        kwargs["in_features"] = int(np.prod(data.input_shape))
    kwargs.update(config.model_kwargs)
    model = create_model(name, **kwargs)
    if config.decoder == "temporal_weighting":
        from spikestack.layers import TemporalWeightingDecoder

        steps = config.T if data.input_transform is not time_major else config.frames
        model = DecodedModel(model, TemporalWeightingDecoder(steps))
    elif config.decoder != "mean":
        raise ValueError(f"decoder must be mean or temporal_weighting; got {config.decoder!r}")
    if config.sync_bn and dist.is_available() and dist.is_initialized():
        if resolve_device(config.device).type != "cuda":
            raise ValueError(
                "--sync-bn needs CUDA devices (torch's SyncBatchNorm does not run on the CPU)"
            )
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return model


def default_run_dir(config: TrainConfig) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{config.model}-{config.data}-{stamp}".replace("auto-", "")


def _loader(dataset: Any, config: TrainConfig, *, shuffle: bool, distributed: bool) -> DataLoader:
    batch = config.batch_size
    if distributed:
        from torch.utils.data.distributed import DistributedSampler

        world = dist.get_world_size()
        if batch % world:
            raise ValueError(f"batch_size {batch} must be divisible by the {world} processes")
        sampler: Sampler[int] | None = DistributedSampler(
            dataset, shuffle=shuffle, seed=config.seed
        )
        batch //= world
    else:
        sampler = EpochShuffleSampler(len(dataset), seed=config.seed) if shuffle else None
    return DataLoader(dataset, batch_size=batch, sampler=sampler, num_workers=config.num_workers)


def build_engine(
    config: TrainConfig, run_dir: Path | None
) -> tuple[Engine, DataBundle, dict[str, DataLoader | None]]:
    distributed = setup_distributed()
    seed_everything(config.seed, deterministic=config.deterministic)
    data = build_data(config)
    model = build_model(config, data)
    optimizer = build_optimizer(model, config)
    scheduler = build_scheduler(optimizer, config)
    amp_dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(config.amp_dtype)
    if amp_dtype is None:
        raise ValueError(f"amp_dtype must be bfloat16 or float16; got {config.amp_dtype!r}")
    engine = Engine(
        model,
        optimizer,
        loss=create_loss(config.loss, **config.loss_kwargs),
        scheduler=scheduler,
        input_transform=data.input_transform,
        augment=data.augment,
        device=resolve_device(config.device),
        run_dir=run_dir,
        amp=config.amp,
        amp_dtype=amp_dtype,
        grad_clip=config.grad_clip,
        progress=config.progress,
        seed=config.seed,
        config=config.to_dict(),
    )
    if config.tensorboard:
        engine.enable_tensorboard()
    loaders = {
        "train": _loader(data.train, config, shuffle=True, distributed=distributed),
        "val": _loader(data.val, config, shuffle=False, distributed=distributed)
        if data.val is not None
        else None,
        "test": _loader(data.test, config, shuffle=False, distributed=distributed)
        if data.test is not None
        else None,
    }
    return engine, data, loaders


def _finish(
    engine: Engine, loaders: dict[str, DataLoader | None], run_dir: Path, log: Any
) -> dict[str, Any]:
    result: dict[str, Any] = {"run_dir": str(run_dir), "epochs": engine.epoch}
    test_loader = loaders["test"] or loaders["val"]
    if test_loader is not None:
        test = engine.evaluate(test_loader, desc="test")
        result.update(
            test_accuracy=test["acc"],
            test_loss=test["loss"],
            test_count=test["count"],
            test_firing_rate=test["firing_rate"],
            layer_firing_rates=test["layer_firing_rates"],
            layer_spike_counts=test["layer_spike_counts"],
        )
    if is_main_process():
        (run_dir / "final.json").write_text(json.dumps(result, indent=2))
        from spikestack.train.plot import plot_run

        png = plot_run(run_dir)
        log(f"run folder: {run_dir}  (checkpoints/, metrics.jsonl, {png.name})")
        if "test_accuracy" in result:
            log(f"test accuracy: {result['test_accuracy']:.4f}")
    return result


def run_training(config: TrainConfig, *, log: Any = print) -> dict[str, Any]:
    """Train from scratch as ``config`` says; returns the final metrics (``test_accuracy`` …)."""
    run_dir = Path(config.out) if config.out else default_run_dir(config)
    if (run_dir / "checkpoints").is_dir() and any((run_dir / "checkpoints").iterdir()):
        raise FileExistsError(
            f"{run_dir} already holds a run; use `spikestack resume {run_dir}` or another --out"
        )
    engine, data, loaders = build_engine(config, run_dir)
    if is_main_process():
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
        log(
            f"training {config.model} ({config.neuron}) on {config.data}: {data.info}, T={config.T}, "
            f"{sum(p.numel() for p in engine.model.parameters()):,} parameters, device {engine.device}"
        )
    engine.fit(
        loaders["train"],
        loaders["val"],
        epochs=config.epochs,
        stop_after=config.stop_after,
        log=log,
    )
    return _finish(engine, loaders, run_dir, log)


def load_run_config(run_dir: str | Path) -> TrainConfig:
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder (no config.json)")
    return TrainConfig.from_dict(json.loads(path.read_text()))


def resume_training(
    run_dir: str | Path, *, epochs: int | None = None, log: Any = print
) -> dict[str, Any]:
    """Continue the run in ``run_dir`` from its newest readable checkpoint."""
    run_dir = Path(run_dir)
    config = load_run_config(run_dir)
    config.stop_after = None
    if epochs is not None:
        config.epochs = epochs
    engine, _, loaders = build_engine(config, run_dir)
    path = engine.resume()
    log(f"resumed {run_dir} from {path.name} (epoch {engine.epoch} of {config.epochs})")
    if engine.epoch < config.epochs:
        engine.fit(loaders["train"], loaders["val"], epochs=config.epochs, log=log)
    return _finish(engine, loaders, run_dir, log)


def evaluate_run(
    run_dir: str | Path, *, overrides: dict[str, Any] | None = None, log: Any = print
) -> dict[str, Any]:
    """Accuracy of the newest checkpoint of ``run_dir`` on its test data or on other data (``overrides``)."""
    from spikestack.train.checkpoint import load_latest

    run_dir = Path(run_dir)
    config = load_run_config(run_dir)
    for key, value in (overrides or {}).items():
        setattr(config, key, value)
    config.progress = False
    engine, data, loaders = build_engine(config, None)
    state, path = load_latest(run_dir, map_location=engine.device)
    engine.model.load_state_dict(state["model"])
    loader = loaders["test"] or loaders["val"] or loaders["train"]
    result = engine.evaluate(loader, desc="eval")
    log(
        f"evaluated {path.name} on {result['count']} samples of {config.data}"
        f"{' at ' + str(config.root) if config.root else ''}"
    )
    log(f"test accuracy: {result['acc']:.4f}")
    return result
