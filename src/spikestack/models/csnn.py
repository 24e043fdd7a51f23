"""Compact convolutional SNNs: the defaults of ``spikestack train``.

``digits_csnn``: for 8×8 single-channel images (scikit-learn's digits) encoded over T steps,
    Conv(1, c, 3) - BN - neuron - Conv(c, 2c, 3) - BN - neuron - MaxPool2 - Flatten -
    Linear(2c·4·4, num_classes); the output is the per-step logits ``[T, B, classes]``,
    or their mean over T (``[B, classes]``, the default).
``event_csnn``: the same pattern for event frames ``[T, B, P, H, W]`` with a global pool, so any
    sensor size works (N-MNIST 34×34, DVS 128×128 ...).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from spikestack.layers import Flatten, TimeDistributed
from spikestack.models._blocks import neuron_spec
from spikestack.models.registry import register_model


class SpikingClassifier(nn.Module):
    """A ``[T, B, ...] -> [B, classes]`` classifier (mean over time) around a sequence body."""

    def __init__(self, body: nn.Module, *, mean_output: bool = True) -> None:
        super().__init__()
        self.body = body
        self.mean_output = mean_output

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() < 3:
            raise ValueError(f"expected x of shape [T, B, ...]; got shape {tuple(x.shape)}")
        y = self.body(x)
        return y.mean(0) if self.mean_output else y


@register_model("digits_csnn")
def digits_csnn(
    *,
    num_classes: int = 10,
    in_channels: int = 1,
    channels: int = 32,
    neuron: str = "lif",
    neuron_kwargs: dict[str, Any] | None = None,
    surrogate: Any = None,
    backend: str = "auto",
    mean_output: bool = True,
) -> nn.Module:
    """Two-conv spiking CNN for 8×8 inputs (the ``spikestack train`` default)."""
    spec = neuron_spec(neuron, neuron_kwargs, surrogate, backend)
    c = channels
    body = nn.Sequential(
        TimeDistributed(nn.Conv2d(in_channels, c, 3, padding=1, bias=False)),
        TimeDistributed(nn.BatchNorm2d(c)),
        spec(),
        TimeDistributed(nn.Conv2d(c, 2 * c, 3, padding=1, bias=False)),
        TimeDistributed(nn.BatchNorm2d(2 * c)),
        spec(),
        TimeDistributed(nn.MaxPool2d(2)),
        Flatten(),
        TimeDistributed(nn.Linear(2 * c * 4 * 4, num_classes)),
    )
    return SpikingClassifier(body, mean_output=mean_output)


@register_model("event_csnn")
def event_csnn(
    *,
    num_classes: int = 10,
    in_channels: int = 2,
    channels: int = 32,
    neuron: str = "lif",
    neuron_kwargs: dict[str, Any] | None = None,
    surrogate: Any = None,
    backend: str = "auto",
    mean_output: bool = True,
    pool_size: int = 4,
) -> nn.Module:
    """Three-stage spiking CNN for event frames ``[T, B, P, H, W]`` of any size."""
    spec = neuron_spec(neuron, neuron_kwargs, surrogate, backend)
    c = channels
    layers: list[nn.Module] = []
    cin = in_channels
    for cout in (c, 2 * c, 2 * c):
        layers += [
            TimeDistributed(nn.Conv2d(cin, cout, 3, padding=1, bias=False)),
            TimeDistributed(nn.BatchNorm2d(cout)),
            spec(),
            TimeDistributed(nn.MaxPool2d(2)),
        ]
        cin = cout
    layers += [
        TimeDistributed(nn.AdaptiveAvgPool2d(pool_size)),
        Flatten(),
        TimeDistributed(nn.Linear(cin * pool_size * pool_size, num_classes)),
    ]
    return SpikingClassifier(nn.Sequential(*layers), mean_output=mean_output)


@register_model("mlp_snn")
def mlp_snn(
    *,
    num_classes: int = 10,
    in_features: int = 700,
    hidden: int = 128,
    layers: int = 2,
    neuron: str = "lif",
    neuron_kwargs: dict[str, Any] | None = None,
    surrogate: Any = None,
    backend: str = "auto",
    mean_output: bool = True,
    in_channels: int | None = None,
) -> nn.Module:
    """Fully connected SNN on flattened inputs ``[T, B, ...]`` (spiking audio such as SHD/SSC).

    ``in_channels`` is accepted for a uniform CLI and ignored; ``in_features`` is the
    flattened size of one step.
    """
    spec = neuron_spec(neuron, neuron_kwargs, surrogate, backend)
    blocks: list[nn.Module] = [Flatten()]
    width = in_features
    for _ in range(layers):
        blocks += [
            TimeDistributed(nn.Linear(width, hidden)),
            spec(),
        ]
        width = hidden
    blocks.append(TimeDistributed(nn.Linear(width, num_classes)))
    return SpikingClassifier(nn.Sequential(*blocks), mean_output=mean_output)
