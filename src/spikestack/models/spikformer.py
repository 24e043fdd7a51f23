"""Spikformer (Zhou et al., "Spikformer: When Spiking Neural Network Meets Transformer",
ICLR 2023).

Spiking patch splitting (SPS): four Conv3x3-BN-SN layers widening to D/8, D/4, D/2, D, with
3x3/2 max pools on the last log2(patch_size) of them, then a relative position embedding
x + SN(BN(Conv3x3(x))). Then L blocks of spiking self-attention (no softmax) and spiking MLP
with residual adds, global average pooling and a linear head. ``spikformer_L_D``:
L blocks of width D; ImageNet sizes use 224x224 input and patch 16, CIFAR 32x32 and patch 4.

``downsample="cml"`` (Zhou et al., "Enhancing the performance of transformer-based spiking
neural networks by SNN-optimized downsampling with precise gradient backpropagation")
moves each max pool before its neuron (Conv-BN-MaxPool-SN): the pool then selects
membrane inputs, not spikes, which gives the pooled positions a precise gradient.
"""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor, nn

from spikestack.layers import TimeDistributed
from spikestack.models._attention import TransformerBlock
from spikestack.models._blocks import NeuronSpec, conv_bn, max_pool, neuron_spec
from spikestack.models.base import SpikingModel
from spikestack.models.registry import register_model
from spikestack.validation import check_int

DOWNSAMPLE_MODES = ("maxpool", "cml")


def num_pools(patch_size: int, *, max_pools: int = 4) -> int:
    """Number of stride-2 pools for ``patch_size`` (a power of two)."""
    if not isinstance(patch_size, int) or patch_size < 1 or patch_size & (patch_size - 1):
        raise ValueError(f"patch_size must be a power of two; got {patch_size!r}")
    pools = int(math.log2(patch_size))
    if pools > max_pools:
        raise ValueError(f"patch_size must be at most {2**max_pools}; got {patch_size}")
    return pools


def check_downsample(downsample: str) -> None:
    if downsample not in DOWNSAMPLE_MODES:
        raise ValueError(f"downsample must be one of {DOWNSAMPLE_MODES}; got {downsample!r}")


class SpikingPatchSplitting(nn.Module):
    """SPS: ``[T, B, C_in, H, W] -> [T, B, D, H / patch, W / patch]`` spikes (+ RPE)."""

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
        channels = [in_channels, embed_dim // 8, embed_dim // 4, embed_dim // 2, embed_dim]
        layers: list[nn.Module] = []
        for i in range(4):
            layers.append(conv_bn(channels[i], channels[i + 1]))
            pooled = i >= 4 - pools
            if pooled and downsample == "cml":
                layers += [max_pool(), spec(detach_reset=True)]
            else:
                layers.append(spec(detach_reset=True))
                if pooled:
                    layers.append(max_pool())
        self.proj = nn.Sequential(*layers)
        self.rpe = nn.Sequential(conv_bn(embed_dim, embed_dim), spec(detach_reset=True))

    def forward(self, x: Tensor) -> Tensor:
        x = self.proj(x)
        return x + self.rpe(x)


class SpikingTransformer(SpikingModel):
    """Tokenizer, transformer blocks, spatial mean, linear head (per step)."""

    def __init__(
        self,
        tokenizer: nn.Module,
        *,
        embed_dim: int,
        depth: int,
        num_heads: int,
        mlp_ratio: float,
        num_classes: int,
        spec: NeuronSpec,
        patch_size: int,
        T: int,
        input_layout: str,
        mean_output: bool,
        pre_activation: bool = False,
    ) -> None:
        super().__init__(T=T, input_layout=input_layout, mean_output=mean_output)
        check_int("num_classes", num_classes)
        check_int("depth", depth)
        self.patch_size = patch_size
        self.tokenizer = tokenizer
        self.blocks = nn.Sequential(
            *(
                TransformerBlock(
                    embed_dim, num_heads, spec, mlp_ratio=mlp_ratio, pre_activation=pre_activation
                )
                for _ in range(depth)
            )
        )
        self.head = TimeDistributed(nn.Linear(embed_dim, num_classes))

    def forward_sequence(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        if h % self.patch_size or w % self.patch_size:
            raise ValueError(
                f"image height and width must be divisible by patch_size={self.patch_size}; "
                f"got {h}x{w}"
            )
        x = self.blocks(self.tokenizer(x))
        return self.head(x.flatten(3).mean(3))


def check_image(img_size: int, patch_size: int, in_channels: int) -> None:
    check_int("img_size", img_size)
    check_int("in_channels", in_channels)
    num_pools(patch_size)
    if img_size % patch_size:
        raise ValueError(f"img_size ({img_size}) must be divisible by patch_size ({patch_size})")


def spikformer(
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
    """Spikformer-``depth``-``embed_dim`` (Zhou et al., ICLR 2023)."""
    check_image(img_size, patch_size, in_channels)
    spec = neuron_spec(neuron, neuron_kwargs, surrogate, backend, T=T)
    tokenizer = SpikingPatchSplitting(
        in_channels, embed_dim, patch_size, spec, downsample=downsample
    )
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
    )


# The defaults of the papers' three settings: ImageNet (224x224 static images, patch 16),
# CIFAR (32x32 static images, patch 4) and DVS (128x128 event frames [T, B, 2, H, W], T=16).
IMAGENET: dict[str, Any] = {"num_classes": 1000, "img_size": 224, "patch_size": 16, "T": 4}
CIFAR: dict[str, Any] = {"num_classes": 10, "img_size": 32, "patch_size": 4, "T": 4}
DVS: dict[str, Any] = {
    "num_classes": 10,
    "img_size": 128,
    "patch_size": 16,
    "in_channels": 2,
    "T": 16,
    "input_layout": "sequence",
}


@register_model("spikformer_8_384", family=spikformer)
def spikformer_8_384(**kwargs: Any) -> SpikingTransformer:
    """Spikformer-8-384 (Zhou et al., ICLR 2023): 8 blocks of width 384, ImageNet, 16.81 M."""
    return spikformer(**{**IMAGENET, "depth": 8, "embed_dim": 384, "num_heads": 12, **kwargs})


@register_model("spikformer_8_512", family=spikformer)
def spikformer_8_512(**kwargs: Any) -> SpikingTransformer:
    """Spikformer-8-512 (Zhou et al., ICLR 2023): 8 blocks of width 512, ImageNet, 29.68 M."""
    return spikformer(**{**IMAGENET, "depth": 8, "embed_dim": 512, "num_heads": 8, **kwargs})


@register_model("spikformer_8_768", family=spikformer)
def spikformer_8_768(**kwargs: Any) -> SpikingTransformer:
    """Spikformer-8-768 (Zhou et al., ICLR 2023): 8 blocks of width 768, ImageNet, 66.34 M."""
    return spikformer(**{**IMAGENET, "depth": 8, "embed_dim": 768, "num_heads": 12, **kwargs})


@register_model("spikformer_4_384", family=spikformer)
def spikformer_4_384(**kwargs: Any) -> SpikingTransformer:
    """Spikformer-4-384 (Zhou et al., ICLR 2023): 4 blocks of width 384, CIFAR-10, 9.32 M."""
    return spikformer(**{**CIFAR, "depth": 4, "embed_dim": 384, "num_heads": 12, **kwargs})


@register_model("spikformer_2_256", family=spikformer, input_layout="sequence")
def spikformer_2_256(**kwargs: Any) -> SpikingTransformer:
    """Spikformer-2-256 (Zhou et al., ICLR 2023): 2 blocks of width 256, DVS event frames, 2.57 M."""
    return spikformer(**{**DVS, "depth": 2, "embed_dim": 256, "num_heads": 16, **kwargs})
