"""A neuron written as its equations: the declaration :func:`~spikestack.neurons.define_neuron`
reads, the math functions its equations may call, and the eager reference that runs it
(autograd through the step loop: the ground truth the generated kernels are tested against).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from spikestack.surrogates import Surrogate

__all__ = [
    "Declaration",
    "declaration",
    "eager",
    "exp",
    "log",
    "maximum",
    "minimum",
    "relu",
    "sigmoid",
    "sqrt",
    "tanh",
]

FUNCTIONS = ("exp", "log", "sqrt", "tanh", "sigmoid", "relu")
BINARY = ("minimum", "maximum")  # two arguments, element-wise


def _dispatch(name: str, value: Any) -> Any:
    if isinstance(value, Tensor):
        return getattr(torch, name)(value)
    if type(value).__module__.startswith("sympy"):
        import sympy

        if name == "sigmoid":
            return 1 / (1 + sympy.exp(-value))
        if name == "relu":
            return _sympy_relu()(value)
        return getattr(sympy, name)(value)
    if name == "sigmoid":
        return 1.0 / (1.0 + math.exp(-value))
    if name == "relu":
        return max(value, 0.0)
    return getattr(math, name)(value)


@functools.cache
def _sympy_relu() -> Any:
    """max(x, 0) for SymPy whose derivative is 0 at x = 0, as torch.relu's (SymPy's Max
    would split the tie in halves)."""
    import sympy

    class Relu(sympy.Function):
        def fdiff(self, argindex: int = 1) -> Any:
            return sympy.Heaviside(self.args[0], 0)

    return Relu


def exp(value: Any) -> Any:
    """e^value, for tensors (the eager reference), SymPy (derivatives) and numbers."""
    return _dispatch("exp", value)


def log(value: Any) -> Any:
    """The natural logarithm (see :func:`exp`)."""
    return _dispatch("log", value)


def sqrt(value: Any) -> Any:
    """The square root (see :func:`exp`)."""
    return _dispatch("sqrt", value)


def tanh(value: Any) -> Any:
    """The hyperbolic tangent (see :func:`exp`)."""
    return _dispatch("tanh", value)


def sigmoid(value: Any) -> Any:
    """1 / (1 + e^-value) (see :func:`exp`)."""
    return _dispatch("sigmoid", value)


def relu(value: Any) -> Any:
    """max(value, 0), with torch.relu's gradient (0 at value = 0; see :func:`exp`)."""
    return _dispatch("relu", value)


def _dispatch2(name: str, a: Any, b: Any) -> Any:
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        like = a if isinstance(a, Tensor) else b
        a, b = (v if isinstance(v, Tensor) else torch.as_tensor(v, dtype=like.dtype,
                                                                 device=like.device) for v in (a, b))  # fmt: skip
        return getattr(torch, name)(a, b)
    if type(a).__module__.startswith("sympy") or type(b).__module__.startswith("sympy"):
        import sympy

        return (sympy.Min if name == "minimum" else sympy.Max)(a, b)
    return min(a, b) if name == "minimum" else max(a, b)


def minimum(a: Any, b: Any) -> Any:
    """The smaller of a and b, element-wise (a clamp: ``minimum(v, 30.0)``); at a tie the
    gradient is split in halves, as torch's."""
    return _dispatch2("minimum", a, b)


def maximum(a: Any, b: Any) -> Any:
    """The larger of a and b, element-wise (see :func:`minimum`)."""
    return _dispatch2("maximum", a, b)


# -- the declaration ------------------------------------------------------------------


@dataclass(frozen=True)
class Declaration:
    name: str
    doc: str
    state: tuple[str, ...]
    rest: dict[str, float]
    params: dict[str, float]
    learnable: tuple[str, ...]
    charge: Callable[..., Any]
    fire: Callable[..., Any]
    reset: Callable[..., Any]
    output: Callable[..., Any] | None = None  # an analog output in place of the spike
    # each function's source as it was when declared (None: not available), so that the
    # cache key and the generated code agree even if the file changes afterwards
    sources: dict[str, str | None] = field(default_factory=dict, compare=False, hash=False)

    @property
    def functions(self) -> tuple[str, ...]:
        """The declared functions' names: charge, fire, reset (and output, if declared)."""
        return ("charge", "fire", "reset") + (("output",) if self.output is not None else ())

    def arguments(self, fn: Callable[..., Any]) -> tuple[str, ...]:
        return tuple(inspect.signature(fn).parameters)

    def key(self) -> str:
        """A hash of everything in the declaration the generated code depends on."""
        parts = [self.name, repr(self.state), repr(list(self.params)), repr(self.learnable)]
        for name in self.functions:
            parts.append(self.source(name) or repr(getattr(self, name)))
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]

    def source(self, name: str) -> str | None:
        """The source of the declared function ``name`` when it was declared, or None."""
        if name not in self.sources:
            self.sources[name] = _source_of(getattr(self, name))
        return self.sources[name]


def _source_of(fn: Callable[..., Any]) -> str | None:
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return None


def _function(cls: type, name: str) -> Callable[..., Any]:
    """The function ``name`` of a declaration class (its own or a base class's)."""
    fn = getattr(cls, name, None)
    if not callable(fn):
        raise TypeError(f"neuron declaration {cls.__name__} needs a function {name}(...)")
    return fn


def _optional(cls: type, name: str) -> Callable[..., Any] | None:
    return _function(cls, name) if hasattr(cls, name) else None


def declaration(cls: type) -> Declaration:
    state = tuple(getattr(cls, "state", ()))
    if not state or not all(isinstance(s, str) and s.isidentifier() for s in state):
        raise ValueError(
            f"{cls.__name__}.state must name the state variables, e.g. ('v',); got {state!r}"
        )
    params = {k: float(v) for k, v in dict(getattr(cls, "params", {})).items()}
    rest = {s: float(dict(getattr(cls, "rest", {})).get(s, 0.0)) for s in state}
    learnable = tuple(getattr(cls, "learnable", ()))
    unknown = [p for p in learnable if p not in params]
    if unknown:
        raise ValueError(f"{cls.__name__}.learnable names {unknown}, which are not in params")
    clash = set(state) & (set(params) | {"x", "spike"})
    if clash:
        raise ValueError(
            f"{cls.__name__}: {sorted(clash)} are both state and parameter or reserved"
        )
    decl = Declaration(
        cls.__name__, inspect.getdoc(cls) or f"{cls.__name__}: a neuron declared by its equations.",
        state, rest, params, learnable,
        _function(cls, "charge"), _function(cls, "fire"), _function(cls, "reset"),
        _optional(cls, "output"),
    )  # fmt: skip
    for name in decl.functions:  # read now: the file may change while the process runs
        decl.source(name)
    allowed = {
        "charge": {"x", *state, *params},
        "fire": {*state, *params},
        "reset": {*state, "spike", *params},
        "output": {*state, "spike", *params},
    }
    for name in decl.functions:
        names = allowed[name]
        args = decl.arguments(getattr(decl, name))
        wrong = [a for a in args if a not in names]
        if wrong:
            raise ValueError(
                f"{cls.__name__}.{name} takes {wrong}, which are not among {sorted(names)}"
            )
    return decl


def as_tuple(value: Any, n: int, where: str) -> tuple[Any, ...]:
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(values) != n:
        raise ValueError(f"{where} returned {len(values)} value(s); the state has {n}")
    return values


def call(decl: Declaration, fn: Callable[..., Any], values: dict[str, Any]) -> Any:
    return fn(**{a: values[a] for a in decl.arguments(fn)})


# -- the eager reference --------------------------------------------------------------


def eager(
    decl: Declaration, x: Tensor, state: tuple[Tensor, ...], params: dict[str, Any],
    surrogate: Surrogate, detach_reset: bool,
) -> tuple[Tensor, tuple[Tensor, ...]]:  # fmt: skip
    """The declared step loop in torch over ``x [T, ...]`` (autograd through it)."""
    k = len(decl.state)
    out = []
    for x_t in x.unbind(0):
        values = {**params, **dict(zip(decl.state, state, strict=True)), "x": x_t}
        charged = as_tuple(call(decl, decl.charge, values), k, f"{decl.name}.charge")
        values = {**params, **dict(zip(decl.state, charged, strict=True))}
        spike = surrogate(call(decl, decl.fire, values))
        if decl.output is not None:  # the analog output, of the charged state and the spike
            y = call(decl, decl.output, {**values, "spike": spike})
            out.append(y if isinstance(y, Tensor) else torch.full_like(x_t, y))
        else:
            out.append(spike)
        values["spike"] = spike.detach() if detach_reset else spike
        state = as_tuple(call(decl, decl.reset, values), k, f"{decl.name}.reset")
        state = tuple(s if isinstance(s, Tensor) else torch.full_like(x_t, s) for s in state)
    return torch.stack(out), state
