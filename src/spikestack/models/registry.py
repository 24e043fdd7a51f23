"""The model registry, as in timm: ``create_model(name, **kwargs)`` and ``list_models()``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

from spikestack.registry import Registry

MODELS: Registry[Callable[..., nn.Module]] = Registry("model")


def register_model(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering a model builder under ``name`` (raises on duplicates)."""
    return MODELS.register(name)


def list_models(pattern: str | None = None) -> list[str]:
    """Registered model names, optionally filtered by a shell-style ``pattern`` (``"sew_*"``)."""
    names = MODELS.names()
    if pattern is None:
        return names
    import fnmatch

    return [n for n in names if fnmatch.fnmatch(n, pattern.lower())]


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered model by name; unknown names and keyword arguments raise a clear error."""
    builder = MODELS.get(name)
    signature = inspect.signature(builder)
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    if not accepts_any:
        unknown = sorted(set(kwargs) - set(signature.parameters))
        if unknown:
            import difflib

            hints = []
            for key in unknown:
                close = difflib.get_close_matches(key, list(signature.parameters), n=1)
                hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise TypeError(
                f"create_model({name!r}) got unknown argument(s) {', '.join(hints)}; "
                f"accepted: {', '.join(signature.parameters)}"
            )
    return builder(**kwargs)
