"""Surrogate gradients for the spike (Heaviside) function.

A surrogate is a value: a frozen, picklable dataclass. Its forward is always the
Heaviside step ``Θ(x) = 1 if x >= 0 else 0`` (SpikingJelly's convention: a neuron
whose membrane sits exactly on the threshold fires); its backward multiplies the
incoming gradient by ``derivative(x)``, a smooth stand-in for Θ'(x).

A user-defined surrogate only has to subclass :class:`Surrogate` and define
``derivative``; every backend honours it (fused kernels receive built-in
surrogates by id and parameters, and any other surrogate as a tensor of
derivatives computed by ``derivative`` itself).

    >>> from spikestack import surrogates
    >>> spike = surrogates.get("atan", alpha=2.0)
    >>> s = spike(torch.randn(3, requires_grad=True))
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar, TypeVar

import torch
from torch import Tensor

from spikestack.registry import Registry
from spikestack.validation import check_positive

__all__ = [
    "Surrogate",
    "SurrogateId",
    "ATan",
    "Sigmoid",
    "FastSigmoid",
    "PiecewiseQuadratic",
    "Rectangle",
    "Triangle",
    "Erf",
    "Gaussian",
    "SoftSign",
    "PiecewiseExp",
    "LeakyKReLU",
    "StraightThrough",
    "S2NN",
    "QPseudoSpike",
    "SpikeRateEscape",
    "check_surrogate",
    "heaviside",
    "get",
    "list_surrogates",
    "register",
]


class SurrogateId(IntEnum):
    """How a fused kernel names a built-in surrogate's derivative formula (the kernels'
    formulas are listed in :func:`spikestack.kernels._plan.surrogate_constants`).

    Each member's lower-case name is the surrogate's registry name. ``CUSTOM`` is any
    other surrogate: its derivative reaches the kernel as a tensor.
    """

    CUSTOM = -1
    ATAN = 0
    SIGMOID = 1
    FAST_SIGMOID = 2
    PIECEWISE_QUADRATIC = 3
    RECTANGLE = 4
    TRIANGLE = 5
    ERF = 6
    GAUSSIAN = 7
    SOFT_SIGN = 8
    PIECEWISE_EXP = 9
    LEAKY_K_RELU = 10


def heaviside(x: Tensor) -> Tensor:
    """Θ(x): 1 where ``x >= 0``, else 0, in the dtype of ``x``."""
    return (x >= 0).to(x.dtype)


class _SpikeFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, surrogate: Surrogate) -> Tensor:
        if x.requires_grad:
            ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return heaviside(x)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor | None, None]:
        (x,) = ctx.saved_tensors
        return grad_output * ctx.surrogate.derivative(x), None


@dataclass(frozen=True)
class Surrogate:
    """Base class: forward is Θ(x), backward uses :meth:`derivative`.

    Subclasses define ``derivative(x)``. Built-in surrogates also carry a
    ``kernel_id`` (and :meth:`kernel_params`) so fused kernels can evaluate the
    derivative in place; a subclass of a built-in that overrides ``derivative``
    is treated as user-defined, never as the built-in.
    """

    kernel_id: ClassVar[SurrogateId | None] = None

    def __call__(self, x: Tensor) -> Tensor:
        return _SpikeFunction.apply(x, self)

    def derivative(self, x: Tensor) -> Tensor:
        raise NotImplementedError(
            f"{type(self).__name__} must define derivative(x) to be used as a surrogate"
        )

    def kernel_params(self) -> tuple[float, float]:
        """The (up to two) float parameters a fused kernel needs, padded with 0."""
        values = [float(getattr(self, f.name)) for f in dataclasses.fields(self)]
        values += [0.0] * (2 - len(values))
        return values[0], values[1]

    def kernel_spec(self) -> tuple[SurrogateId, float, float] | None:
        """``(id, p0, p1)`` for a built-in surrogate used as is, else ``None``.

        ``None`` tells a fused kernel to take the derivative as a tensor from
        :meth:`derivative` instead, so custom surrogates are never ignored.
        """
        cls = type(self)
        if cls.kernel_id is None or _BUILTIN_BY_ID.get(cls.kernel_id) is not cls:
            return None
        return (cls.kernel_id, *self.kernel_params())


_S = TypeVar("_S", bound=type[Surrogate])
_REGISTRY: Registry[type[Surrogate]] = Registry("surrogate")
_BUILTIN_BY_ID: dict[SurrogateId, type[Surrogate]] = {}


def register(name: str) -> Callable[[_S], _S]:
    """Class decorator adding a surrogate to the registry under ``name``.

    Raises ``ValueError`` if the name is taken.
    """

    def decorator(cls: _S) -> _S:
        if not (isinstance(cls, type) and issubclass(cls, Surrogate)):
            raise TypeError(f"register({name!r}) expects a Surrogate subclass; got {cls!r}")
        _REGISTRY.register(name)(cls)
        return cls

    return decorator


def _builtin(kernel_id: SurrogateId) -> Callable[[_S], _S]:
    """Register a built-in surrogate under its id's name, with the id the kernels know it by."""

    def decorator(cls: _S) -> _S:
        cls.kernel_id = kernel_id
        _BUILTIN_BY_ID[kernel_id] = cls
        return register(kernel_id.name.lower())(cls)

    return decorator


def list_surrogates() -> list[str]:
    """Names accepted by :func:`get`, sorted."""
    return _REGISTRY.names()


def get(name: str | Surrogate, **params: float) -> Surrogate:
    """A surrogate by registry name, e.g. ``get("atan", alpha=2.0)``.

    A :class:`Surrogate` instance is returned unchanged (with no params).
    """
    if isinstance(name, Surrogate):
        if params:
            raise ValueError("get(surrogate_instance) takes no parameters")
        return name
    if not isinstance(name, str):
        raise TypeError(f"surrogate must be a name or a Surrogate; got {type(name).__name__}")
    return _REGISTRY.get(name)(**params)


def check_surrogate(surrogate: object) -> Surrogate:
    """``surrogate`` itself; raise a TypeError unless it is a :class:`Surrogate` instance."""
    if not isinstance(surrogate, Surrogate):
        raise TypeError(
            "surrogate must be a spikestack.surrogates.Surrogate (e.g. ATan()); "
            f"got {type(surrogate).__name__}"
        )
    return surrogate


def _check_positive(obj: Surrogate, *names: str) -> None:
    for name in names:
        check_positive(f"{type(obj).__name__}.{name}", getattr(obj, name))


@_builtin(SurrogateId.ATAN)
@dataclass(frozen=True)
class ATan(Surrogate):
    """Θ'(x) ≈ (alpha/2) / (1 + (pi/2 · alpha · x)^2); the derivative of arctan(pi/2·alpha·x)/pi."""

    alpha: float = 2.0

    def __post_init__(self) -> None:
        _check_positive(self, "alpha")

    def derivative(self, x: Tensor) -> Tensor:
        return (self.alpha / 2) / (1 + (math.pi / 2 * self.alpha * x).square())


@_builtin(SurrogateId.SIGMOID)
@dataclass(frozen=True)
class Sigmoid(Surrogate):
    """Θ'(x) ≈ alpha · σ(alpha x) · (1 - σ(alpha x))."""

    alpha: float = 4.0

    def __post_init__(self) -> None:
        _check_positive(self, "alpha")

    def derivative(self, x: Tensor) -> Tensor:
        sg = torch.sigmoid(self.alpha * x)
        return self.alpha * sg * (1 - sg)


@_builtin(SurrogateId.FAST_SIGMOID)
@dataclass(frozen=True)
class FastSigmoid(Surrogate):
    """SuperSpike (Zenke & Ganguli 2018): Θ'(x) ≈ 1 / (alpha·|x| + 1)^2."""

    alpha: float = 25.0

    def __post_init__(self) -> None:
        _check_positive(self, "alpha")

    def derivative(self, x: Tensor) -> Tensor:
        return 1 / (self.alpha * x.abs() + 1).square()


@_builtin(SurrogateId.PIECEWISE_QUADRATIC)
@dataclass(frozen=True)
class PiecewiseQuadratic(Surrogate):
    """Θ'(x) ≈ alpha - alpha^2·|x| for |x| <= 1/alpha, else 0 (a unit-area triangle)."""

    alpha: float = 1.0

    def __post_init__(self) -> None:
        _check_positive(self, "alpha")

    def derivative(self, x: Tensor) -> Tensor:
        return (self.alpha - self.alpha**2 * x.abs()).clamp_min(0)


@_builtin(SurrogateId.RECTANGLE)
@dataclass(frozen=True)
class Rectangle(Surrogate):
    """Θ'(x) ≈ alpha for |x| < 1/(2·alpha), else 0 (a unit-area box; Wu et al. 2018)."""

    alpha: float = 1.0

    def __post_init__(self) -> None:
        _check_positive(self, "alpha")

    def derivative(self, x: Tensor) -> Tensor:
        return (x.abs() < 0.5 / self.alpha).to(x.dtype) * self.alpha


@_builtin(SurrogateId.TRIANGLE)
@dataclass(frozen=True)
class Triangle(Surrogate):
    """Bellec et al. 2018: Θ'(x) ≈ gamma · max(0, 1 - alpha·|x|) (gamma dampens)."""

    alpha: float = 1.0
    gamma: float = 0.3

    def __post_init__(self) -> None:
        _check_positive(self, "alpha", "gamma")

    def derivative(self, x: Tensor) -> Tensor:
        return self.gamma * (1 - self.alpha * x.abs()).clamp_min(0)


@_builtin(SurrogateId.ERF)
@dataclass(frozen=True)
class Erf(Surrogate):
    """Θ'(x) ≈ alpha/sqrt(pi) · exp(-(alpha·x)^2); the derivative of erfc(-alpha x)/2."""

    alpha: float = 2.0

    def __post_init__(self) -> None:
        _check_positive(self, "alpha")

    def derivative(self, x: Tensor) -> Tensor:
        return (self.alpha / math.sqrt(math.pi)) * torch.exp(-(self.alpha * x).square())


@_builtin(SurrogateId.GAUSSIAN)
@dataclass(frozen=True)
class Gaussian(Surrogate):
    """Θ'(x) ≈ N(x; 0, sigma^2) = exp(-x^2 / (2 sigma^2)) / (sqrt(2 pi)·sigma)."""

    sigma: float = 0.5

    def __post_init__(self) -> None:
        _check_positive(self, "sigma")

    def derivative(self, x: Tensor) -> Tensor:
        s = self.sigma
        return torch.exp(-x.square() / (2 * s * s)) / (math.sqrt(2 * math.pi) * s)


@_builtin(SurrogateId.SOFT_SIGN)
@dataclass(frozen=True)
class SoftSign(Surrogate):
    """Θ'(x) ≈ alpha / (2·(1 + |alpha·x|)^2); the derivative of (alpha x/(1+|alpha x|) + 1)/2."""

    alpha: float = 2.0

    def __post_init__(self) -> None:
        _check_positive(self, "alpha")

    def derivative(self, x: Tensor) -> Tensor:
        return self.alpha / (2 * (1 + (self.alpha * x).abs()).square())


@_builtin(SurrogateId.PIECEWISE_EXP)
@dataclass(frozen=True)
class PiecewiseExp(Surrogate):
    """Θ'(x) ≈ (alpha/2) · exp(-alpha·|x|)."""

    alpha: float = 1.0

    def __post_init__(self) -> None:
        _check_positive(self, "alpha")

    def derivative(self, x: Tensor) -> Tensor:
        return (self.alpha / 2) * torch.exp(-self.alpha * x.abs())


@_builtin(SurrogateId.LEAKY_K_RELU)
@dataclass(frozen=True)
class LeakyKReLU(Surrogate):
    """Θ'(x) ≈ k for x >= 0 and leak for x < 0 (a straight-through estimator with a leak)."""

    k: float = 1.0
    leak: float = 0.0

    def __post_init__(self) -> None:
        _check_positive(self, "k")
        check_positive("LeakyKReLU.leak", self.leak, allow_zero=True)

    def derivative(self, x: Tensor) -> Tensor:
        return torch.where(x >= 0, self.k, self.leak).to(x.dtype)


# -- surrogates without a kernel id: fused backends take their derivative as a tensor ----


@register("straight_through")
@dataclass(frozen=True)
class StraightThrough(Surrogate):
    """The straight-through estimator: Θ'(x) ≈ 1 everywhere (snnTorch's
    ``straight_through_estimator``); the gradient passes the spike unchanged."""

    def derivative(self, x: Tensor) -> Tensor:
        return torch.ones_like(x)


@register("s2nn")
@dataclass(frozen=True)
class S2NN(Surrogate):
    """Suetake et al., "S3NN: Time step reduction of spiking surrogate gradients" (Neural
    Networks 2023), as SpikingJelly's ``S2NN``: Θ'(x) ≈ alpha·σ(alpha x)(1 - σ(alpha x))
    for x < 0 and beta / (x + 1) for x >= 0 (a heavy tail above threshold)."""

    alpha: float = 4.0
    beta: float = 1.0

    def __post_init__(self) -> None:
        _check_positive(self, "alpha", "beta")

    def derivative(self, x: Tensor) -> Tensor:
        sg = torch.sigmoid(self.alpha * x)
        # clamp keeps the unused branch finite where x <= -1 (torch.where evaluates both)
        above = self.beta / (x.clamp_min(0) + 1)
        return torch.where(x < 0, self.alpha * sg * (1 - sg), above)


@register("q_pseudo_spike")
@dataclass(frozen=True)
class QPseudoSpike(Surrogate):
    """Sun et al., "Surrogate module learning" (q-PseudoSpike, as SpikingJelly's
    ``QPseudoSpike``): Θ'(x) ≈ (1 + 2|x| / (alpha - 1))^(-alpha), alpha > 1; the tail
    gets heavier as alpha approaches 1 and the peak is 1 at x = 0."""

    alpha: float = 2.0

    def __post_init__(self) -> None:
        if not (isinstance(self.alpha, (int, float)) and self.alpha > 1):
            raise ValueError(f"QPseudoSpike.alpha must be a number > 1; got {self.alpha!r}")

    def derivative(self, x: Tensor) -> Tensor:
        return (1 + 2 / (self.alpha - 1) * x.abs()).pow(-self.alpha)


@register("spike_rate_escape")
@dataclass(frozen=True)
class SpikeRateEscape(Surrogate):
    """The escape-rate (Boltzmann) surrogate of Gerstner & Kistler, "Spiking Neuron Models"
    (2002), as snnTorch's ``spike_rate_escape``: Θ'(x) ≈ slope · exp(-beta·|x - shift|).

    snnTorch evaluates it at ``mem - threshold - 1`` (the peak sits one unit above
    threshold): ``shift=1.0`` reproduces that; the default 0 centres it on the threshold.
    """

    beta: float = 1.0
    slope: float = 25.0
    shift: float = 0.0

    def __post_init__(self) -> None:
        _check_positive(self, "beta", "slope")
        if not math.isfinite(self.shift):
            raise ValueError(f"SpikeRateEscape.shift must be finite; got {self.shift!r}")

    def derivative(self, x: Tensor) -> Tensor:
        return self.slope * torch.exp(-self.beta * (x - self.shift).abs())
