"""Spiking U-Net: an encoder-decoder SNN for dense prediction (optical flow from events,
segmentation), after the spiking U-Nets of event-based optical flow (Lee et al.,
"Spike-FlowNet", ECCV 2020; Hagenaars et al., "Self-Supervised Learning of Event-Based
Optical Flow with Spiking Neural Networks", NeurIPS 2021) and segmentation (Kim et al.,
"Beyond Classification: Directly Training Spiking Neural Networks for Semantic
Segmentation", 2022).

    encoder: Conv3x3/2-BN-SN per level (channels c, 2c, 4c, ...)
    bottleneck: residual spiking blocks (SEW ADD)
    decoder: nearest x2 upsample - Conv3x3-BN-SN per level, with the encoder's output of the
             same resolution joined by concatenation (``skip="concat"``) or addition
    head:    Conv1x1 to ``num_classes`` channels; ``head="analog"`` outputs its values (the
             membrane input of a non-firing layer, e.g. flow vectors), ``head="spiking"``
             passes them through a neuron (spike maps, their rate over T the prediction)

Input ``[T, B, C, H, W]`` (``input_layout="sequence"``, the default of ``spiking_unet_flow``)
or a static ``[B, C, H, W]`` frame repeated over T (``"static"``, that of ``spiking_unet_seg``),
H and W divisible by 2**depth; output ``[B, num_classes, H, W]`` (mean over T) or
``[T, B, num_classes, H, W]``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from spikestack.layers import TimeDistributed
from spikestack.models._blocks import conv_bn, neuron_spec
from spikestack.models.base import SpikingModel
from spikestack.models.registry import register_model
from spikestack.validation import check_int


class _Residual(nn.Module):
    def __init__(self, channels: int, spec: Any) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv_bn(channels, channels), spec(), conv_bn(channels, channels), spec()
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class SpikingUNet(SpikingModel):
    def __init__(
        self,
        *,
        in_channels: int,
        num_classes: int,
        base_channels: int,
        depth: int,
        num_residual: int,
        skip: str,
        head: str,
        spec: Any,
        T: int,
        input_layout: str,
        mean_output: bool,
    ) -> None:
        super().__init__(T=T, input_layout=input_layout, mean_output=mean_output)
        for name, value in (
            ("in_channels", in_channels),
            ("num_classes", num_classes),
            ("base_channels", base_channels),
            ("depth", depth),
        ):
            check_int(name, value)
        if skip not in ("concat", "add"):
            raise ValueError(f"skip must be 'concat' or 'add'; got {skip!r}")
        if head not in ("analog", "spiking"):
            raise ValueError(f"head must be 'analog' or 'spiking'; got {head!r}")
        self.depth = depth
        self.skip = skip
        widths = [base_channels * 2**i for i in range(depth)]
        self.encoders = nn.ModuleList()
        cin = in_channels
        for width in widths:
            self.encoders.append(nn.Sequential(conv_bn(cin, width, 3, 2), spec()))
            cin = width
        self.bottleneck = nn.Sequential(*(_Residual(cin, spec) for _ in range(num_residual)))
        self.decoders = nn.ModuleList()
        for i in reversed(range(depth)):
            skip_in = widths[i] if skip == "concat" else 0
            out = widths[i - 1] if i > 0 else base_channels
            self.decoders.append(
                nn.Sequential(
                    TimeDistributed(nn.Upsample(scale_factor=2, mode="nearest")),
                    conv_bn(cin + skip_in, out),
                    spec(),
                )
            )
            cin = out
        self.head = TimeDistributed(nn.Conv2d(cin, num_classes, 1))
        self.head_sn = spec() if head == "spiking" else nn.Identity()

    def forward_sequence(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        if h % 2**self.depth or w % 2**self.depth:
            raise ValueError(
                f"input height and width must be divisible by 2**depth = {2**self.depth}; got {h}x{w}"
            )
        skips = []
        for encoder in self.encoders:
            x = encoder(x)
            skips.append(x)
        x = self.bottleneck(x)
        for decoder, skip in zip(self.decoders, reversed(skips), strict=True):
            x = torch.cat([x, skip], dim=2) if self.skip == "concat" else x + skip
            x = decoder(x)
        return self.head_sn(self.head(x))


def spiking_unet(
    *,
    num_classes: int = 2,
    in_channels: int = 2,
    base_channels: int = 32,
    depth: int = 4,
    num_residual: int = 2,
    skip: str = "concat",
    head: str = "analog",
    T: int = 10,
    input_layout: str = "static",
    neuron: str = "lif",
    neuron_kwargs: dict[str, Any] | None = None,
    surrogate: Any = None,
    backend: str = "auto",
    mean_output: bool = True,
) -> SpikingUNet:
    """Spiking U-Net; ``num_classes`` is the number of output channels."""
    return SpikingUNet(
        in_channels=in_channels,
        num_classes=num_classes,
        base_channels=base_channels,
        depth=depth,
        num_residual=num_residual,
        skip=skip,
        head=head,
        spec=neuron_spec(neuron, neuron_kwargs, surrogate, backend, T=T),
        T=T,
        input_layout=input_layout,
        mean_output=mean_output,
    )


@register_model("spiking_unet_flow", family=spiking_unet, input_layout="sequence")
def spiking_unet_flow(**kwargs: Any) -> SpikingUNet:
    """Spiking U-Net for optical flow from event frames [T, B, 2, H, W] (after Spike-FlowNet,
    Lee et al., ECCV 2020): 2 flow channels out, analog head."""
    return spiking_unet(**{"input_layout": "sequence", **kwargs})


@register_model("spiking_unet_seg", family=spiking_unet)
def spiking_unet_seg(**kwargs: Any) -> SpikingUNet:
    """Spiking U-Net for semantic segmentation of static images (after Kim et al., 2022):
    3 channels in, 21 per-pixel class scores out, analog head, T=4."""
    return spiking_unet(**{"num_classes": 21, "in_channels": 3, "T": 4, **kwargs})
