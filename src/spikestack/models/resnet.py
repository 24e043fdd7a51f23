"""Spiking ResNet and SEW ResNet (Fang et al., "Deep Residual Learning in Spiking Neural
Networks", NeurIPS 2021) for ImageNet-sized input.

The layout is the ResNet of He et al. (v1.5: stride on the 3x3 conv of a bottleneck) with
every ReLU replaced by a spiking neuron, so at ``width=64`` and 1000 classes the parameter
counts equal the ANN's (11.69 M ... 60.19 M; the neurons of the paper, IF, have none).

Spiking ResNet block:  S_out = SN(F(S) + S)            (the ANN block, ReLU -> SN)
SEW ResNet block:      S_out = g(SN(F(S)), S')          with g = ADD | AND | IAND and
                       S' = S, or SN(BN(Conv1x1(S))) when the shape changes.
Neurons default to the paper's IF with a detached reset (``neuron_kwargs`` override it).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from spikestack.models._blocks import (
    NeuronSpec,
    check_connect,
    connect_spikes,
    conv_bn,
    linear_head,
    max_pool,
    neuron_spec,
)
from spikestack.models.base import SpikingModel
from spikestack.models.registry import register_model
from spikestack.validation import check_int

# depth -> (blocks per stage, bottleneck)
RESNET_LAYOUTS: dict[int, tuple[tuple[int, int, int, int], bool]] = {
    18: ((2, 2, 2, 2), False),
    34: ((3, 4, 6, 3), False),
    50: ((3, 4, 6, 3), True),
    101: ((3, 4, 23, 3), True),
    152: ((3, 8, 36, 3), True),
}


class ResidualBlock(nn.Module):
    """A basic (two 3x3 convs) or bottleneck (1x1-3x3-1x1) block, spiking or SEW."""

    def __init__(
        self,
        in_channels: int,
        planes: int,
        *,
        stride: int,
        bottleneck: bool,
        spec: NeuronSpec,
        connect: str | None,
    ) -> None:
        super().__init__()
        expansion = 4 if bottleneck else 1
        out_channels = planes * expansion
        if bottleneck:
            shapes = [
                (in_channels, planes, 1, 1),
                (planes, planes, 3, stride),
                (planes, out_channels, 1, 1),
            ]
        else:
            shapes = [(in_channels, planes, 3, stride), (planes, out_channels, 3, 1)]
        self.convs = nn.ModuleList(conv_bn(cin, cout, k, s) for cin, cout, k, s in shapes)
        self.neurons = nn.ModuleList(spec(detach_reset=True) for _ in shapes)
        self.connect = connect  # None: Spiking ResNet (add before the last neuron)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            layers: list[nn.Module] = [conv_bn(in_channels, out_channels, 1, stride)]
            if connect is not None:
                layers.append(spec(detach_reset=True))
            self.downsample = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        out = x
        last = len(self.convs) - 1
        for i, (conv, neuron) in enumerate(zip(self.convs, self.neurons, strict=True)):
            out = conv(out)
            if i < last or self.connect is not None:
                out = neuron(out)
        identity = x if self.downsample is None else self.downsample(x)
        if self.connect is None:
            return self.neurons[last](out + identity)
        return connect_spikes(out, identity, self.connect)


class SpikingResNet(SpikingModel):
    """Stem (7x7/2 conv, BN, SN, 3x3/2 max pool), four stages, global pool, linear head."""

    def __init__(
        self,
        layers: tuple[int, ...],
        *,
        bottleneck: bool,
        connect: str | None,
        spec: NeuronSpec,
        num_classes: int,
        in_channels: int,
        width: int,
        T: int,
        input_layout: str,
        mean_output: bool,
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__(T=T, input_layout=input_layout, mean_output=mean_output)
        for name, value in (
            ("num_classes", num_classes),
            ("in_channels", in_channels),
            ("width", width),
        ):
            check_int(name, value)
        self.stem = nn.Sequential(
            conv_bn(in_channels, width, 7, 2, 3), spec(detach_reset=True), max_pool(3, 2, 1)
        )
        stages: list[nn.Module] = []
        channels = width
        for i, num_blocks in enumerate(layers):
            planes = width * 2**i
            blocks = []
            for j in range(num_blocks):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(
                    ResidualBlock(
                        channels,
                        planes,
                        stride=stride,
                        bottleneck=bottleneck,
                        spec=spec,
                        connect=connect,
                    )
                )
                channels = planes * (4 if bottleneck else 1)
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.head = linear_head(channels, num_classes)
        self._init_weights(zero_init_residual)

    def _init_weights(self, zero_init_residual: bool) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, ResidualBlock):
                    last_bn = m.convs[-1].module[1]
                    assert isinstance(last_bn, nn.BatchNorm2d)
                    nn.init.zeros_(last_bn.weight)

    def forward_sequence(self, x: Tensor) -> Tensor:
        return self.head(self.stages(self.stem(x)))


def _check_depth(depth: int) -> tuple[tuple[int, ...], bool]:
    if depth not in RESNET_LAYOUTS:
        raise ValueError(f"depth must be one of {sorted(RESNET_LAYOUTS)}; got {depth!r}")
    return RESNET_LAYOUTS[depth]


def sew_resnet(
    *,
    depth: int = 18,
    num_classes: int = 1000,
    connect: str = "ADD",
    in_channels: int = 3,
    width: int = 64,
    T: int = 4,
    input_layout: str = "static",
    neuron: str = "if",
    neuron_kwargs: dict[str, Any] | None = None,
    surrogate: Any = None,
    backend: str = "auto",
    mean_output: bool = True,
    zero_init_residual: bool = False,
) -> SpikingResNet:
    """SEW ResNet-``depth`` (Fang et al., NeurIPS 2021); ``connect`` is ADD, AND or IAND."""
    layers, bottleneck = _check_depth(depth)
    return SpikingResNet(
        layers,
        bottleneck=bottleneck,
        connect=check_connect(connect),
        spec=neuron_spec(neuron, neuron_kwargs, surrogate, backend, T=T),
        num_classes=num_classes,
        in_channels=in_channels,
        width=width,
        T=T,
        input_layout=input_layout,
        mean_output=mean_output,
        zero_init_residual=zero_init_residual,
    )


def spiking_resnet(
    *,
    depth: int = 18,
    num_classes: int = 1000,
    in_channels: int = 3,
    width: int = 64,
    T: int = 4,
    input_layout: str = "static",
    neuron: str = "if",
    neuron_kwargs: dict[str, Any] | None = None,
    surrogate: Any = None,
    backend: str = "auto",
    mean_output: bool = True,
    zero_init_residual: bool = False,
) -> SpikingResNet:
    """Spiking ResNet-``depth``: the ANN ResNet with ReLU replaced by spiking neurons."""
    layers, bottleneck = _check_depth(depth)
    return SpikingResNet(
        layers,
        bottleneck=bottleneck,
        connect=None,
        spec=neuron_spec(neuron, neuron_kwargs, surrogate, backend, T=T),
        num_classes=num_classes,
        in_channels=in_channels,
        width=width,
        T=T,
        input_layout=input_layout,
        mean_output=mean_output,
        zero_init_residual=zero_init_residual,
    )


# The registered models: ImageNet layouts (224x224 static images, 1000 classes, IF neurons);
# the parameter counts equal torchvision's ResNets.


@register_model("sew_resnet18", family=sew_resnet, fixed=("depth",))
def sew_resnet18(**kwargs: Any) -> SpikingResNet:
    """SEW ResNet-18 (Fang et al., NeurIPS 2021): basic blocks (2, 2, 2, 2), 11.69 M params."""
    return sew_resnet(depth=18, **kwargs)


@register_model("sew_resnet34", family=sew_resnet, fixed=("depth",))
def sew_resnet34(**kwargs: Any) -> SpikingResNet:
    """SEW ResNet-34 (Fang et al., NeurIPS 2021): basic blocks (3, 4, 6, 3), 21.80 M params."""
    return sew_resnet(depth=34, **kwargs)


@register_model("sew_resnet50", family=sew_resnet, fixed=("depth",))
def sew_resnet50(**kwargs: Any) -> SpikingResNet:
    """SEW ResNet-50 (Fang et al., NeurIPS 2021): bottlenecks (3, 4, 6, 3), 25.56 M params."""
    return sew_resnet(depth=50, **kwargs)


@register_model("sew_resnet101", family=sew_resnet, fixed=("depth",))
def sew_resnet101(**kwargs: Any) -> SpikingResNet:
    """SEW ResNet-101 (Fang et al., NeurIPS 2021): bottlenecks (3, 4, 23, 3), 44.55 M params."""
    return sew_resnet(depth=101, **kwargs)


@register_model("sew_resnet152", family=sew_resnet, fixed=("depth",))
def sew_resnet152(**kwargs: Any) -> SpikingResNet:
    """SEW ResNet-152 (Fang et al., NeurIPS 2021): bottlenecks (3, 8, 36, 3), 60.19 M params."""
    return sew_resnet(depth=152, **kwargs)


@register_model("spiking_resnet18", family=spiking_resnet, fixed=("depth",))
def spiking_resnet18(**kwargs: Any) -> SpikingResNet:
    """Spiking ResNet-18 (the baseline of Fang et al., NeurIPS 2021): basic blocks (2, 2, 2, 2)."""
    return spiking_resnet(depth=18, **kwargs)


@register_model("spiking_resnet34", family=spiking_resnet, fixed=("depth",))
def spiking_resnet34(**kwargs: Any) -> SpikingResNet:
    """Spiking ResNet-34 (the baseline of Fang et al., NeurIPS 2021): basic blocks (3, 4, 6, 3)."""
    return spiking_resnet(depth=34, **kwargs)


@register_model("spiking_resnet50", family=spiking_resnet, fixed=("depth",))
def spiking_resnet50(**kwargs: Any) -> SpikingResNet:
    """Spiking ResNet-50 (the baseline of Fang et al., NeurIPS 2021): bottlenecks (3, 4, 6, 3)."""
    return spiking_resnet(depth=50, **kwargs)


@register_model("spiking_resnet101", family=spiking_resnet, fixed=("depth",))
def spiking_resnet101(**kwargs: Any) -> SpikingResNet:
    """Spiking ResNet-101 (the baseline of Fang et al., NeurIPS 2021): bottlenecks (3, 4, 23, 3)."""
    return spiking_resnet(depth=101, **kwargs)


@register_model("spiking_resnet152", family=spiking_resnet, fixed=("depth",))
def spiking_resnet152(**kwargs: Any) -> SpikingResNet:
    """Spiking ResNet-152 (the baseline of Fang et al., NeurIPS 2021): bottlenecks (3, 8, 36, 3)."""
    return spiking_resnet(depth=152, **kwargs)


__all__ = ["RESNET_LAYOUTS", "ResidualBlock", "SpikingResNet", "sew_resnet", "spiking_resnet"]
