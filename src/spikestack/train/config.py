"""Training configuration in four sections: data, model, optim and run.

``TrainConfig`` holds one dataclass per section; a TOML file has tables of the same
names, and every field is also a flag of ``spikestack train`` (see :data:`FLAGS` for the
few whose flag differs from the field name):

    [data]                      [model]                     [optim]           [run]
    name = "digits"             name = "auto"               lr = 0.005        epochs = 12
    T = 4                       neuron = "lif"              optimizer = "adamw"
                                model_kwargs = {channels = 16}

Unknown sections and keys are rejected with the closest known name. The resolved
configuration is written to each run folder's ``config.json`` in the same layout.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "DataConfig",
    "FLAGS",
    "ModelConfig",
    "OptimConfig",
    "RunConfig",
    "SECTIONS",
    "TrainConfig",
]


@dataclass
class DataConfig:
    """What to train on and how it becomes the model's ``[T, B, ...]`` input."""

    name: str = "digits"
    root: str | None = None
    T: int | None = None  # None: the recipe's number of steps (encoder steps or frames)
    encoding: str = "direct"
    sensor_size: tuple[int, int, int] | None = None
    batch_size: int | None = None  # None: the data set's (32 for event frames, else 64)
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    max_samples: int | None = None
    num_workers: int = 0
    eval_all: bool = False
    augment: str = "auto"  # training batches: none, shift, flip, shift+flip, nda (auto: see help)
    audio_encoding: str = "mel"  # --data audio: mel, delta or lif
    n_mels: int = 32  # --data audio: mel bands
    hop_ms: float = 10.0  # --data audio: mel frame hop


@dataclass
class ModelConfig:
    """Which network, with which neuron and output decoder."""

    name: str = "auto"  # auto: the recipe's default model for the data
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    neuron: str = "lif"
    neuron_kwargs: dict[str, Any] = field(default_factory=dict)
    surrogate: str = "atan"
    backend: str = "auto"
    decoder: str = "mean"
    quantize: str | None = None  # e.g. "w8v16": fixed-point training (spikestack.deploy.quantize)
    init_from: str | None = None  # a run folder or checkpoint (an ANN twin's) to start from
    pretrain_ann: int | None = None  # train the ANN twin this many epochs first (RUN/ann)
    pretrain_data: str | None = None  # ...on this data set instead of the run's (pipeD)
    pretrain_root: str | None = None  # its files, for a data set that needs --root


@dataclass
class OptimConfig:
    """Loss, optimiser and learning-rate schedule."""

    loss: str = "auto"  # auto: the data set's (tet for event frames, else ce)
    loss_kwargs: dict[str, Any] = field(default_factory=dict)
    optimizer: str = "adamw"
    lr: float = 5e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    scheduler: str = "cosine"
    warmup_epochs: int = 0
    step_size: int = 10
    gamma: float = 0.1
    grad_clip: float | None = None
    prune: str | None = None  # "gradr" or "lats": prune while training (spikestack.prune)
    target_density: float = 0.1  # the fraction of conv/linear weights a pruner keeps
    prune_prior: float = 0.45  # Grad R's Laplace prior strength alpha
    prune_mode: str = "during"  # LATS: "during" training, "early" (over prune_epochs), "init"
    prune_epochs: int | None = None  # LATS early pruning: epochs the threshold ramps over
    checkpoint_steps: int | None = None  # checkpointed BPTT: keep activations every K steps
    tbptt: int | None = None  # truncated BPTT: backpropagate within windows of this many steps
    online: str | None = None  # online training through time: "ottt" or "eprop"
    online_decay: float = 0.5  # the eligibility traces' leak lambda (1 - 1/tau)
    eprop_feedback: str = "symmetric"  # e-prop's learning signal: "symmetric" or "random"
    rate_penalty: float = 0.0  # weight of the L1 penalty on the spiking layers' firing rates


@dataclass
class RunConfig:
    """How long, where, on what device, and what to record."""

    epochs: int | None = None  # None: the data set's (20 for a folder of events, else 12)
    stop_after: int | None = None
    seed: int = 0
    device: str = "auto"
    out: str | None = None
    amp: bool = False
    amp_dtype: str = "bfloat16"
    optimize: bool | None = None  # spikestack.optimize on the first training batch before
    # training; None: the data set's choice on the CPU (on for a folder of events), else off
    saved_membrane: str = "float32"  # the fused neurons' membrane kept for backward (bfloat16)
    sync_bn: bool = False
    deterministic: bool = False
    progress: bool = True
    tensorboard: bool = False
    strict_health: bool = False  # training-health warnings become errors


SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "model": ModelConfig,
    "optim": OptimConfig,
    "run": RunConfig,
}

# (section, field) -> the flags of ``spikestack train`` that set it, where they are not
# simply ``--field-name``; the first is the canonical one.
FLAGS: dict[tuple[str, str], tuple[str, ...]] = {
    ("data", "name"): ("--data",),
    ("data", "T"): ("--T", "--frames"),
    ("model", "name"): ("--model",),
}


# (section, field) -> (lowest, highest, whether the bounds themselves are allowed) for the
# numbers whose range is not simply "an integer >= 1" (every other int field) or "any".
LIMITS: dict[tuple[str, str], tuple[float, float, bool, bool]] = {
    ("data", "val_fraction"): (0.0, 1.0, True, False),
    ("data", "test_fraction"): (0.0, 1.0, True, False),
    ("data", "num_workers"): (0, math.inf, True, False),
    ("data", "hop_ms"): (0.0, math.inf, False, False),
    ("optim", "lr"): (0.0, math.inf, False, False),
    ("optim", "momentum"): (0.0, 1.0, True, False),
    ("optim", "weight_decay"): (0.0, math.inf, True, False),
    ("optim", "warmup_epochs"): (0, math.inf, True, False),
    ("optim", "gamma"): (0.0, math.inf, False, False),
    ("optim", "grad_clip"): (0.0, math.inf, False, False),
    ("optim", "target_density"): (0.0, 1.0, False, True),
    ("optim", "prune_prior"): (0.0, math.inf, True, False),
    ("optim", "online_decay"): (0.0, 1.0, True, True),
    ("optim", "rate_penalty"): (0.0, math.inf, True, False),
}
ANY_NUMBER = {("run", "seed")}  # no range at all


def _range_text(low: float, high: float, low_in: bool, high_in: bool) -> str:
    if high == math.inf:
        return f"{'>=' if low_in else '>'} {low:g}"
    return f"in {'[' if low_in else '('}{low:g}, {high:g}{']' if high_in else ')'}"


def check_value(section: str, name: str, value: Any) -> str | None:
    """Why ``value`` does not fit the field ``[section] name`` (its type and range), or None."""
    tp = typing.get_type_hints(SECTIONS[section])[name]
    union = typing.get_origin(tp) in (typing.Union, types.UnionType)
    if value is None:
        return None if union and type(None) in typing.get_args(tp) else "must be set"
    kinds = [t for t in typing.get_args(tp) if t is not type(None)] if union else [tp]
    kind = typing.get_origin(kinds[0]) or kinds[0]
    if kind is bool:
        return None if isinstance(value, bool) else f"must be true or false; got {value!r}"
    if kind is str:  # a folder may come as a Path from Python code
        return None if isinstance(value, str | os.PathLike) else f"must be a string; got {value!r}"
    if kind is dict:
        return None if isinstance(value, dict) else f"must be a table; got {value!r}"
    if kind is tuple:
        ok = len(value) == 3 and all(isinstance(v, int) and v >= 1 for v in value)
        return None if ok else f"must be three positive integers (W, H, P); got {value!r}"
    whole = kind is int
    if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
        return f"must be {'a whole number' if whole else 'a number'}; got {value!r}"
    if not whole and not math.isfinite(value):
        return f"must be finite; got {value!r}"
    if (section, name) in ANY_NUMBER:
        return None
    low, high, low_in, high_in = LIMITS.get((section, name), (1, math.inf, True, False))
    above = value >= low if low_in else value > low
    below = value <= high if high_in else value < high
    return (
        None
        if above and below
        else f"must be {_range_text(low, high, low_in, high_in)}; got {value!r}"
    )


def flags_of(section: str, name: str) -> tuple[str, ...]:
    return FLAGS.get((section, name), ("--" + name.replace("_", "-"),))


def _hint(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _section_of(key: str) -> str | None:
    """The section that has a field ``key`` (a flat key placed outside its table)."""
    for section, cls in SECTIONS.items():
        if key in {f.name for f in dataclasses.fields(cls)}:
            return section
    return None


@dataclass
class TrainConfig:
    """Every option of a training run, in four sections."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def check(self) -> TrainConfig:
        """Raise ValueError naming the first option whose value has the wrong type or range
        (``--lr -1``, ``epochs = "ten"`` in a TOML file); returns the config."""
        for section in SECTIONS:
            part = getattr(self, section)
            for f in dataclasses.fields(part):
                why = check_value(section, f.name, getattr(part, f.name))
                if why is not None:
                    raise ValueError(f"{flags_of(section, f.name)[0]} ([{section}] {f.name}) {why}")
        return self

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return dataclasses.asdict(self)

    def update(self, section: str, values: dict[str, Any], *, where: str = "") -> None:
        """Set ``values`` in ``section``; an unknown section or key raises with a hint."""
        if section not in SECTIONS:
            raise ValueError(
                f"unknown config section {section!r}{where}{_hint(section, list(SECTIONS))}; "
                f"sections: {', '.join(SECTIONS)}"
            )
        if not isinstance(values, dict):
            raise ValueError(f"config section [{section}]{where} must be a table of options")
        part = getattr(self, section)
        known = [f.name for f in dataclasses.fields(part)]
        for key, value in values.items():
            if key not in known:
                owner = _section_of(key)
                hint = f" (it belongs in [{owner}])" if owner else _hint(key, known)
                raise ValueError(f"unknown option {key!r} in [{section}]{where}{hint}")
            if key == "sensor_size" and value is not None:
                value = tuple(value)
            setattr(part, key, value)

    @classmethod
    def from_dict(cls, values: dict[str, Any], *, where: str = "") -> TrainConfig:
        """From ``{"data": {...}, "model": {...}, ...}``; missing sections keep their defaults."""
        config = cls()
        for key, part in values.items():
            if key in SECTIONS:
                config.update(key, part, where=where)
                continue
            if isinstance(part, dict):
                raise ValueError(
                    f"unknown config section [{key}]{where}{_hint(key, list(SECTIONS))}; the "
                    f"sections are {', '.join(f'[{s}]' for s in SECTIONS)}"
                )
            owner = _section_of(key)
            if owner is not None:
                raise ValueError(f"option {key!r}{where} belongs in the [{owner}] table")
            fields = {f.name: s for s, c in SECTIONS.items() for f in dataclasses.fields(c)}
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f" (did you mean [{fields[close[0]]}] {close[0]!r}?)" if close else ""
            raise ValueError(
                f"unknown config key {key!r}{where}{hint}; options sit in the tables "
                f"{', '.join(f'[{s}]' for s in SECTIONS)}"
            )
        return config

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
        config = cls.from_dict(values, where=f" of {path}")
        try:
            return config.check()
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
