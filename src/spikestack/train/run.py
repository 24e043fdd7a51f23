"""Build a training run from a :class:`TrainConfig`: data, model, optimiser, engine.

Used by the ``spikestack train | eval | resume`` commands and usable from Python:
``result = run_training(TrainConfig.from_dict({"run": {"epochs": 5}}))``.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Sampler

from spikestack import surrogates
from spikestack.layers import (
    LastStep,
    MaxOverTime,
    TemporalWeightingDecoder,
    event_driven,
    optimize,
    sparse_summary,
)
from spikestack.models import create_model, model_info
from spikestack.train.augment import make_augment
from spikestack.train.config import TrainConfig
from spikestack.train.engine import Engine, is_main_process
from spikestack.train.losses import create_loss
from spikestack.train.optim import build_optimizer, build_scheduler, wrap_pruner
from spikestack.train.recipes import RECIPES, DataBundle, build_data


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
    """``auto``: the default model the data set's recipe declares."""
    name = config.model.name
    return data.default_model if name == "auto" else name  # type: ignore[return-value]


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
    m = config.model
    info = model_info(name)
    # the engine feeds [T, B, ...] (encoded or framed by the recipe), and reads per-step outputs
    kwargs: dict[str, Any] = {
        "num_classes": data.num_classes,
        "T": data.T,
        "input_layout": "sequence",
        "mean_output": False,
        "neuron": m.neuron,
        "neuron_kwargs": dict(m.neuron_kwargs),
        "surrogate": surrogates.get(m.surrogate),
        "backend": m.backend,
    }
    if info.input_arg == "in_features":
        kwargs["in_features"] = int(np.prod(data.input_shape))
    elif info.input_arg == "in_channels":
        kwargs["in_channels"] = data.input_shape[0]
    kwargs.update(m.model_kwargs)
    model = create_model(name, **kwargs)
    decoders = {"temporal_weighting": lambda: TemporalWeightingDecoder(data.T),
                "max": MaxOverTime, "last": LastStep}  # fmt: skip
    if m.decoder in decoders:
        model = DecodedModel(model, decoders[m.decoder]())
    elif m.decoder != "mean":
        raise ValueError(
            f"decoder must be mean, max, last or temporal_weighting; got {m.decoder!r}"
        )
    if m.quantize is not None:
        from spikestack.deploy.quantize import quantize

        model = quantize(model, m.quantize)
    if config.run.sync_bn and dist.is_available() and dist.is_initialized():
        if resolve_device(config.run.device).type != "cuda":
            raise ValueError(
                "--sync-bn needs CUDA devices (torch's SyncBatchNorm does not run on the CPU)"
            )
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return model


def default_run_dir(config: TrainConfig) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{config.model.name}-{config.data.name}-{stamp}".replace("auto-", "")


def _loader(dataset: Any, config: TrainConfig, *, shuffle: bool, distributed: bool) -> DataLoader:
    batch, seed = config.data.batch_size, config.run.seed
    if distributed:
        from torch.utils.data.distributed import DistributedSampler

        world = dist.get_world_size()
        if batch % world:
            raise ValueError(f"batch_size {batch} must be divisible by the {world} processes")
        sampler: Sampler[int] | None = DistributedSampler(dataset, shuffle=shuffle, seed=seed)
        batch //= world
    else:
        sampler = EpochShuffleSampler(len(dataset), seed=seed) if shuffle else None
    return DataLoader(
        dataset, batch_size=batch, sampler=sampler, num_workers=config.data.num_workers
    )


def build_engine(
    config: TrainConfig, run_dir: Path | None
) -> tuple[Engine, DataBundle, dict[str, DataLoader | None]]:
    distributed = setup_distributed()
    run = config.run
    seed_everything(run.seed, deterministic=run.deterministic)
    data = build_data(config)
    model = build_model(config, data)
    parts = {"train": data.train, "val": data.val, "test": data.test}
    loaders = {
        name: None
        if part is None
        else _loader(part, config, shuffle=name == "train", distributed=distributed)
        for name, part in parts.items()
    }
    if run.optimize is None:  # recorded resolved, in the run's config.json
        on_cpu = resolve_device(run.device).type == "cpu"
        run.optimize = RECIPES.get(config.data.name).optimize and on_cpu
    report = None
    if run.optimize:  # before the optimiser and DDP take the parameters
        model, report = _optimize(model, data, loaders["train"] or loaders["test"], config)
    optimizer = build_optimizer(model, config.optim)
    scheduler = build_scheduler(optimizer, config.optim, epochs=run.epochs)
    steps_per_epoch = len(loaders["train"]) if loaders["train"] is not None else 1
    optimizer = wrap_pruner(
        model, optimizer, scheduler, config.optim, epochs=run.epochs,
        steps_per_epoch=steps_per_epoch,
    )  # fmt: skip
    amp_dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(run.amp_dtype)
    if amp_dtype is None:
        raise ValueError(f"amp_dtype must be bfloat16 or float16; got {run.amp_dtype!r}")
    engine = Engine(
        model,
        optimizer,
        loss=create_loss(config.optim.loss, **config.optim.loss_kwargs),
        scheduler=scheduler,
        input_transform=data.input_transform,
        augment=data.augment,
        train_augment=train_augment(config.data.augment, data),
        device=resolve_device(run.device),
        run_dir=run_dir,
        amp=run.amp,
        amp_dtype=amp_dtype,
        grad_clip=config.optim.grad_clip,
        progress=run.progress,
        seed=run.seed,
        config=config.to_dict(),
        checkpoint_steps=config.optim.checkpoint_steps,
        tbptt=config.optim.tbptt,
        strict_health=run.strict_health,
        rate_penalty=config.optim.rate_penalty,
        online=config.optim.online,
        online_decay=config.optim.online_decay,
        eprop_feedback=config.optim.eprop_feedback,
        saved_membrane=run.saved_membrane,
    )
    engine.optimize_report = report
    if run.tensorboard:
        engine.enable_tensorboard()
    return engine, data, loaders


def train_augment(name: str, data: DataBundle) -> Any:
    """The ``--augment`` function for this data (None: no augmentation); ``auto`` is
    ``shift`` for event frames of at least 8x8 pixels and nothing for other data."""
    image_like = len(data.input_shape) == 3 and min(data.input_shape[1:]) >= 8
    if name == "auto":
        name = "shift" if image_like and data.layout == "sequence" else "none"
    if name != "none" and not image_like:
        raise ValueError(
            f"--augment {name} moves pixels, and needs images or frames of at least 8x8; "
            f"this data's samples are {tuple(data.input_shape)} per step"
        )
    return make_augment(name)


_CHECK_SAMPLES = 8  # --optimize checks its choice in float64 on this many samples


def _optimize(
    model: nn.Module, data: DataBundle, loader: DataLoader | None, config: TrainConfig
) -> tuple[nn.Module, Any]:
    """``spikestack.optimize`` in place for training, timed on the first batch."""
    if loader is None:
        raise ValueError("--optimize needs a batch to time the model on; the data set has none")
    device = resolve_device(config.run.device)
    model = model.to(device)
    x = next(iter(loader))[0].to(device)
    # timed on the whole batch, checked in float64 on a few of its samples
    check = data.input_transform(x[:_CHECK_SAMPLES], None)
    return optimize_everywhere(model, data.input_transform(x, None), check)


def optimize_everywhere(
    model: nn.Module, example: torch.Tensor, check: torch.Tensor | None = None
) -> tuple[nn.Module, Any]:
    """``optimize`` in place for training (``check``: the float64 check's input, default
    ``example``); under torch.distributed rank 0 times and checks, and every other rank
    applies rank 0's choice (DDP needs the same parameter layout on every rank, and
    separate timings could choose differently)."""
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        optimized = optimize(model, example, training=True, inplace=True, check_input=check)
        return optimized, optimized.optimize_report
    choice: list[Any] = [None]
    if dist.get_rank() == 0:
        optimized = optimize(model, example, training=True, inplace=True, check_input=check)
        choice = [optimized.optimize_report.chosen]
    dist.broadcast_object_list(choice, src=0)
    if dist.get_rank() != 0:
        chosen = str(choice[0])
        optimized = optimize(
            model,
            example,
            training=True,
            inplace=True,
            check=False,
            channels_last="channels-last" in chosen,
            fast_kernels="fast kernels" in chosen,
            bn_in_neuron="BN in neuron" in chosen,
            compile="torch.compile" in chosen,
        )
    return optimized, optimized.optimize_report


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
    # from the history, so that a resumed run's summary has its earlier epochs' reports too
    result["health"] = [line for row in engine.history for line in row.get("health", [])]
    pruner_density = getattr(engine.optimizer, "density", None)
    if pruner_density is not None:
        result.update(density=pruner_density(), layer_densities=engine.optimizer.layer_densities())
    if is_main_process():
        (run_dir / "final.json").write_text(json.dumps(result, indent=2))
        from spikestack.train.plot import plot_run

        png = plot_run(run_dir)
        log(f"run folder: {run_dir}  (checkpoints/, metrics.jsonl, {png.name})")
        if "density" in result:
            log(f"density: {result['density']:.4f}")
        if result["health"]:
            log(f"training health: {len(result['health'])} problem(s), see final.json 'health'")
        if "test_accuracy" in result:
            log(f"test accuracy: {result['test_accuracy']:.4f}")
    return result


def run_training(config: TrainConfig, *, log: Any = print) -> dict[str, Any]:
    """Train from scratch as ``config`` says; returns the final metrics (``test_accuracy`` …)."""
    config.check()
    run_dir = Path(config.run.out) if config.run.out else default_run_dir(config)
    if (run_dir / "checkpoints").is_dir() and any((run_dir / "checkpoints").iterdir()):
        raise FileExistsError(
            f"{run_dir} already holds a run; use `spikestack resume {run_dir}` or another --out"
        )
    if config.model.pretrain_data is not None and config.model.pretrain_ann is None:
        raise ValueError("--pretrain-data names what --pretrain-ann N trains on; give both")
    if config.model.pretrain_ann is not None:
        if config.model.init_from is not None:
            raise ValueError("--pretrain-ann trains the ANN to start from; drop --init-from")
        ann = TrainConfig.from_dict(config.to_dict())
        ann.model.neuron, ann.model.neuron_kwargs = "relu", {}
        ann.model.pretrain_ann = None
        if config.model.pretrain_data is not None:  # pipeD: the same model, other data
            target = build_data(config)
            ann.model.name = resolve_model_name(config, target)
            ann.data.name, ann.data.root = config.model.pretrain_data, config.model.pretrain_root
            ann.data.T = None
            if target.layout == "sequence" and len(target.input_shape) == 3:
                polarities, height, width = target.input_shape
                ann.data.sensor_size = (width, height, polarities)
            ann.model.pretrain_data = ann.model.pretrain_root = None
        ann.run.epochs, ann.run.stop_after, ann.run.out = (
            config.model.pretrain_ann,
            None,
            str(run_dir / "ann"),
        )
        log(
            f"pretraining the ANN twin for {config.model.pretrain_ann} epoch(s) in {run_dir / 'ann'}"
        )
        run_training(ann, log=log)
        config.model.init_from = str(run_dir / "ann")
    engine, data, loaders = build_engine(config, run_dir)
    if engine.optimize_report is not None and is_main_process():
        log(str(engine.optimize_report))
    if config.model.init_from is not None:
        report = initialise_from(engine.model, config.model.init_from)
        log(f"initialised from {config.model.init_from}: {report}")
    if loaders["train"] is None:
        raise ValueError(
            f"{config.data.name} gives no training samples (--eval-all makes every sample test "
            "data: use it with `spikestack eval`)"
        )
    if is_main_process():
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
        (run_dir / "data.json").write_text(json.dumps(data.info, indent=2, default=str))
        log(
            f"training {resolve_model_name(config, data)} ({config.model.neuron}) on "
            f"{config.data.name}: {data.info}, T={data.T}, "
            f"{sum(p.numel() for p in engine.model.parameters()):,} parameters, device {engine.device}"
        )
    engine.fit(
        loaders["train"],
        loaders["val"],
        epochs=config.run.epochs,
        stop_after=config.run.stop_after,
        log=log,
    )
    return _finish(engine, loaders, run_dir, log)


def initialise_from(model: nn.Module, source: str | Path) -> Any:
    """Copy the weights of a run folder's newest checkpoint (or a checkpoint file) into
    ``model`` where names and shapes agree (:func:`spikestack.convert.transfer_weights`)."""
    from spikestack.convert import transfer_weights
    from spikestack.train.checkpoint import load_checkpoint, load_latest

    path = Path(source)
    if path.is_dir():
        state, _ = load_latest(path, map_location="cpu")
    elif path.is_file():
        state = load_checkpoint(path, map_location="cpu")
    else:
        raise FileNotFoundError(f"--init-from: no run folder or checkpoint at {path}")
    return transfer_weights(state["model"], model)


def load_run_config(run_dir: str | Path) -> TrainConfig:
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder (no config.json)")
    try:
        values = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON (damaged run folder?): {error}") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path} must hold a JSON object of config sections; got {values!r:.60}")
    config = TrainConfig.from_dict(values, where=f" of {path}")
    try:
        return config.check()
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def resume_training(
    run_dir: str | Path, *, epochs: int | None = None, log: Any = print
) -> dict[str, Any]:
    """Continue the run in ``run_dir`` from its newest readable checkpoint."""
    run_dir = Path(run_dir)
    config = load_run_config(run_dir)
    config.run.stop_after = None
    if epochs is not None:
        config.run.epochs = epochs
    engine, _, loaders = build_engine(config, run_dir)
    path = engine.resume()
    log(f"resumed {run_dir} from {path.name} (epoch {engine.epoch} of {config.run.epochs})")
    if engine.epoch < config.run.epochs:
        engine.fit(loaders["train"], loaders["val"], epochs=config.run.epochs, log=log)
    return _finish(engine, loaders, run_dir, log)


@dataclass
class LoadedRun:
    """A run folder's configuration, its engine with the newest readable checkpoint loaded,
    its data and loaders, and that checkpoint's path (see :func:`load_run`)."""

    config: TrainConfig
    engine: Engine
    data: DataBundle
    loaders: dict[str, DataLoader | None]
    checkpoint: Path

    def eval_loader(self) -> DataLoader:
        """The test loader, else validation, else training; a ValueError if there is none."""
        loader = self.loaders["test"] or self.loaders["val"] or self.loaders["train"]
        if loader is None:
            raise ValueError(f"{self.config.data.name} has no samples to evaluate on")
        return loader

    @property
    def network(self) -> nn.Module:
        """The per-step network: the model without its decoder (temporal weighting, max or
        last step), which stays outside NIR, energy counts and analysis."""
        model = self.engine.model
        return model.model if isinstance(model, DecodedModel) else model

    def inputs(self, batches: int | None = None) -> list[torch.Tensor]:
        """Up to ``batches`` evaluation batches as the network takes them ([T, B, ...])."""
        device = self.engine.device
        return [
            self.engine.input_transform(x.to(device), None)
            for x, _ in islice(self.eval_loader(), batches)
        ]


def load_run(
    run_dir: str | Path, *, overrides: dict[str, dict[str, Any]] | None = None
) -> LoadedRun:
    """Rebuild the run in ``run_dir`` from its config.json and newest readable checkpoint, on
    its own data or on other data: ``overrides`` maps config sections to options, e.g.
    ``{"data": {"name": "folder", "root": ...}}``."""
    from spikestack.train.checkpoint import load_latest

    run_dir = Path(run_dir)
    config = load_run_config(run_dir)
    for section, values in (overrides or {}).items():
        config.update(section, values)
    config.run.progress = False
    config.run.optimize = False  # (training-mode changes; analysis and eval use the model as saved)
    engine, data, loaders = build_engine(config, None)
    snn = converted_network(run_dir, engine.device)
    if snn is not None:  # a converted SNN: rebuilt from its source ANN and thresholds
        engine.model = engine.train_model = snn
        return LoadedRun(config, engine, data, loaders, run_dir / CONVERSION)
    state, path = load_latest(run_dir, map_location=engine.device)
    engine.model.load_state_dict(state["model"])
    return LoadedRun(config, engine, data, loaders, path)


CONVERSION = "conversion.json"  # in the run folder of an SNN made by ``spikestack convert``


def converted_network(run_dir: Path, device: torch.device) -> nn.Module | None:
    """The SNN of a run folder written by ``spikestack convert``, rebuilt from its source
    run's checkpoint and the saved thresholds; None for other run folders."""
    path = run_dir / CONVERSION
    if not path.is_file():
        return None
    from spikestack.convert import ann_to_snn, static_network

    record = json.loads(path.read_text())
    source = Path(record["source"])
    if not source.is_dir():
        raise FileNotFoundError(
            f"{run_dir} is an SNN converted from {source}, which is gone; convert again"
        )
    ann = static_network(load_run(source).network).eval()
    snn = ann_to_snn(
        ann, None, method=record["method"], T=int(record["T"]),
        thresholds=record["thresholds"], sample_dims=int(record["sample_dims"]),
    )  # fmt: skip
    return snn.to(device)


def evaluate_run(
    run_dir: str | Path,
    *,
    overrides: dict[str, dict[str, Any]] | None = None,
    sparse: str | None = None,
    log: Any = print,
) -> dict[str, Any]:
    """Accuracy of the newest checkpoint of ``run_dir`` on its test data, or on other data
    (``overrides``, as for :func:`load_run`). ``sparse`` ("auto", "sparse" or "dense")
    evaluates with event-driven synaptic layers (:func:`spikestack.layers.event_driven`) and
    adds their per-layer paths, rates and synaptic operations as ``result["sparse"]``."""
    run = load_run(run_dir, overrides=overrides)
    if sparse is not None:
        if run.engine.device.type != "cpu":
            raise ValueError(
                f"--sparse runs on the CPU (numba kernels); got --device {run.engine.device}"
            )
        run.engine.model = event_driven(run.engine.model, mode=sparse)
    start = time.perf_counter()
    result = run.engine.evaluate(run.eval_loader(), desc="eval")
    seconds = time.perf_counter() - start
    data = run.config.data
    log(
        f"evaluated {run.checkpoint.name} on {result['count']} samples of {data.name}"
        f"{' at ' + str(data.root) if data.root else ''} in {seconds:.1f} s"
    )
    if sparse is not None:
        result["sparse"] = sparse_summary(run.engine.model)
        log(_sparse_table(result["sparse"], result["count"], sparse))
    log(f"test accuracy: {result['acc']:.4f}")
    return result


def _sparse_table(rows: list[dict[str, Any]], samples: int, mode: str) -> str:
    lines = [
        f"event-driven inference ({mode}):",
        f"  {'layer':24} {'type':7} {'input rate':>10} {'input':>6} {'crossover':>9}"
        f" {'event/dense calls':>17} {'SOP/sample':>11} {'MAC/sample':>11}",
    ]
    for row in rows:
        scanned = row["input_rate"] is not None
        rate = f"{100 * row['input_rate']:.2f} %" if scanned else "-"
        kind = ("spikes" if row["spike_calls"] else "values") if scanned else "-"
        cross = f"{100 * min(row['crossover']):.1f} %" if row["crossover"] else "-"
        calls = f"{row['event_driven_calls']}/{row['dense_calls']}"
        n = max(samples, 1)
        lines.append(
            f"  {row['layer'][:24]:24} {row['type']:7} {rate:>10} {kind:>6} {cross:>9}"
            f" {calls:>17} {row['sops'] / n:11.4g} {row['macs'] / n:11.4g}"
        )
    return "\n".join(lines)
