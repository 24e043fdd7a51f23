"""Compact SNNs: the defaults of ``spikestack train``. All three take a time-major sequence
``[T, B, ...]`` by default (``input_layout="sequence"``: the training run encodes its data
over time); ``input_layout="static"`` repeats one ``[B, ...]`` sample over ``T`` steps.

``digits_csnn``: for 8×8 single-channel images (scikit-learn's digits) encoded over T steps,
    Conv(1, c, 3) - BN - neuron - Conv(c, 2c, 3) - BN - neuron - MaxPool2 - Flatten -
    Linear(2c·4·4, num_classes); the output is the per-step logits ``[T, B, classes]``,
    or their mean over T (``[B, classes]``, the default).
``event_csnn``: the same pattern for event frames ``[T, B, P, H, W]`` with a global pool, so any
    sensor size works (N-MNIST 34×34, DVS 128×128 ...).
``mlp_snn``: a fully connected SNN on the flattened steps of ``[T, B, ...]`` (spiking audio
    such as SHD / SSC); its input size is ``in_features``, the flattened size of one step.
"""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor, nn

from spikestack.layers import Flatten, SequenceDropout, TimeDistributed
from spikestack.models._blocks import neuron_spec
from spikestack.models.base import SpikingModel
from spikestack.models.registry import register_model
from spikestack.validation import check_int


class SequentialSNN(SpikingModel):
    """A model whose per-step computation is one ``nn.Sequential`` body on ``[T, B, ...]``."""

    def __init__(self, body: nn.Module, *, T: int, input_layout: str, mean_output: bool) -> None:
        super().__init__(T=T, input_layout=input_layout, mean_output=mean_output)
        self.body = body

    def forward_sequence(self, x: Tensor) -> Tensor:
        return self.body(x)


class MLPSNN(SequentialSNN):
    """:class:`SequentialSNN` that flattens each step, so one sample may have any shape."""

    sample_dims = None

    def __init__(self, body: nn.Module, *, in_features: int, **kwargs: Any) -> None:
        super().__init__(body, **kwargs)
        self.in_features = in_features

    def forward_sequence(self, x: Tensor) -> Tensor:
        size = math.prod(x.shape[2:])
        if size != self.in_features:  # before the first Linear, whose error names no argument
            raise ValueError(
                f"{self.model_name} was built with in_features={self.in_features}, but one step "
                f"of its input [T, B, ...] = {tuple(x.shape)} has {size} features"
            )
        return self.body(x)


def _pool(kind: str) -> nn.Module:
    if kind not in ("max", "avg"):
        raise ValueError(f"pool must be 'max' or 'avg'; got {kind!r}")
    return nn.MaxPool2d(2) if kind == "max" else nn.AvgPool2d(2)


@register_model("digits_csnn", input_layout="sequence")
def digits_csnn(
    *,
    num_classes: int = 10,
    in_channels: int = 1,
    channels: int = 32,
    T: int = 4,
    input_layout: str = "sequence",
    neuron: str = "lif",
    neuron_kwargs: dict[str, Any] | None = None,
    surrogate: Any = None,
    backend: str = "auto",
    mean_output: bool = True,
    pool: str = "max",
) -> SequentialSNN:
    """Two-conv spiking CNN for 8×8 images encoded over T steps (the ``spikestack train``
    default). ``pool="avg"`` uses average pooling, which ANN→SNN conversion needs."""
    spec = neuron_spec(neuron, neuron_kwargs, surrogate, backend, T=T)
    c = channels
    body = nn.Sequential(
        TimeDistributed(nn.Conv2d(in_channels, c, 3, padding=1, bias=False)),
        TimeDistributed(nn.BatchNorm2d(c)),
        spec(),
        TimeDistributed(nn.Conv2d(c, 2 * c, 3, padding=1, bias=False)),
        TimeDistributed(nn.BatchNorm2d(2 * c)),
        spec(),
        TimeDistributed(_pool(pool)),
        Flatten(),
        TimeDistributed(nn.Linear(2 * c * 4 * 4, num_classes)),
    )
    return SequentialSNN(body, T=T, input_layout=input_layout, mean_output=mean_output)


@register_model("event_csnn", input_layout="sequence")
def event_csnn(
    *,
    num_classes: int = 10,
    in_channels: int = 2,
    channels: int = 32,
    pool_size: int = 4,
    T: int = 10,
    input_layout: str = "sequence",
    neuron: str = "lif",
    neuron_kwargs: dict[str, Any] | None = None,
    surrogate: Any = None,
    backend: str = "auto",
    mean_output: bool = True,
    pool: str = "max",
    dropout: float = 0.0,
) -> SequentialSNN:
    """Three-stage spiking CNN for event frames ``[T, B, P, H, W]`` of any size
    (``pool="avg"``: average pooling in the stages; ``dropout`` > 0: a
    :class:`SequenceDropout` before the classifier)."""
    spec = neuron_spec(neuron, neuron_kwargs, surrogate, backend, T=T)
    c = channels
    layers: list[nn.Module] = []
    cin = in_channels
    for cout in (c, 2 * c, 2 * c):
        layers += [
            TimeDistributed(nn.Conv2d(cin, cout, 3, padding=1, bias=False)),
            TimeDistributed(nn.BatchNorm2d(cout)),
            spec(),
            TimeDistributed(_pool(pool)),
        ]
        cin = cout
    layers += [TimeDistributed(nn.AdaptiveAvgPool2d(pool_size)), Flatten()]
    if dropout:
        layers.append(SequenceDropout(dropout))
    layers.append(TimeDistributed(nn.Linear(cin * pool_size * pool_size, num_classes)))
    return SequentialSNN(
        nn.Sequential(*layers), T=T, input_layout=input_layout, mean_output=mean_output
    )


@register_model("mlp_snn", input_layout="sequence")
def mlp_snn(
    *,
    num_classes: int = 10,
    in_features: int = 700,
    hidden: int = 128,
    layers: int = 2,
    T: int = 10,
    input_layout: str = "sequence",
    neuron: str = "lif",
    neuron_kwargs: dict[str, Any] | None = None,
    surrogate: Any = None,
    backend: str = "auto",
    mean_output: bool = True,
) -> MLPSNN:
    """Fully connected SNN on the flattened steps of ``[T, B, ...]`` (spiking audio: SHD, SSC)."""
    check_int("in_features", in_features)
    spec = neuron_spec(neuron, neuron_kwargs, surrogate, backend, T=T)
    blocks: list[nn.Module] = [Flatten()]
    width = in_features
    for _ in range(layers):
        blocks += [TimeDistributed(nn.Linear(width, hidden)), spec()]
        width = hidden
    blocks.append(TimeDistributed(nn.Linear(width, num_classes)))
    return MLPSNN(
        nn.Sequential(*blocks),
        in_features=in_features,
        T=T,
        input_layout=input_layout,
        mean_output=mean_output,
    )
