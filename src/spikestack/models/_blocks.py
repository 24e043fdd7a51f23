"""Building blocks shared by the model zoo.

Every model takes the same neuron arguments (``neuron``, ``neuron_kwargs``, ``surrogate``,
``backend``); :class:`NeuronSpec` bundles them and builds one spiking layer per call, so
any registered neuron ("if", "lif", "plif", "psn" ...) can be swapped into any model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn

from spikestack import surrogates
from spikestack.kernels import check_backend_name
from spikestack.layers import Flatten, TimeDistributed
from spikestack.neurons import Neuron, neuron_class
from spikestack.neurons.base import check_options

CONNECT_FUNCTIONS = ("ADD", "AND", "IAND")


@dataclass(frozen=True)
class NeuronSpec:
    """The neuron of a model: registry name (or Neuron class), its kwargs, surrogate and backend.

    ``spec(detach_reset=True)`` builds one neuron. Keywords given in the call are the
    model's defaults: the user's ``neuron_kwargs`` win, and a default the neuron does not
    take (its declared ``options``) is left out; ``spec(v_threshold=0.5, force=True)``
    overrides the user's value (Spikformer's attention neuron fires at 0.5 by design).
    What the user asks for is never dropped: a ``neuron_kwargs`` key, a surrogate or a
    backend other than ``"auto"`` that the neuron does not take raises at once, naming
    the neuron and the option.
    """

    name: str | type[Neuron] = "lif"
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    surrogate: Any = None
    backend: str = "auto"
    T: int | None = None  # given to neurons that take ``T`` (the PSN family)

    def __post_init__(self) -> None:
        if self.is_relu:  # the ANN twin: ReLU where the neurons were, nothing to configure
            if self.kwargs:
                raise ValueError(
                    f"neuron 'relu' (the ANN twin) takes no neuron_kwargs; got {dict(self.kwargs)}"
                )
            return
        cls = neuron_class(self.name)  # unknown names fail here, with close matches
        if not isinstance(self.kwargs, Mapping):
            raise TypeError(f"neuron_kwargs must be a dict; got {type(self.kwargs).__name__}")
        label = repr(self.name) if isinstance(self.name, str) else None
        check_options(cls, self.kwargs, label=label)
        check_backend_name(self.backend)
        if self.backend != "auto" and "backend" not in cls.options:
            raise ValueError(
                f"neuron {label or cls.__name__} has one (torch) implementation and takes no "
                f"backend; got backend={self.backend!r} (leave it 'auto')"
            )
        if isinstance(self.surrogate, str):
            object.__setattr__(self, "surrogate", surrogates.get(self.surrogate))

    @property
    def is_relu(self) -> bool:
        """``neuron="relu"``: the model's ANN twin (same layers and parameter names)."""
        return isinstance(self.name, str) and self.name.lower() == "relu"

    @property
    def neuron_class(self) -> type[Neuron]:
        return neuron_class(self.name)

    def __call__(self, *, force: bool = False, **defaults: Any) -> Neuron:
        if self.is_relu:
            return nn.ReLU()  # type: ignore[return-value]
        cls = self.neuron_class
        kwargs = dict(self.kwargs)
        if self.surrogate is not None:
            kwargs.setdefault("surrogate", self.surrogate)
        if "backend" in cls.options:
            kwargs.setdefault("backend", self.backend)
        if self.T is not None and "T" in cls.options:
            kwargs.setdefault("T", self.T)
        for key, value in defaults.items():
            if key in cls.options:
                kwargs[key] = value if force else kwargs.get(key, value)
        return cls(**kwargs)


def neuron_spec(
    neuron: str | type[Neuron],
    neuron_kwargs: Mapping[str, Any] | None,
    surrogate: Any,
    backend: str,
    *,
    T: int | None = None,
) -> NeuronSpec:
    if neuron_kwargs is not None and not isinstance(neuron_kwargs, Mapping):
        raise TypeError(f"neuron_kwargs must be a dict; got {type(neuron_kwargs).__name__}")
    return NeuronSpec(neuron, dict(neuron_kwargs or {}), surrogate, backend, T)


def conv_bn(
    in_channels: int,
    out_channels: int,
    kernel_size: int = 3,
    stride: int = 1,
    padding: int | None = None,
    *,
    bias: bool = False,
) -> TimeDistributed:
    """Conv2d + BatchNorm2d applied to every step of ``[T, B, C, H, W]``."""
    padding = kernel_size // 2 if padding is None else padding
    return TimeDistributed(
        nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=bias),
            nn.BatchNorm2d(out_channels),
        )
    )


def max_pool(kernel_size: int = 3, stride: int = 2, padding: int = 1) -> TimeDistributed:
    return TimeDistributed(nn.MaxPool2d(kernel_size, stride, padding))


def check_connect(connect: str) -> str:
    if not isinstance(connect, str) or connect.upper() not in CONNECT_FUNCTIONS:
        raise ValueError(f"connect must be one of {', '.join(CONNECT_FUNCTIONS)}; got {connect!r}")
    return connect.upper()


def connect_spikes(out: Tensor, identity: Tensor, connect: str) -> Tensor:
    """SEW element-wise connection g(A, S) of the residual output A and the shortcut S.

    ADD: A + S; AND: A * S; IAND: (1 - A) * S (Fang et al., NeurIPS 2021, Table 1).
    """
    if connect == "ADD":
        return out + identity
    if connect == "AND":
        return out * identity
    return (1.0 - out) * identity


def linear_head(features: int, num_classes: int) -> nn.Sequential:
    """Global average pool over space, then a per-step linear classifier."""
    return nn.Sequential(
        TimeDistributed(nn.AdaptiveAvgPool2d(1)),
        Flatten(),
        TimeDistributed(nn.Linear(features, num_classes)),
    )
