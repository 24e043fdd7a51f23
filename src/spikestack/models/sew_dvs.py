"""The small SEW ResNets of Fang et al., "Deep Residual Learning in Spiking Neural Networks"
(NeurIPS 2021) for event data (DVS128 Gesture, CIFAR10-DVS), with PLIF neurons.

Each stage: a Conv1x1-BN-SN widening layer when the width changes, ``blocks`` SEW blocks
{Conv3x3-BN-SN}*2 + g(A, S), then a 2x2/2 max pool; at the end the feature map is
flattened into a linear classifier (per step, then the mean over T).
DVS128 Gesture: 7 stages of 32 channels (128x128 -> 1x1), 11 classes.
CIFAR10-DVS: 4 stages of 64 and 3 of 128 channels, 10 classes.
``block="spiking"`` uses SN(x + F(x)) (Spiking ResNet) and ``block="plain"`` F(x), the
two baselines of the paper's ablation.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from spikestack.layers import Flatten, TimeDistributed
from spikestack.models._blocks import (
    NeuronSpec,
    check_connect,
    connect_spikes,
    conv_bn,
    neuron_spec,
)
from spikestack.models.base import SpikingModel
from spikestack.models.registry import register_model
from spikestack.validation import check_int

BLOCK_TYPES = ("sew", "spiking", "plain")


class DVSBlock(nn.Module):
    """{Conv3x3-BN-SN}*2 with a SEW, spiking (SN after the add) or no shortcut."""

    def __init__(self, channels: int, spec: NeuronSpec, *, block: str, connect: str) -> None:
        super().__init__()
        self.block = block
        self.connect = connect
        self.conv1 = nn.Sequential(conv_bn(channels, channels), spec(detach_reset=True))
        self.conv2 = conv_bn(channels, channels)
        self.sn2 = spec(detach_reset=True)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv2(self.conv1(x))
        if self.block == "spiking":
            return self.sn2(out + x)
        out = self.sn2(out)
        return out if self.block == "plain" else connect_spikes(out, x, self.connect)


class SEWDVSNet(SpikingModel):
    def __init__(
        self,
        *,
        channels: tuple[int, ...],
        blocks: int,
        block: str,
        connect: str,
        in_channels: int,
        img_size: int,
        num_classes: int,
        spec: NeuronSpec,
        T: int,
        input_layout: str,
        mean_output: bool,
    ) -> None:
        super().__init__(T=T, input_layout=input_layout, mean_output=mean_output)
        for name, value in (
            ("in_channels", in_channels),
            ("img_size", img_size),
            ("num_classes", num_classes),
        ):
            check_int(name, value)
        if block not in BLOCK_TYPES:
            raise ValueError(f"block must be one of {BLOCK_TYPES}; got {block!r}")
        if img_size < 2 ** len(channels):
            raise ValueError(f"img_size {img_size} is too small for {len(channels)} 2x2 pools")
        layers: list[nn.Module] = []
        cin, size = in_channels, img_size
        for cout in channels:
            check_int("channels", cout)
            if cout != cin:
                layers += [conv_bn(cin, cout, 1), spec(detach_reset=True)]
            layers += [DVSBlock(cout, spec, block=block, connect=connect) for _ in range(blocks)]
            layers.append(TimeDistributed(nn.MaxPool2d(2, 2)))
            cin, size = cout, size // 2
        self.features = nn.Sequential(*layers, Flatten())
        self.classifier = TimeDistributed(nn.Linear(cin * size * size, num_classes))

    def forward_sequence(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


def sew_resnet_dvs(
    *,
    num_classes: int = 11,
    channels: tuple[int, ...] = (32,) * 7,
    blocks: int = 1,
    block: str = "sew",
    connect: str = "ADD",
    in_channels: int = 2,
    img_size: int = 128,
    T: int = 16,
    input_layout: str = "sequence",
    neuron: str = "plif",
    neuron_kwargs: dict[str, Any] | None = None,
    surrogate: Any = None,
    backend: str = "auto",
    mean_output: bool = True,
) -> SEWDVSNet:
    """A small SEW ResNet for event frames ``[T, B, 2, H, W]`` (Fang et al., NeurIPS 2021)."""
    return SEWDVSNet(
        channels=tuple(channels),
        blocks=blocks,
        block=block,
        connect=check_connect(connect),
        in_channels=in_channels,
        img_size=img_size,
        num_classes=num_classes,
        spec=neuron_spec(neuron, neuron_kwargs, surrogate, backend, T=T),
        T=T,
        input_layout=input_layout,
        mean_output=mean_output,
    )


@register_model("sew_resnet_dvsgesture", family=sew_resnet_dvs, input_layout="sequence")
def sew_resnet_dvsgesture(**kwargs: Any) -> SEWDVSNet:
    """SEW ResNet for DVS128 Gesture (Fang et al., NeurIPS 2021): {SEW block (c32) - MP2}*7 -
    FC11 on 128x128 event frames [T, B, 2, H, W]."""
    return sew_resnet_dvs(**{"num_classes": 11, "channels": (32,) * 7, **kwargs})


@register_model("sew_resnet_cifar10dvs", family=sew_resnet_dvs, input_layout="sequence")
def sew_resnet_cifar10dvs(**kwargs: Any) -> SEWDVSNet:
    """SEW ResNet for CIFAR10-DVS (Fang et al., NeurIPS 2021): {SEW block - MP2}*7 with 64 then
    128 channels - FC10 on 128x128 event frames [T, B, 2, H, W]."""
    return sew_resnet_dvs(**{"num_classes": 10, "channels": (64,) * 4 + (128,) * 3, **kwargs})
