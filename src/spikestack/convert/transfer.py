"""Weights from an ANN (its twin, or a torchvision-layout ResNet) into a spiking network.

``create_model(name, neuron="relu")`` builds a zoo model's ANN twin: the same layers with
ReLU where the neurons were, hence the same parameter names. :func:`transfer_weights`
copies a state dict (or a model's) into an SNN: parameters and BatchNorm statistics whose
names and shapes agree. Names are first passed through ``name_map`` (a dict, a function,
or ``"torchvision_resnet"`` for keys like ``layer1.0.conv1.weight`` onto spikestack's
spiking and SEW ResNets). A name on both sides with different shapes raises, listing
every such pair; names found on one side only are reported (and raise with
``strict=True``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["TransferReport", "torchvision_resnet_name", "transfer_weights"]


@dataclass
class TransferReport:
    """What :func:`transfer_weights` did."""

    copied: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # in the SNN, not in the source
    unused: list[str] = field(default_factory=list)  # in the source, not in the SNN

    def __str__(self) -> str:
        text = f"copied {len(self.copied)} tensors"
        if self.missing:
            text += f"; the SNN's {self.missing} had no source"
        if self.unused:
            text += f"; the source's {self.unused} have no place in the SNN"
        return text


_LAYER = re.compile(r"^layer(\d+)\.(\d+)\.(conv|bn)(\d+)\.(.+)$")
_DOWN = re.compile(r"^layer(\d+)\.(\d+)\.downsample\.([01])\.(.+)$")


def torchvision_resnet_name(key: str) -> str:
    """A torchvision ResNet state-dict key as spikestack's Spiking/SEW ResNet names it."""
    if key.startswith("conv1."):
        return "stem.0.module.0." + key.removeprefix("conv1.")
    if key.startswith("bn1."):
        return "stem.0.module.1." + key.removeprefix("bn1.")
    if key.startswith("fc."):
        return "head.2.module." + key.removeprefix("fc.")
    match = _LAYER.match(key)
    if match:
        stage, block, kind, index, rest = match.groups()
        part = 0 if kind == "conv" else 1
        return f"stages.{int(stage) - 1}.{block}.convs.{int(index) - 1}.module.{part}.{rest}"
    match = _DOWN.match(key)
    if match:
        stage, block, part, rest = match.groups()
        return f"stages.{int(stage) - 1}.{block}.downsample.0.module.{part}.{rest}"
    return key


NAME_MAPS: dict[str, Callable[[str], str]] = {"torchvision_resnet": torchvision_resnet_name}


def transfer_weights(
    source: nn.Module | Mapping[str, Tensor],
    snn: nn.Module,
    *,
    name_map: Mapping[str, str] | Callable[[str], str] | str | None = None,
    strict: bool = False,
) -> TransferReport:
    """Copy ``source``'s tensors into ``snn`` where names (after ``name_map``) and shapes
    agree; see the module docstring."""
    state = source.state_dict() if isinstance(source, nn.Module) else dict(source)
    rename = _renamer(name_map)
    renamed: dict[str, Tensor] = {}
    for key, value in state.items():
        new = rename(key)
        if new in renamed:
            raise ValueError(f"name_map sends two source keys to {new!r}")
        renamed[new] = value
    target = snn.state_dict()
    mismatched = [
        f"{k}: source {tuple(renamed[k].shape)} vs SNN {tuple(target[k].shape)}"
        for k in renamed
        if k in target and tuple(renamed[k].shape) != tuple(target[k].shape)
    ]
    if mismatched:
        raise ValueError("shapes differ for " + "; ".join(mismatched))
    report = TransferReport(
        copied=[k for k in target if k in renamed],
        missing=[k for k in target if k not in renamed],
        unused=[k for k in renamed if k not in target],
    )
    if not report.copied:
        raise ValueError(
            f"no tensor of the source matches the SNN by name (source keys such as "
            f"{list(renamed)[:3]}, SNN keys such as {list(target)[:3]}); pass name_map"
        )
    if strict and (report.missing or report.unused):
        raise ValueError(f"strict transfer: {report}")
    with torch.no_grad():
        snn.load_state_dict({k: renamed[k] for k in report.copied}, strict=False)
    return report


def _renamer(name_map: Any) -> Callable[[str], str]:
    if name_map is None:
        return lambda key: key
    if isinstance(name_map, str):
        if name_map not in NAME_MAPS:
            raise ValueError(f"name_map must be one of {sorted(NAME_MAPS)}; got {name_map!r}")
        return NAME_MAPS[name_map]
    if isinstance(name_map, Mapping):
        return lambda key: name_map.get(key, key)
    if callable(name_map):
        return name_map
    raise TypeError(f"name_map must be a dict, a function or a name; got {type(name_map).__name__}")
