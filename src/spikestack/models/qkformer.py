"""QKFormer (Zhou et al., "QKFormer: Hierarchical Spiking Transformer using Q-K Attention",
NeurIPS 2024).

A three-stage hierarchical spiking transformer of widths D/4, D/2, D:
  stage 1: patch embedding init + Q-K token-attention (QKTA) blocks,
  stage 2: patch embedding stage (/2) + QKTA blocks,
  stage 3: patch embedding stage (/2) + spiking self-attention (SSA) blocks,
then a spatial mean and a linear head. Q-K attention is linear in the number of tokens.
Patch embeddings with deformed shortcut (PEDS): a Conv-BN-(MaxPool)-SN path plus a
1x1 conv shortcut, Conv1x1(stride)-BN-SN, added to it. ``qkformer_L_D``: L blocks in all
(ImageNet: 1 + 2 + L-3, patch 16; CIFAR: 1 + 1 + L-2, patch 4), width D.
The paper's CIFAR figure, 6.74 M, is that of the 100-class head.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from spikestack.layers import TimeDistributed
from spikestack.models._attention import TransformerBlock
from spikestack.models._blocks import NeuronSpec, conv_bn, max_pool, neuron_spec
from spikestack.models.base import SpikingModel
from spikestack.models.registry import register_model
from spikestack.validation import check_int


class PatchEmbedInit(nn.Module):
    """First PEDS: in -> D/2 -> D (-> D), downsampling by 4 (``pooled``) or not."""

    def __init__(self, in_channels: int, dim: int, spec: NeuronSpec, *, pooled: bool) -> None:
        super().__init__()

        def pool() -> list[nn.Module]:
            return [max_pool()] if pooled else []

        self.conv0 = nn.Sequential(conv_bn(in_channels, dim // 2), *pool(), spec(detach_reset=True))
        main: list[nn.Module] = [conv_bn(dim // 2, dim), *pool(), spec(detach_reset=True)]
        if pooled:  # ImageNet stem: one more 3x3 conv at the final resolution
            main += [conv_bn(dim, dim), spec(detach_reset=True)]
        self.main = nn.Sequential(*main)
        self.shortcut = nn.Sequential(
            conv_bn(dim // 2, dim, 1, 2 if pooled else 1, 0), spec(detach_reset=True)
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv0(x)
        return self.main(x) + self.shortcut(x)


class PatchEmbedStage(nn.Module):
    """PEDS between stages: D/2 -> D with stride-2 downsampling and a 1x1/2 shortcut."""

    def __init__(self, dim: int, spec: NeuronSpec) -> None:
        super().__init__()
        self.main = nn.Sequential(
            conv_bn(dim // 2, dim),
            max_pool(),
            spec(detach_reset=True),
            conv_bn(dim, dim),
            spec(detach_reset=True),
        )
        self.shortcut = nn.Sequential(conv_bn(dim // 2, dim, 1, 2, 0), spec(detach_reset=True))

    def forward(self, x: Tensor) -> Tensor:
        return self.main(x) + self.shortcut(x)


class QKFormer(SpikingModel):
    def __init__(
        self,
        *,
        in_channels: int,
        embed_dim: int,
        stage_depths: tuple[int, int, int],
        num_heads: int,
        mlp_ratio: float,
        num_classes: int,
        patch_size: int,
        qk_attention: str,
        spec: NeuronSpec,
        T: int,
        input_layout: str,
        mean_output: bool,
    ) -> None:
        super().__init__(T=T, input_layout=input_layout, mean_output=mean_output)
        check_int("num_classes", num_classes)
        if patch_size not in (4, 16):
            raise ValueError(
                f"patch_size must be 4 (CIFAR) or 16 (ImageNet, DVS); got {patch_size!r}"
            )
        if embed_dim % 8:
            raise ValueError(f"embed_dim must be divisible by 8; got {embed_dim}")
        self.patch_size = patch_size
        dims = (embed_dim // 4, embed_dim // 2, embed_dim)
        attentions = (qk_attention, qk_attention, "ssa")
        stages: list[nn.Module] = []
        for i, (dim, depth, attention) in enumerate(
            zip(dims, stage_depths, attentions, strict=True)
        ):
            embed = (
                PatchEmbedInit(in_channels, dim, spec, pooled=patch_size == 16)
                if i == 0
                else PatchEmbedStage(dim, spec)
            )
            blocks = [
                TransformerBlock(dim, num_heads, spec, mlp_ratio=mlp_ratio, attention=attention)
                for _ in range(depth)
            ]
            stages.append(nn.Sequential(embed, *blocks))
        self.stages = nn.Sequential(*stages)
        self.head = TimeDistributed(nn.Linear(embed_dim, num_classes))

    def forward_sequence(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        if h % self.patch_size or w % self.patch_size:
            raise ValueError(
                f"image height and width must be divisible by patch_size={self.patch_size}; "
                f"got {h}x{w}"
            )
        return self.head(self.stages(x).flatten(3).mean(3))


def qkformer(
    *,
    num_classes: int = 1000,
    img_size: int = 224,
    patch_size: int = 16,
    in_channels: int = 3,
    embed_dim: int = 768,
    depths: tuple[int, int, int] = (1, 2, 7),
    num_heads: int = 12,
    mlp_ratio: float = 4.0,
    qk_attention: str = "qk_token",
    T: int = 4,
    input_layout: str = "static",
    neuron: str = "lif",
    neuron_kwargs: dict[str, Any] | None = None,
    surrogate: Any = None,
    backend: str = "auto",
    mean_output: bool = True,
) -> QKFormer:
    """QKFormer (Zhou et al., NeurIPS 2024); ``depths`` = blocks per stage,
    ``qk_attention`` = "qk_token" (QKTA, the paper's default) or "qk_channel" (QKCA)."""
    check_int("img_size", img_size)
    check_int("in_channels", in_channels)
    if img_size % patch_size:
        raise ValueError(f"img_size ({img_size}) must be divisible by patch_size ({patch_size})")
    depths = tuple(depths)  # type: ignore[assignment]
    if len(depths) != 3 or any(not isinstance(d, int) or d < 0 for d in depths):
        raise ValueError(
            f"depths must be three non-negative ints (blocks per stage); got {depths!r}"
        )
    if qk_attention not in ("qk_token", "qk_channel"):
        raise ValueError(f"qk_attention must be 'qk_token' or 'qk_channel'; got {qk_attention!r}")
    return QKFormer(
        in_channels=in_channels,
        embed_dim=embed_dim,
        stage_depths=depths,
        num_heads=num_heads,
        mlp_ratio=mlp_ratio,
        num_classes=num_classes,
        patch_size=patch_size,
        qk_attention=qk_attention,
        spec=neuron_spec(neuron, neuron_kwargs, surrogate, backend, T=T),
        T=T,
        input_layout=input_layout,
        mean_output=mean_output,
    )


# ImageNet: 224x224 static images, patch 16, blocks per stage 1 + 2 + 7 (10 in all).
_IMAGENET: dict[str, Any] = {"num_classes": 1000, "img_size": 224, "patch_size": 16, "T": 4}


@register_model("qkformer_10_384", family=qkformer)
def qkformer_10_384(**kwargs: Any) -> QKFormer:
    """QKFormer-10-384 (Zhou et al., NeurIPS 2024): widths 96/192/384, ImageNet, 16.47 M."""
    return qkformer(
        **{**_IMAGENET, "embed_dim": 384, "num_heads": 6, "depths": (1, 2, 7), **kwargs}
    )


@register_model("qkformer_10_512", family=qkformer)
def qkformer_10_512(**kwargs: Any) -> QKFormer:
    """QKFormer-10-512 (Zhou et al., NeurIPS 2024): widths 128/256/512, ImageNet, 29.08 M."""
    return qkformer(
        **{**_IMAGENET, "embed_dim": 512, "num_heads": 8, "depths": (1, 2, 7), **kwargs}
    )


@register_model("qkformer_10_768", family=qkformer)
def qkformer_10_768(**kwargs: Any) -> QKFormer:
    """QKFormer-10-768 (Zhou et al., NeurIPS 2024): widths 192/384/768, ImageNet, 64.96 M."""
    return qkformer(
        **{**_IMAGENET, "embed_dim": 768, "num_heads": 12, "depths": (1, 2, 7), **kwargs}
    )


@register_model("qkformer_4_384", family=qkformer)
def qkformer_4_384(**kwargs: Any) -> QKFormer:
    """QKFormer-4-384 (Zhou et al., NeurIPS 2024): CIFAR 32x32 static images, patch 4, 1 + 1 + 2
    blocks; 10 classes (the paper's 6.74 M is the 100-class head)."""
    cifar = {"num_classes": 10, "img_size": 32, "patch_size": 4, "T": 4}
    return qkformer(**{**cifar, "embed_dim": 384, "num_heads": 8, "depths": (1, 1, 2), **kwargs})
