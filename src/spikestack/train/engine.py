"""The training engine: epochs of BPTT with surrogate gradients, checkpoints, metrics.

    engine = Engine(model, optimizer, loss=create_loss("ce"), run_dir="runs/x")
    engine.fit(train_loader, val_loader, epochs=10)
    engine.evaluate(test_loader)

Batches are ``(x, y)``; ``input_transform(x, generator)`` turns ``x`` into the
model's ``[T, B, ...]`` input (an encoder for static data, a transpose for event
frames). The model returns per-step outputs ``[T, B, classes]`` (or ``[B, classes]``);
the prediction is the mean over time.

Under ``torch.distributed`` the engine wraps the model in DDP, logs and writes
checkpoints on rank 0 only, and averages metrics over ranks.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from spikestack.analysis.monitors import FiringRateMonitor
from spikestack.atomic import atomic_write
from spikestack.kernels.saved import saved_dtype, saved_membrane
from spikestack.neurons.base import reset as reset_states
from spikestack.train.checkpoint import load_latest, save_checkpoint
from spikestack.train.health import TrainingHealth
from spikestack.train.losses import Loss, RateSparsity, as_sequence
from spikestack.train.memory import (
    TruncatedBPTT,
    check_windowable,
    checkpointed_forward,
    window_caveats,
)
from spikestack.train.online import OnlineTraining
from spikestack.train.rng import rng_state, set_rng_state

InputTransform = Callable[[Tensor, "torch.Generator | None"], Tensor]


def _identity(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    return x


def is_main_process() -> bool:
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def _all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    if not (dist.is_available() and dist.is_initialized()):
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


class Engine:
    """Fit, evaluate, checkpoint and resume a spiking model."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        *,
        loss: Loss,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
        input_transform: InputTransform = _identity,
        augment: Callable[[Tensor, torch.Generator | None], Tensor] | None = None,
        train_augment: Callable[[Tensor, torch.Generator | None], Tensor] | None = None,
        device: str | torch.device = "cpu",
        run_dir: str | Path | None = None,
        amp: bool = False,
        amp_dtype: torch.dtype = torch.bfloat16,
        grad_clip: float | None = None,
        progress: bool = True,
        seed: int = 0,
        config: dict[str, Any] | None = None,
        checkpoint_steps: int | None = None,
        tbptt: int | None = None,
        strict_health: bool = False,
        rate_penalty: float = 0.0,
        online: str | None = None,
        online_decay: float = 0.5,
        eprop_feedback: str = "symmetric",
        saved_membrane: str = "float32",
    ) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.train_model: nn.Module = self.model
        if dist.is_available() and dist.is_initialized():
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            self.train_model = nn.parallel.DistributedDataParallel(
                self.model, device_ids=device_ids
            )
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.loss = loss
        self.input_transform = input_transform
        self.augment = augment  # the two views of siamese losses
        self.train_augment = train_augment  # every training batch, before input_transform
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.amp = amp
        self.amp_dtype = amp_dtype
        # the dtype the fused neurons keep H in for backward (checked now, used per forward)
        self.saved_membrane = saved_dtype(saved_membrane)
        self.grad_clip = grad_clip
        self.progress = progress and is_main_process()
        self.seed = seed
        self.config = config or {}
        use_scaler = amp and self.device.type == "cuda" and amp_dtype == torch.float16
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=use_scaler)
        modes = {"checkpoint_steps": checkpoint_steps, "tbptt": tbptt, "online": online}
        chosen = [name for name, value in modes.items() if value is not None]
        if len(chosen) > 1:
            raise ValueError(
                f"choose one of checkpoint_steps, tbptt and online; got {', '.join(chosen)}"
            )
        if chosen:
            what = {"checkpoint_steps": "checkpointed BPTT", "tbptt": "truncated BPTT",
                    "online": f"online training ({online})"}[chosen[0]]  # fmt: skip
            if getattr(loss, "views", 1) == 2:
                raise ValueError(f"{what} does not run two-view (siamese) losses")
            check_windowable(self.model, what)
            caveats = window_caveats(self.model)
            if caveats:
                warnings.warn(
                    f"{what} runs the model in windows, and these layers see one window at a "
                    f"time: {', '.join(caveats)}",
                    stacklevel=2,
                )
        self.checkpoint_steps = checkpoint_steps
        # the modes that backpropagate inside the sequence, window by window or step by step
        self.tbptt: TruncatedBPTT | OnlineTraining | None = None
        if tbptt is not None:
            self.tbptt = TruncatedBPTT(tbptt)
        elif online is not None:
            self.tbptt = OnlineTraining(
                self.model, online, decay=online_decay, feedback=eprop_feedback, seed=seed
            )
        self.health = TrainingHealth(self.model, strict=strict_health)
        self.rates = RateSparsity(self.model, rate_penalty) if rate_penalty else None
        self.epoch = 0
        self.history: list[dict[str, Any]] = []
        self.tensorboard: Any = None
        self.optimize_report: Any = None  # set by `spikestack train --optimize`

    def enable_tensorboard(self) -> None:
        """Also log each epoch's scalars to ``run_dir/tensorboard`` (needs the tensorboard package)."""
        if self.run_dir is None or not is_main_process():
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as error:
            raise RuntimeError(
                "TensorBoard logging needs the tensorboard package: pip install tensorboard"
            ) from error
        self.tensorboard = SummaryWriter(str(self.run_dir / "tensorboard"))

    # -- one pass -----------------------------------------------------------------
    def _autocast(self) -> Any:
        """The forward's context: autocast (with ``amp``) and the dtype the fused neurons
        keep their membrane in for backward."""
        stack = contextlib.ExitStack()
        stack.enter_context(
            torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp)
        )
        stack.enter_context(saved_membrane(self.saved_membrane))
        return stack

    def _batches(self, loader: Iterable[Any], desc: str) -> Iterable[Any]:
        if not self.progress:
            return loader
        from tqdm.auto import tqdm

        return tqdm(loader, desc=desc, leave=False, dynamic_ncols=True)

    def train_epoch(self, loader: Iterable[Any]) -> dict[str, Any]:
        """One epoch of training; returns mean loss, accuracy and the mean firing rate."""
        self.train_model.train()
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        sampler = getattr(loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(self.epoch)
        total_loss = correct = count = 0.0
        health: list[str] = []
        bar = self._batches(loader, f"epoch {self.epoch + 1}")
        penalised = self.rates if self.rates is not None else contextlib.nullcontext()
        with FiringRateMonitor(self.model) as monitor, self.health, penalised:
            loss_fn = self._penalised(self.loss)
            for x, y in bar:
                x, y = x.to(self.device), y.to(self.device)
                if self.train_augment is not None and getattr(self.loss, "views", 1) == 1:
                    x = self.train_augment(x, generator)
                with self._autocast():
                    if getattr(self.loss, "views", 1) == 2:
                        if self.augment is None:
                            raise ValueError("a two-view (siamese) loss needs an augment function")
                        view_a = self.input_transform(self.augment(x, generator), generator)
                        view_b = self.input_transform(self.augment(x, generator), generator)
                        both = self.train_model(torch.cat([view_a, view_b], dim=1))
                        output, output_b = both.chunk(2, dim=-2 if both.dim() == 3 else 0)
                        loss = self._penalised(self.loss.__call__)(
                            output.float(), output_b.float(), y
                        )
                    elif self.tbptt is not None:  # backward window by window, inside
                        self.optimizer.zero_grad(set_to_none=True)
                        output, loss = self.tbptt.run(
                            self.train_model, self.input_transform(x, generator), y, loss_fn,
                            lambda part: self.scaler.scale(part).backward(),
                        )  # fmt: skip
                    else:
                        inputs = self.input_transform(x, generator)
                        if self.checkpoint_steps is not None:
                            output = checkpointed_forward(
                                self.train_model, inputs, self.checkpoint_steps
                            )
                        else:
                            output = self.train_model(inputs)
                        loss = loss_fn(output.float(), y)
                if not torch.isfinite(loss):  # skip the update (an error with strict health)
                    line = self.health.nonfinite_loss(float(loss.detach()), self.epoch + 1)
                    health += [line] if line else []
                    self.optimizer.zero_grad(set_to_none=True)
                    reset_states(self.model)
                    continue
                if self.tbptt is None:
                    self.optimizer.zero_grad(set_to_none=True)
                    self.scaler.scale(loss).backward()
                if not self.scaler.is_enabled():  # scaled float16 gradients would mislead it
                    self.health.after_backward()
                if self.grad_clip is not None:
                    self.scaler.unscale_(self.optimizer)
                    nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
                self.scaler.step(self.optimizer)
                self.scaler.update()
                reset_states(self.model)
                n = y.shape[0]
                total_loss += float(loss.detach()) * n
                correct += _correct(output.detach(), y)
                count += n
                if self.progress:
                    extra = {}
                    if hasattr(self.optimizer, "density"):
                        extra["density"] = f"{self.optimizer.density():.4f}"
                    bar.set_postfix(
                        loss=f"{total_loss / count:.4f}",
                        acc=f"{correct / count:.3f}",
                        rate=f"{monitor.mean_rate():.3f}",
                        **extra,
                    )
            health += self.health.end_epoch(monitor.rates(), self.epoch + 1)
        total_loss, correct, count = _all_reduce_sum([total_loss, correct, count], self.device)
        return {
            "loss": total_loss / max(count, 1),
            "acc": correct / max(count, 1),
            "firing_rate": monitor.mean_rate(),
            "health": health,
        }

    @torch.no_grad()
    def evaluate(self, loader: Iterable[Any], *, desc: str = "eval") -> dict[str, Any]:
        """Loss, accuracy and per-layer firing rates / spike counts on ``loader``."""
        self.model.eval()
        total_loss = correct = count = 0.0
        with FiringRateMonitor(self.model) as monitor:
            for x, y in self._batches(loader, desc):
                x, y = x.to(self.device), y.to(self.device)
                inputs = self.input_transform(x, None)
                with self._autocast():
                    output = self.model(inputs)
                    loss = self._eval_loss(output.float(), y)
                reset_states(self.model)
                n = y.shape[0]
                total_loss += float(loss) * n
                correct += _correct(output, y)
                count += n
        total_loss, correct, count = _all_reduce_sum([total_loss, correct, count], self.device)
        return {
            "loss": total_loss / max(count, 1),
            "acc": correct / max(count, 1),
            "count": int(count),
            "firing_rate": monitor.mean_rate(),
            "layer_firing_rates": monitor.rates(),
            "layer_spike_counts": monitor.spike_counts(),
        }

    def _penalised(self, loss: Callable[..., Tensor]) -> Callable[..., Tensor]:
        """``loss`` plus the rate penalty of the forward passes since it was last added."""
        if self.rates is None:
            return loss
        rates = self.rates
        return lambda *args: loss(*args) + rates.take().to(args[0].device)

    def _eval_loss(self, output: Tensor, target: Tensor) -> Tensor:
        if getattr(self.loss, "views", 1) == 2:
            return self.loss.base(output, target)  # type: ignore[attr-defined]
        return self.loss(output, target)

    # -- the loop -----------------------------------------------------------------
    def fit(
        self,
        train_loader: Iterable[Any],
        val_loader: Iterable[Any] | None = None,
        *,
        epochs: int,
        stop_after: int | None = None,
        log: Callable[[str], None] = print,
    ) -> list[dict[str, Any]]:
        """Train until ``epochs`` epochs are done (continuing from ``self.epoch`` after a resume).

        ``stop_after`` ends this call after that many epochs in total while schedules still
        plan for ``epochs`` (a time-limited job that ``resume`` continues later).
        """
        if epochs < 1:
            raise ValueError(f"epochs must be >= 1; got {epochs}")
        last = epochs if stop_after is None else min(epochs, stop_after)
        while self.epoch < last:
            start = time.perf_counter()
            train = self.train_epoch(train_loader)
            row: dict[str, Any] = {
                "epoch": self.epoch + 1,
                "lr": self.optimizer.param_groups[0]["lr"],
                "train_loss": train["loss"],
                "train_acc": train["acc"],
                "train_firing_rate": train["firing_rate"],
            }
            if train["health"]:
                row["health"] = train["health"]
            if hasattr(self.optimizer, "density"):  # a pruner (spikestack.prune)
                row["density"] = self.optimizer.density()
                row["layer_densities"] = self.optimizer.layer_densities()
            if self.scheduler is not None:
                self.scheduler.step()
            if val_loader is not None:
                val = self.evaluate(val_loader, desc="val")
                row.update(
                    val_loss=val["loss"],
                    val_acc=val["acc"],
                    val_firing_rate=val["firing_rate"],
                    layer_firing_rates=val["layer_firing_rates"],
                )
            row["seconds"] = time.perf_counter() - start
            self.epoch += 1
            self.history.append(row)
            if is_main_process():
                msg = f"epoch {row['epoch']}/{epochs}  loss {row['train_loss']:.4f}  acc {row['train_acc']:.4f}"
                if "val_acc" in row:
                    msg += f"  val_acc {row['val_acc']:.4f}"
                if "density" in row:
                    msg += f"  density {row['density']:.4f}"
                log(msg + f"  rate {row['train_firing_rate']:.3f}  ({row['seconds']:.1f}s)")
                for line in row.get("health", []):
                    log(f"  health: {line}")
                self._write_metrics(row)
                self.save()
        return self.history

    # -- persistence ----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "rng": rng_state(),
            "history": json.loads(json.dumps(self.history)),
            "config": json.loads(json.dumps(self.config)),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.epoch = int(state["epoch"])
        self.history = list(state.get("history", []))
        set_rng_state(state["rng"])

    def save(self) -> Path | None:
        if self.run_dir is None or not is_main_process():
            return None
        return save_checkpoint(self.state_dict(), self.run_dir, self.epoch)

    def resume(self) -> Path:
        """Load the newest readable checkpoint of ``run_dir`` and continue from it."""
        if self.run_dir is None:
            raise ValueError("resume needs a run_dir")
        state, path = load_latest(self.run_dir, map_location=self.device)
        self.load_state_dict(state)
        if is_main_process():  # metrics.jsonl must match the checkpoint's history
            self._rewrite_metrics()
        return path

    def _write_metrics(self, row: dict[str, Any]) -> None:
        if self.run_dir is None:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with (self.run_dir / "metrics.jsonl").open("a") as f:
            f.write(json.dumps(_jsonable(row)) + "\n")
        if self.tensorboard is not None:
            for key, value in row.items():
                if isinstance(value, (int, float)) and key != "epoch":
                    self.tensorboard.add_scalar(key, value, row["epoch"])
            for name, rate in (row.get("layer_firing_rates") or {}).items():
                self.tensorboard.add_scalar(f"firing_rate/{name}", rate, row["epoch"])
            self.tensorboard.flush()

    def _rewrite_metrics(self) -> None:
        if self.run_dir is None:
            return
        text = "".join(json.dumps(_jsonable(r)) + "\n" for r in self.history)
        atomic_write(self.run_dir / "metrics.jsonl", lambda f: f.write(text.encode()))


def _correct(output: Tensor, target: Tensor) -> float:
    """Correct class predictions (mean output over time, argmax); NaN for regression
    (float) targets, where there is no class to get right."""
    if target.is_floating_point():
        return math.nan
    return float((as_sequence(output).mean(0).argmax(-1) == target).sum())


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        out[key] = value
    return out
