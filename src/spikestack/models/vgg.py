"""Spiking VGG-11 (Simonyan & Zisserman's configuration "A", with BatchNorm, every ReLU
replaced by a spiking neuron), as used throughout the direct-training SNN literature.

features: [64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M], each number a
Conv3x3-BN-SN layer, M a 2x2/2 max pool; then an adaptive average pool to
``pool_size`` x ``pool_size`` and the classifier FC-SN-DP-FC-SN-DP-FC. With the ImageNet
defaults (``pool_size=7``, ``hidden=4096``) the count is the ANN VGG-11-BN's, 132.87 M.
For 32x32 input use ``pool_size=1`` (CIFAR); ``width`` scales every conv layer.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from spikestack.layers import Flatten, TimeDistributed
from spikestack.models._blocks import neuron_spec
from spikestack.models.base import SpikingModel
from spikestack.models.registry import register_model
from spikestack.validation import check_int

VGG11 = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")


class SpikingVGG(SpikingModel):
    def __init__(
        self,
        *,
        config: tuple[int | str, ...],
        num_classes: int,
        in_channels: int,
        width: int,
        batch_norm: bool,
        pool_size: int,
        hidden: int,
        dropout: float,
        spec: Any,
        T: int,
        input_layout: str,
        mean_output: bool,
    ) -> None:
        super().__init__(T=T, input_layout=input_layout, mean_output=mean_output)
        for name, value in (
            ("num_classes", num_classes),
            ("in_channels", in_channels),
            ("width", width),
            ("pool_size", pool_size),
            ("hidden", hidden),
        ):
            check_int(name, value)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {dropout!r}")
        layers: list[nn.Module] = []
        cin = in_channels
        for item in config:
            if item == "M":
                layers.append(TimeDistributed(nn.MaxPool2d(2, 2)))
                continue
            cout = int(item) * width // 64
            conv: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=1)]
            if batch_norm:
                conv.append(nn.BatchNorm2d(cout))
            layers += [TimeDistributed(nn.Sequential(*conv)), spec()]
            cin = cout
        layers.append(TimeDistributed(nn.AdaptiveAvgPool2d(pool_size)))
        self.features = nn.Sequential(*layers, Flatten())
        self.classifier = nn.Sequential(
            TimeDistributed(nn.Linear(cin * pool_size * pool_size, hidden)),
            spec(),
            TimeDistributed(nn.Dropout(dropout)),
            TimeDistributed(nn.Linear(hidden, hidden)),
            spec(),
            TimeDistributed(nn.Dropout(dropout)),
            TimeDistributed(nn.Linear(hidden, num_classes)),
        )

    def forward_sequence(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


@register_model("spiking_vgg11")
def spiking_vgg11(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    width: int = 64,
    batch_norm: bool = True,
    pool_size: int = 7,
    hidden: int = 4096,
    dropout: float = 0.5,
    T: int = 4,
    input_layout: str = "static",
    neuron: str = "lif",
    neuron_kwargs: dict[str, Any] | None = None,
    surrogate: Any = None,
    backend: str = "auto",
    mean_output: bool = True,
) -> SpikingVGG:
    """Spiking VGG-11 with BatchNorm (Simonyan & Zisserman, ICLR 2015, spiking): ImageNet
    layout (224x224 static images, 7x7 pool, two 4096-wide FC layers), 132.87 M; ``width`` is
    the channels of the first layer (64 in VGG), ``pool_size=1`` suits 32x32 input."""
    return SpikingVGG(
        config=VGG11,
        num_classes=num_classes,
        in_channels=in_channels,
        width=width,
        batch_norm=batch_norm,
        pool_size=pool_size,
        hidden=hidden,
        dropout=dropout,
        spec=neuron_spec(neuron, neuron_kwargs, surrogate, backend, T=T),
        T=T,
        input_layout=input_layout,
        mean_output=mean_output,
    )
