"""Backends for the neuron ops, behind one dispatch.

``backend="auto" | "torch" | "cpu" | "triton"``:

- ``torch``: the plain reference in :mod:`spikestack.kernels.reference`,
  always available, any device and dtype.
- ``cpu``: fused numba kernels for CPU tensors (float32/float64).
- ``triton``: fused Triton kernels for CUDA tensors.
- ``auto``: the fastest backend that supports the tensor's device and dtype,
  falling back to ``torch``; every backend gives the same results. Under
  ``torch.compile``, ``auto`` is ``torch`` (the compiler fuses the reference itself);
  an explicit ``cpu`` runs eagerly there, as a graph break.

A backend module exposes ``is_available() -> bool``, ``supports(x) -> bool``
(device/dtype check for one input) and one function per op with the signature
of the reference (``if_``, ``lif``, ``plif``).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

import torch
from torch import Tensor

__all__ = ["BACKENDS", "available_backends", "get_op", "resolve_backend"]

BACKENDS = ("auto", "torch", "cpu", "triton")

# Backend name -> module path. Order of preference for "auto": first listed wins.
_MODULES: dict[str, str] = {
    "triton": "spikestack.kernels.triton",
    "cpu": "spikestack.kernels.cpu",
    "torch": "spikestack.kernels.reference",
}
_loaded: dict[str, ModuleType | None] = {}


def _module(name: str) -> ModuleType | None:
    """The backend module if it can be imported and reports itself available."""
    if name not in _loaded:
        try:
            module = importlib.import_module(_MODULES[name])
        except ImportError:
            module = None
        if module is not None and name != "torch" and not module.is_available():
            module = None
        _loaded[name] = module
    return _loaded[name]


def available_backends() -> list[str]:
    """Backends usable in this process (``torch`` always is)."""
    return [name for name in ("torch", "cpu", "triton") if _module(name) is not None]


def check_backend_name(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")


def resolve_backend(backend: str, x: Tensor) -> str:
    """The concrete backend that runs an op on ``x`` for the requested ``backend``."""
    check_backend_name(backend)
    if backend == "torch":
        return "torch"
    if backend == "auto":
        if torch.compiler.is_compiling():
            # Under torch.compile the reference is traced and fused by the compiler, with
            # the layers around it; a fused kernel would only be an opaque graph break.
            return "torch"
        for name in ("triton", "cpu"):
            module = _module(name)
            if module is not None and module.supports(x):
                return name
        return "torch"
    module = _module(backend)
    if module is None:
        hint = {
            "cpu": "pip install numba",
            "triton": "pip install 'spikestack[gpu]' on a CUDA machine",
        }
        raise RuntimeError(
            f"backend {backend!r} is not available in this process ({hint[backend]}); "
            f"available: {', '.join(available_backends())}"
        )
    if not module.supports(x):
        raise ValueError(
            f"backend {backend!r} does not support a {x.dtype} tensor on {x.device}; "
            "use backend='auto' or 'torch'"
        )
    return backend


def get_op(op: str, backend: str, x: Tensor) -> Callable[..., Any]:
    """The implementation of ``op`` (e.g. ``"lif"``) for ``x`` under ``backend``."""
    name = resolve_backend(backend, x)
    module = _module(name)
    assert module is not None
    fn = getattr(module, op)
    if name != "torch" and torch.compiler.is_compiling():
        # dynamo cannot trace numpy views or raw kernel launches inside an autograd.Function:
        # the fused op runs eagerly, as a graph break between compiled graphs.
        fn = _opaque(fn)
    return fn


@functools.cache
def _opaque(fn: Callable[..., Any]) -> Callable[..., Any]:
    # wrapped on first use under torch.compile, so that importing spikestack never
    # imports torch._dynamo (and with it triton)
    return torch.compiler.disable(fn)
