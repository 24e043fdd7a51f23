"""The model registry, as in timm: ``create_model(name, **kwargs)``, ``list_models()`` and
``model_info(name)``.

Every registered name is a ``def`` of that name. A variant is a short function that calls
its family builder with the arguments the name stands for; it names the ``family`` and the
arguments it ``fixed`` in :func:`register_model`, so that ``create_model`` knows, before
building, which arguments the model takes (the family's, less the fixed ones)::

    @register_model("sew_resnet18", family=sew_resnet, fixed=("depth",))
    def sew_resnet18(**kwargs: Any) -> SpikingResNet:
        '''SEW ResNet-18 (Fang et al., NeurIPS 2021): basic blocks (2, 2, 2, 2) ...'''
        return sew_resnet(depth=18, **kwargs)
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from torch import nn

from spikestack.models.base import SpikingModel, check_input_layout
from spikestack.registry import Registry

__all__ = ["MODELS", "ModelInfo", "create_model", "list_models", "model_info", "register_model"]

MODELS: Registry[Callable[..., nn.Module]] = Registry("model")
INPUT_ARGS = ("in_channels", "in_features")


@dataclass(frozen=True)
class ModelInfo:
    """What a registered model takes, known without building it.

    ``input_arg``: the argument that carries the input size, ``"in_channels"`` (conv and
    attention models) or ``"in_features"`` (``mlp_snn``: the flattened size of one step);
    ``input_layout``: the default layout, ``"static"`` or ``"sequence"``;
    ``arguments``: the keyword arguments ``create_model`` accepts (``None``: any), and
    ``fixed``: those of the family that the name fixes (rejected).
    """

    name: str
    input_arg: str | None
    input_layout: str
    summary: str
    arguments: tuple[str, ...] | None
    fixed: tuple[str, ...] = ()


_INFO: dict[str, ModelInfo] = {}  # by lower-case name, as MODELS


def register_model(
    name: str,
    *,
    family: Callable[..., nn.Module] | None = None,
    fixed: Iterable[str] = (),
    input_layout: str = "static",
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering a model builder under ``name`` (raises on duplicates).

    ``family``: the builder a variant calls (its signature gives the accepted arguments);
    ``fixed``: the family's arguments the variant sets for good (``depth`` of
    ``sew_resnet18``); ``input_layout``: the layout the built model takes by default.
    """
    check_input_layout(input_layout)
    fixed = tuple(fixed)

    def decorator(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        params = inspect.signature(family or builder).parameters
        missing = [key for key in fixed if key not in params]
        if missing:
            raise ValueError(f"model {name!r} fixes {missing}, which its family does not take")
        arguments: tuple[str, ...] | None = tuple(key for key in params if key not in fixed)
        if any(p.kind is p.VAR_KEYWORD for p in params.values()):
            arguments = None
        inputs = [key for key in INPUT_ARGS if key in (arguments or ())]
        if len(inputs) > 1:
            raise ValueError(f"model {name!r} takes both {inputs}; the input size is one of them")
        # a builder that states its own default must agree with what the registry reports
        own = inspect.signature(builder).parameters.get("input_layout")
        if own is not None and own.default not in (inspect.Parameter.empty, input_layout):
            raise ValueError(
                f"model {name!r} is registered with input_layout={input_layout!r} but its "
                f"builder defaults to {own.default!r}"
            )
        MODELS.register(name)(builder)
        _INFO[name.lower()] = ModelInfo(
            name=name.lower(),
            input_arg=inputs[0] if inputs else None,
            input_layout=input_layout,
            summary=" ".join((inspect.getdoc(builder) or "").split("\n\n")[0].split()),
            arguments=arguments,
            fixed=fixed,
        )
        return builder

    return decorator


def list_models(pattern: str | None = None) -> list[str]:
    """Registered model names, optionally filtered by a shell-style ``pattern`` (``"sew_*"``)."""
    names = MODELS.names()
    if pattern is None:
        return names
    return [n for n in names if fnmatch.fnmatch(n, pattern.lower())]


def model_info(name: str) -> ModelInfo:
    """The input argument, default input layout, summary and arguments of a registered model."""
    MODELS.get(name)  # unknown names fail here, with close matches
    return _INFO[name.lower()]


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered model by name; unknown names and keyword arguments raise a clear error."""
    builder = MODELS.get(name)
    info = _INFO[name.lower()]
    if info.arguments is not None:
        unknown = [key for key in kwargs if key not in info.arguments]
        if unknown:
            raise TypeError(
                f"create_model({name!r}) got unknown argument(s) "
                f"{', '.join(_hint(key, info) for key in unknown)}; "
                f"accepted: {', '.join(info.arguments)}"
            )
    model = builder(**kwargs)
    if isinstance(model, SpikingModel):
        model.model_name = info.name
        if "input_layout" not in kwargs and model.input_layout != info.input_layout:
            raise RuntimeError(  # a registration error, not the user's
                f"model {info.name!r} is registered with input_layout={info.input_layout!r} "
                f"but builds a model with input_layout={model.input_layout!r}"
            )
    return model


def _hint(key: str, info: ModelInfo) -> str:
    if key in info.fixed:
        return f"{key!r} (fixed by the name {info.name!r}; pick the variant by name)"
    close = difflib.get_close_matches(key, list(info.arguments or ()), n=1)
    return f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
