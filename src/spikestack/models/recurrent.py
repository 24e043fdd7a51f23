"""A recurrent deep SNN: a feed-forward SEW ResNet backbone with recurrent spiking modules
between its stages (in the spirit of the recurrent spiking layers of Bellec et al., 2018,
and Yin et al., "Accurate and efficient time-domain classification with adaptive spiking
recurrent neural networks", 2021, placed in a deep residual SNN).

Recurrent module, run step by step with the neuron's ``step`` API:
    S[t] = SN( BN(Conv(X[t])) + Conv_rec(S[t-1]) ),   output X[t] + S[t]  (SEW ADD)
so each stage's features also depend on its own spikes of the previous step. The
backbone stages are SEW blocks (:class:`spikestack.models.resnet.ResidualBlock`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from spikestack.models._blocks import (
    NeuronSpec,
    check_connect,
    conv_bn,
    linear_head,
    neuron_spec,
)
from spikestack.models.base import SpikingModel
from spikestack.models.registry import register_model
from spikestack.models.resnet import ResidualBlock
from spikestack.validation import check_int


class RecurrentSpikingConv(nn.Module):
    """``S[t] = SN(BN(Conv(X[t])) + Conv_rec(S[t-1]))``; returns ``X + S``."""

    def __init__(self, channels: int, spec: NeuronSpec, *, kernel_size: int = 3) -> None:
        super().__init__()
        self.feedforward = conv_bn(channels, channels, kernel_size)
        self.recurrent = nn.Conv2d(
            channels, channels, kernel_size, padding=kernel_size // 2, bias=False
        )
        if spec.is_relu:
            raise ValueError(
                "recurrent_sew_resnet has no ANN twin: its recurrence runs a neuron step by step"
            )
        self.neuron = spec()
        if not self.neuron.streaming:
            raise ValueError(
                "a recurrent model runs its neuron step by step; "
                f"{type(self.neuron).__name__} has no step-by-step form"
            )

    def forward(self, x: Tensor) -> Tensor:
        drive = self.feedforward(x)  # the feed-forward part of all steps at once
        spikes = torch.zeros_like(drive[0])
        state = None
        out = []
        for t in range(drive.shape[0]):
            spikes, state = self.neuron.step(drive[t] + self.recurrent(spikes), state)
            out.append(spikes)
        return x + torch.stack(out)


class RecurrentSEWNet(SpikingModel):
    def __init__(
        self,
        *,
        in_channels: int,
        num_classes: int,
        channels: tuple[int, ...],
        blocks: int,
        connect: str,
        spec: NeuronSpec,
        T: int,
        input_layout: str,
        mean_output: bool,
    ) -> None:
        super().__init__(T=T, input_layout=input_layout, mean_output=mean_output)
        for name, value in (
            ("in_channels", in_channels),
            ("num_classes", num_classes),
            ("blocks", blocks),
        ):
            check_int(name, value)
        if not channels:
            raise ValueError("channels must list at least one stage width")
        layers: list[nn.Module] = [conv_bn(in_channels, channels[0]), spec()]
        cin = channels[0]
        for i, width in enumerate(channels):
            check_int("channels", width)
            for j in range(blocks):
                stride = 2 if (i > 0 and j == 0) else 1
                layers.append(
                    ResidualBlock(
                        cin, width, stride=stride, bottleneck=False, spec=spec, connect=connect
                    )
                )
                cin = width
            layers.append(RecurrentSpikingConv(width, spec))
        self.features = nn.Sequential(*layers)
        self.head = linear_head(cin, num_classes)

    def forward_sequence(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


@register_model("recurrent_sew_resnet", input_layout="sequence")
def recurrent_sew_resnet(
    *,
    num_classes: int = 11,
    in_channels: int = 2,
    channels: tuple[int, ...] = (64, 128, 256),
    blocks: int = 2,
    connect: str = "ADD",
    T: int = 16,
    input_layout: str = "sequence",
    neuron: str = "lif",
    neuron_kwargs: dict[str, Any] | None = None,
    surrogate: Any = None,
    backend: str = "auto",
    mean_output: bool = True,
) -> RecurrentSEWNet:
    """Recurrent deep SNN: SEW stages (``blocks`` basic blocks each) with recurrent spiking
    modules between them; event-data defaults (frames [T, B, 2, H, W], 11 classes, T=16)."""
    return RecurrentSEWNet(
        in_channels=in_channels,
        num_classes=num_classes,
        channels=tuple(channels),
        blocks=blocks,
        connect=check_connect(connect),
        spec=neuron_spec(neuron, neuron_kwargs, surrogate, backend, T=T),
        T=T,
        input_layout=input_layout,
        mean_output=mean_output,
    )
