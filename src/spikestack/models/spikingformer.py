"""Spikingformer (Zhou et al., "Spikingformer: Spike-driven Residual Learning for
Transformer-based Spiking Neural Network", 2023).

Spikformer's layout with pre-activation, spike-driven residual blocks: every branch is
SN -> Conv/Linear -> BN, so the residual stream carries membrane inputs and each conv or
linear layer receives binary spikes (no integer-spike multiplications, unlike the
SN -> add shortcuts of Spikformer). The spiking tokenizer has the same order: Conv-BN,
then SN - MaxPool - Conv-BN four times (its last 3x3 conv takes the place of Spikformer's
position embedding). Same sizes and parameter counts as Spikformer
(e.g. Spikingformer-8-512: 29.68 M).

``downsample="cml"`` applies the CML order (max pool on the BN output before the neuron)
instead of the original SN -> MaxPool -> Conv (see :mod:`spikestack.models.cml`).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from spikestack.models._blocks import NeuronSpec, conv_bn, max_pool, neuron_spec
from spikestack.models.registry import register_model
from spikestack.models.spikformer import (
    CIFAR,
    DVS,
    IMAGENET,
    SpikingTransformer,
    check_downsample,
    check_image,
    num_pools,
)


class SpikingTokenizer(nn.Module):
    """Pre-activation tokenizer: ``[T, B, C_in, H, W] -> [T, B, D, H / patch, W / patch]``.

    Conv-BN to D/8, then four times SN - (MaxPool) - Conv-BN to D/4, D/2, D, D; the output
    is a membrane input (BN), not spikes; pools sit in the last log2(patch_size) of them.
    """

    def __init__(
        self,
        in_channels: int,
        embed_dim: int,
        patch_size: int,
        spec: NeuronSpec,
        *,
        downsample: str = "maxpool",
    ) -> None:
        super().__init__()
        check_downsample(downsample)
        if embed_dim % 8:
            raise ValueError(f"embed_dim must be divisible by 8; got {embed_dim}")
        pools = num_pools(patch_size)
        channels = [embed_dim // 8, embed_dim // 4, embed_dim // 2, embed_dim, embed_dim]
        layers: list[nn.Module] = [conv_bn(in_channels, channels[0])]
        for j in range(1, 5):
            pooled = j > 4 - pools
            if not pooled:
                layers.append(spec(detach_reset=True))
            elif downsample == "cml":  # pool the membrane input, then fire
                layers += [max_pool(), spec(detach_reset=True)]
            else:  # the original order pools spikes
                layers += [spec(detach_reset=True), max_pool()]
            layers.append(conv_bn(channels[j - 1], channels[j]))
        self.proj = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x)


def spikingformer(
    *,
    num_classes: int = 1000,
    img_size: int = 224,
    patch_size: int = 16,
    in_channels: int = 3,
    embed_dim: int = 384,
    depth: int = 8,
    num_heads: int = 8,
    mlp_ratio: float = 4.0,
    downsample: str = "maxpool",
    T: int = 4,
    input_layout: str = "static",
    neuron: str = "lif",
    neuron_kwargs: dict[str, Any] | None = None,
    surrogate: Any = None,
    backend: str = "auto",
    mean_output: bool = True,
) -> SpikingTransformer:
    """Spikingformer-``depth``-``embed_dim`` (Zhou et al., 2023)."""
    check_image(img_size, patch_size, in_channels)
    spec = neuron_spec(neuron, neuron_kwargs, surrogate, backend, T=T)
    tokenizer = SpikingTokenizer(in_channels, embed_dim, patch_size, spec, downsample=downsample)
    return SpikingTransformer(
        tokenizer,
        embed_dim=embed_dim,
        depth=depth,
        num_heads=num_heads,
        mlp_ratio=mlp_ratio,
        num_classes=num_classes,
        spec=spec,
        patch_size=patch_size,
        T=T,
        input_layout=input_layout,
        mean_output=mean_output,
        pre_activation=True,
    )


# The sizes and dataset defaults of Spikformer (same parameter counts).


@register_model("spikingformer_8_384", family=spikingformer)
def spikingformer_8_384(**kwargs: Any) -> SpikingTransformer:
    """Spikingformer-8-384 (Zhou et al., 2023): 8 blocks of width 384, ImageNet, 16.81 M."""
    return spikingformer(**{**IMAGENET, "depth": 8, "embed_dim": 384, "num_heads": 12, **kwargs})


@register_model("spikingformer_8_512", family=spikingformer)
def spikingformer_8_512(**kwargs: Any) -> SpikingTransformer:
    """Spikingformer-8-512 (Zhou et al., 2023): 8 blocks of width 512, ImageNet, 29.68 M."""
    return spikingformer(**{**IMAGENET, "depth": 8, "embed_dim": 512, "num_heads": 8, **kwargs})


@register_model("spikingformer_8_768", family=spikingformer)
def spikingformer_8_768(**kwargs: Any) -> SpikingTransformer:
    """Spikingformer-8-768 (Zhou et al., 2023): 8 blocks of width 768, ImageNet, 66.34 M."""
    return spikingformer(**{**IMAGENET, "depth": 8, "embed_dim": 768, "num_heads": 12, **kwargs})


@register_model("spikingformer_4_384", family=spikingformer)
def spikingformer_4_384(**kwargs: Any) -> SpikingTransformer:
    """Spikingformer-4-384 (Zhou et al., 2023): 4 blocks of width 384, CIFAR-10, 9.32 M."""
    return spikingformer(**{**CIFAR, "depth": 4, "embed_dim": 384, "num_heads": 12, **kwargs})


@register_model("spikingformer_2_256", family=spikingformer, input_layout="sequence")
def spikingformer_2_256(**kwargs: Any) -> SpikingTransformer:
    """Spikingformer-2-256 (Zhou et al., 2023): 2 blocks of width 256, DVS event frames, 2.57 M."""
    return spikingformer(**{**DVS, "depth": 2, "embed_dim": 256, "num_heads": 16, **kwargs})
