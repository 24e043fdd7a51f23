"""Training configuration: one dataclass, settable by CLI flags or a TOML file."""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass
class TrainConfig:
    """Every option of a training run; the resolved config is written to ``config.json``."""

    data: str = "digits"
    root: str | None = None
    model: str = "auto"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    neuron: str = "lif"
    neuron_kwargs: dict[str, Any] = field(default_factory=dict)
    surrogate: str = "atan"
    backend: str = "auto"
    T: int = 4
    encoding: str = "direct"
    frames: int = 10
    sensor_size: tuple[int, int, int] | None = None
    epochs: int = 12
    stop_after: int | None = None
    batch_size: int = 64
    lr: float = 5e-3
    optimizer: str = "adamw"
    momentum: float = 0.9
    weight_decay: float = 0.0
    scheduler: str = "cosine"
    warmup_epochs: int = 0
    step_size: int = 10
    gamma: float = 0.1
    loss: str = "ce"
    decoder: str = "mean"
    loss_kwargs: dict[str, Any] = field(default_factory=dict)
    grad_clip: float | None = None
    amp: bool = False
    amp_dtype: str = "bfloat16"
    seed: int = 0
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    num_workers: int = 0
    device: str = "auto"
    out: str | None = None
    sync_bn: bool = False
    deterministic: bool = False
    progress: bool = True
    tensorboard: bool = False
    max_samples: int | None = None
    eval_all: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            import difflib

            hints = [
                k
                + (
                    f" (did you mean {m[0]!r}?)"
                    if (m := difflib.get_close_matches(k, known, n=1))
                    else ""
                )
                for k in unknown
            ]
            raise ValueError(f"unknown config option(s): {', '.join(hints)}")
        values = dict(values)
        if values.get("sensor_size") is not None:
            values["sensor_size"] = tuple(values["sensor_size"])
        return cls(**values)

    @classmethod
    def from_toml(cls, path: str | Path) -> TrainConfig:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        with path.open("rb") as f:
            try:
                values = tomllib.load(f)
            except tomllib.TOMLDecodeError as error:
                raise ValueError(f"{path} is not valid TOML: {error}") from error
        return cls.from_dict(values.get("train", values))
