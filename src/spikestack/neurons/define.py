"""Neurons written as their equations: :func:`define_neuron` turns a declaration into a
neuron of the protocol with an eager reference and a generated fused CPU kernel.

A declaration is a class with the state variables, the parameters and three functions
of plain arithmetic (``+ - * / **``, ``abs`` and this module's :func:`exp`, :func:`log`,
:func:`sqrt`, :func:`tanh`, :func:`sigmoid`, :func:`relu`, :func:`minimum`,
:func:`maximum`), each taking by name what it needs::

    @define_neuron
    class QuadraticLIF:
        '''A LIF whose leak grows with the square of the membrane.'''
        state = ("v",)
        params = {"tau": 2.0, "k": 0.1, "v_threshold": 1.0}
        learnable = ("tau",)                     # scalar parameters trained with the net

        def charge(x, v, tau, k):                # the state before reset, one per variable
            return v + (x - v - k * v * v) / tau

        def fire(v, v_threshold):                # spike = surrogate(fire(...)) >= 0
            return v - v_threshold

        def reset(v, spike):                     # the state after the spike
            return v * (1 - spike)

``charge`` and ``reset`` return one value per state variable (a tuple in the order of
``state``, or the value itself for one variable); ``reset`` receives the charged state
under the state's names and ``spike``. ``rest`` (a dict) gives resting values (default 0).
An optional fourth function ``output`` (taking the charged state, ``spike`` and
parameters) makes the neuron emit an analog value instead of the spike, as LIAF's
``output(v): return relu(v)`` (the spike then drives the reset only, and
``emits_spikes`` is False). A parameter is a number (one value for the layer) or a tensor
that broadcasts against one step's ``[B, ...]`` (a value per channel or per neuron),
fixed or learnable.

From the one declaration come:

- the eager reference (``backend="torch"``): the step loop in torch, autograd through it,
  the ground truth;
- a fused CPU kernel (``backend="cpu"``, chosen by ``"auto"``) generated with numba: the
  forward runs the declared functions themselves (compiled, float32 kept float32, so its
  spikes are the reference's), and the backward through time is derived from them by
  SymPy: every partial derivative of ``charge``, ``fire`` and ``reset``, the surrogate
  applied at the firing condition (any surrogate: its derivative comes as a tensor),
  and the learnable parameters' gradients accumulated in the same pass. The generated
  source is written to ``$SPIKESTACK_CACHE/neurons/<hash>.py`` (numba caches the machine
  code beside it), keyed by a hash of the declaration.

A declaration the generator cannot handle (a function whose source is not available, a
call other than the functions above, control flow on values) runs on the eager
reference, with a warning that names the function and what stopped it. A Triton module
is generated the same way
(``backend="triton"``, and ``"auto"`` on CUDA tensors): float32, the surrogate's
derivative as a tensor; tested in Triton's CPU interpreter.
"""

from __future__ import annotations

import inspect
import math
import warnings
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from spikestack.kernels import check_backend_name
from spikestack.neurons.base import Neuron
from spikestack.neurons.codegen import GenerationError, load_kernels, run_fused
from spikestack.neurons.declaration import (
    Declaration,
    declaration,
    eager,
    exp,
    log,
    maximum,
    minimum,
    relu,
    sigmoid,
    sqrt,
    tanh,
)

__all__ = [
    "define_neuron", "exp", "log", "maximum", "minimum", "relu", "sigmoid", "sqrt", "tanh",
]  # fmt: skip

# -- the neuron class -------------------------------------------------------------------


class DefinedNeuron(Neuron):
    """Base of the neurons :func:`define_neuron` makes (see the module docstring)."""

    declaration: ClassVar[Declaration]

    def __init__(self, **options: Any) -> None:
        decl = self.declaration
        base = {k: options.pop(k) for k in ("surrogate", "stateful") if k in options}
        super().__init__(**base)
        backend = options.pop("backend", "auto")
        if backend not in ("auto", "torch", "cpu", "triton"):
            raise ValueError(f"backend must be 'auto', 'torch', 'cpu' or 'triton'; got {backend!r}")
        self.backend = backend
        self.detach_reset = bool(options.pop("detach_reset", False))
        values = {**decl.params, **options}
        unknown = sorted(set(values) - set(decl.params))
        if unknown:
            raise ValueError(
                f"{decl.name} does not take {unknown}; it takes {sorted(self.options)}"
            )
        checked = {p: _parameter(decl.name, p, values[p]) for p in decl.params}
        # scalars as floats; per-neuron values (tensors that broadcast against one step's
        # [B, ...], e.g. per channel [C, 1, 1]) as buffers, so that .to() moves them
        self.fixed = {
            p: v for p, v in checked.items() if p not in decl.learnable and isinstance(v, float)
        }
        for p, v in checked.items():
            if p not in decl.learnable and isinstance(v, Tensor):
                self.register_buffer(f"per_neuron_{p}", v)
        self.learn = nn.ParameterDict(
            {p: nn.Parameter(torch.as_tensor(checked[p], dtype=torch.float32).clone())
             for p in decl.learnable}
        )  # fmt: skip
        self._fallback: str | None = None

    def _value(self, p: str) -> float | Tensor:
        if p in self.learn:
            return self.learn[p]
        return self.fixed[p] if p in self.fixed else getattr(self, f"per_neuron_{p}")

    @property
    def per_neuron(self) -> bool:
        """Whether any parameter has a value per neuron (a shape) instead of one number."""
        return any(
            isinstance(v := self._value(p), Tensor) and v.dim() > 0 for p in self.declaration.params
        )

    def params(self, like: Tensor) -> dict[str, Any]:
        return {
            p: (v.to(like.dtype) if isinstance(v := self._value(p), Tensor) else v)
            for p in self.declaration.params
        }

    def init_state(self, x_t: Tensor) -> Any:
        rest = tuple(torch.full_like(x_t, self.declaration.rest[s]) for s in self.declaration.state)
        return rest if len(rest) > 1 else rest[0]

    def _kernels(self, x: Tensor) -> tuple[str, Any] | None:
        """(target, generated module) for ``x``, or None for the eager reference."""
        chosen, error = fused_kernels(self.declaration, self.backend, x)
        if error is not None and self._fallback is None:
            self._fallback = error
            warnings.warn(
                f"{self.declaration.name} runs on the eager reference: {error}", stacklevel=3
            )
        return chosen

    def _run(self, x: Tensor, state: Any) -> tuple[Tensor, Any]:
        decl = self.declaration
        k = len(decl.state)
        chosen = self._kernels(x)
        if state is None:  # the kernels read a resting value as a stride-0 view of it; the
            # eager loop gets real tensors (a state it passes through unchanged is returned)
            start = tuple(
                torch.full((), decl.rest[s], dtype=x.dtype, device=x.device).expand(x.shape[1:])
                if chosen is not None else torch.full_like(x[0], decl.rest[s])
                for s in decl.state
            )  # fmt: skip
        else:
            start = tuple(state) if isinstance(state, tuple) else (state,)
        if chosen is None:
            out, final = eager(decl, x, start, self.params(x), self.surrogate, self.detach_reset)
        else:
            target, kernels = chosen
            if self.per_neuron:  # one row of values per parameter: [P, N]

                def row(v: float | Tensor) -> Tensor:
                    v = torch.as_tensor(v, dtype=x.dtype, device=x.device)
                    return v.expand(x.shape[1:]).reshape(-1)

                fixed = torch.stack([row(self._value(p)).detach() for p in decl.params])
                learn = (
                    torch.stack([row(self.learn[p]) for p in decl.learnable]) if decl.learnable
                    else torch.zeros(0)
                )  # fmt: skip
            else:
                fixed = torch.tensor([decl.params[p] if p in decl.learnable else self.fixed[p]
                                      for p in decl.params], dtype=x.dtype)  # fmt: skip
                # in the declaration's order (a ParameterDict lists its keys sorted)
                learn = (
                    torch.stack([self.learn[p] for p in decl.learnable]) if decl.learnable
                    else torch.zeros(0)
                )  # fmt: skip
            out, *final = run_fused(
                target, x, kernels, decl, fixed, self.surrogate, self.detach_reset, learn, start
            )
            final = tuple(final)
        return out, (final if k > 1 else final[0])

    def _extra_parts(self) -> list[str]:
        parts = []
        for p in self.declaration.params:
            v = self._value(p)
            if isinstance(v, Tensor) and v.dim() > 0:
                parts.append(f"{p}=<per neuron {tuple(v.shape)}>")
            else:
                parts.append(f"{p}={float(v.detach() if isinstance(v, Tensor) else v):.4g}")
        return parts


def fused_kernels(
    decl: Declaration, backend: str, x: Tensor, *, name: str | None = None
) -> tuple[tuple[str, Any] | None, str | None]:
    """``((target, generated module) or None for the eager reference, why not fused)`` for
    ``x`` under ``backend``; an explicit "cpu" / "triton" that cannot run raises a
    ValueError naming ``name`` (the declaration's by default). Under ``torch.compile``,
    "auto" is the eager reference (the compiler fuses it; a kernel would be a graph break)."""
    name = name or decl.name
    if backend == "torch" or (backend == "auto" and torch.compiler.is_compiling()):
        return None, None
    target = "triton" if backend == "triton" or x.device.type == "cuda" else "numba"
    if target == "numba" and x.device.type != "cpu":
        raise ValueError(f"{name}(backend='cpu') got a {x.device.type} tensor")
    try:
        return (target, load_kernels(decl, x.dtype, target)), None
    except (GenerationError, ImportError) as error:
        if backend != "auto":
            raise ValueError(f"{name}: no fused {target} kernel: {error}") from None
        return None, str(error)


def declared_backend(backend: str, torch_only: str | None = None) -> str:
    """``backend`` checked for a library neuron that runs from its declaration;
    ``torch_only`` names an option set that only its torch loop runs (e.g.
    "ALIF(detach_reset=True)"), which an explicit "cpu" or "triton" then refuses."""
    check_backend_name(backend)
    if torch_only is not None and backend in ("cpu", "triton"):
        raise ValueError(
            f"{torch_only} runs on the torch loop; backend={backend!r} has no kernel for it"
        )
    return backend


def try_declared(
    decl: Declaration, backend: str, x: Tensor, state: Any, rests: tuple[float, ...],
    values: dict[str, float], surrogate: Any, detach_reset: bool, name: str,
) -> tuple[Tensor, Any] | None:  # fmt: skip
    """A library neuron's run through its declaration's generated kernels: ``(output, final
    state)`` shaped as the neuron's (a tuple for several state variables), or None where
    the torch loop runs it: ``backend="torch"``, a dtype or device the kernels do not take
    under ``"auto"``, ``torch.compile``, or a ``state`` that is not None (rest: the values
    in ``rests``), a tensor (one variable) or a tuple of one per variable (the loop then
    names what is wrong)."""
    from spikestack.functional.neurons import initial_state
    from spikestack.validation import check_sequence

    k = len(decl.state)
    given = (
        (None,) * k if state is None
        else (state,) if isinstance(state, Tensor) and k == 1
        else state if isinstance(state, tuple) and len(state) == k
        else None
    )  # fmt: skip
    if given is None:
        return None
    check_sequence(x)  # before x's device and dtype are read
    chosen, _ = fused_kernels(decl, backend, x, name=name)
    if chosen is None:
        return None
    # a resting state as a stride-0 view of its value: the kernels read it once
    start = tuple(
        initial_state(x, s, r, materialize=False) for s, r in zip(given, rests, strict=True)
    )
    # every parameter a fixed number (the library's neurons learn none of them here)
    fixed = torch.tensor([float(values[p]) for p in decl.params], dtype=x.dtype)
    target, module = chosen
    out, *final = run_fused(
        target, x, module, decl, fixed, surrogate, detach_reset, torch.zeros(0), start
    )
    return out, (tuple(final) if k > 1 else final[0])


def _parameter(neuron: str, name: str, value: Any) -> float | Tensor:
    """A parameter's value: a finite number, or a tensor of finite numbers (per neuron)."""
    if isinstance(value, bool):
        raise ValueError(f"{neuron}: {name} must be a finite number or tensor; got {value!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError(f"{neuron}: {name} must be a finite number; got {value!r}")
        return float(value)
    try:
        tensor = torch.as_tensor(value, dtype=torch.float32).detach().clone()
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(
            f"{neuron}: {name} must be a finite number or a tensor of them; got {value!r}"
        ) from None
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{neuron}: {name} has values that are not finite")
    return tensor if tensor.dim() > 0 else float(tensor)


def define_neuron(cls: type | None = None, *, name: str | None = None) -> Any:
    """Make a neuron of the protocol from a declaration class (see the module docstring);
    ``name=`` also registers it (``create_neuron(name)``, models' ``neuron=name``)."""

    def make(declared: type) -> type[DefinedNeuron]:
        decl = declaration(declared)
        options = frozenset({*decl.params, "backend", "detach_reset", "surrogate", "stateful"})
        neuron = type(
            decl.name,
            (DefinedNeuron,),
            {
                "__doc__": decl.doc,
                "__module__": declared.__module__,
                "__qualname__": declared.__qualname__,
                "declaration": decl,
                "state_names": decl.state,
                "options": options,
                "emits_spikes": decl.output is None,
            },
        )
        params = [
            inspect.Parameter(p, inspect.Parameter.KEYWORD_ONLY, default=v)
            for p, v in {
                **decl.params,
                "backend": "auto",
                "detach_reset": False,
                "surrogate": None,
                "stateful": False,
            }.items()  # fmt: skip
        ]
        init = neuron.__init__

        def __init__(self: Any, **kwargs: Any) -> None:
            init(self, **kwargs)

        __init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *params]
        )
        neuron.__init__ = __init__  # type: ignore[method-assign]
        if name is not None:
            from spikestack.neurons.registry import register_neuron

            register_neuron(name)(neuron)
        return neuron

    return make(cls) if cls is not None else make
