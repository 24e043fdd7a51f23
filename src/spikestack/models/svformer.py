"""SVFormer-style spiking video transformer (after Yu et al., "SVFormer: A Direct Training
Spiking Transformer for Efficient Video Action Recognition", 2024).

The frames of a clip are the time steps of the SNN (``[T, B, C, H, W]``, T = frames), so
a clip is processed once and the neurons carry the temporal dynamics. Four stages:
  stem:          Conv3x3/2-BN, SN, Conv3x3/2-BN                   (/4)
  local stages:  x + SpikingLocalConv(x), x + MLP(x)               (spiking convolutions)
  global stages: x + SSA_t(x), x + MLP(x)                          (spiking self-attention
                 over the tokens of all frames: global in space and time, linear in T*N)
  between stages SN, Conv3x3/2-BN; a neuron, a spatial mean and a linear head at the end.
All branches are pre-activation (SN -> Conv -> BN, spike-driven as in Spikingformer).
SpikingLocalConv: SN - Conv1x1-BN - SN - depthwise Conv3x3-BN - SN - Conv1x1-BN.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from spikestack.layers import TimeDistributed
from spikestack.models._attention import SpikingMLP, TransformerBlock
from spikestack.models._blocks import conv_bn, neuron_spec
from spikestack.models.base import SpikingModel
from spikestack.models.registry import register_model
from spikestack.validation import check_int


class SpikingLocalConv(nn.Module):
    """Local token mixing with spiking pointwise / depthwise convolutions."""

    def __init__(self, dim: int, spec: Any) -> None:
        super().__init__()
        depthwise = nn.Sequential(
            nn.Conv2d(dim, dim, 3, padding=1, groups=dim, bias=False), nn.BatchNorm2d(dim)
        )
        self.body = nn.Sequential(
            spec(detach_reset=True),
            conv_bn(dim, dim, 1),
            spec(detach_reset=True),
            TimeDistributed(depthwise),
            spec(detach_reset=True),
            conv_bn(dim, dim, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class LocalBlock(nn.Module):
    def __init__(self, dim: int, spec: Any, *, mlp_ratio: float) -> None:
        super().__init__()
        self.local = SpikingLocalConv(dim, spec)
        self.mlp = SpikingMLP(dim, int(dim * mlp_ratio), spec, pre_activation=True)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.local(x)
        return x + self.mlp(x)


class SVFormer(SpikingModel):
    def __init__(
        self,
        *,
        in_channels: int,
        num_classes: int,
        embed_dims: tuple[int, ...],
        depths: tuple[int, ...],
        num_local_stages: int,
        num_heads: int,
        mlp_ratio: float,
        spec: Any,
        T: int,
        input_layout: str,
        mean_output: bool,
    ) -> None:
        super().__init__(T=T, input_layout=input_layout, mean_output=mean_output)
        check_int("in_channels", in_channels)
        check_int("num_classes", num_classes)
        if len(embed_dims) != len(depths) or not embed_dims:
            raise ValueError(
                f"embed_dims and depths must be non-empty and of equal length; got {embed_dims!r}, {depths!r}"
            )
        if not 0 <= num_local_stages <= len(depths):
            raise ValueError(
                f"num_local_stages must be in [0, {len(depths)}]; got {num_local_stages!r}"
            )
        d0 = embed_dims[0]
        layers: list[nn.Module] = [
            conv_bn(in_channels, d0, 3, 2),
            spec(detach_reset=True),
            conv_bn(d0, d0, 3, 2),
        ]
        cin = d0
        for i, (dim, depth) in enumerate(zip(embed_dims, depths, strict=True)):
            check_int("embed_dims", dim)
            if i > 0:
                layers += [spec(detach_reset=True), conv_bn(cin, dim, 3, 2)]
            for _ in range(depth):
                if i < num_local_stages:
                    layers.append(LocalBlock(dim, spec, mlp_ratio=mlp_ratio))
                else:
                    layers.append(
                        TransformerBlock(
                            dim,
                            num_heads,
                            spec,
                            mlp_ratio=mlp_ratio,
                            attention="ssa_temporal",
                            pre_activation=True,
                        )
                    )
            cin = dim
        self.features = nn.Sequential(*layers, spec(detach_reset=True))
        self.head = TimeDistributed(nn.Linear(cin, num_classes))
        self.downsampling = 2 ** (len(depths) + 1)

    def forward_sequence(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        if h % self.downsampling or w % self.downsampling:
            raise ValueError(
                f"frame height and width must be divisible by {self.downsampling}; got {h}x{w}"
            )
        return self.head(self.features(x).flatten(3).mean(3))


@register_model("svformer", input_layout="sequence")
def svformer(
    *,
    num_classes: int = 101,
    in_channels: int = 3,
    embed_dims: tuple[int, ...] = (64, 128, 256, 512),
    depths: tuple[int, ...] = (2, 2, 4, 2),
    num_local_stages: int = 2,
    num_heads: int = 8,
    mlp_ratio: float = 4.0,
    T: int = 16,
    input_layout: str = "sequence",
    neuron: str = "lif",
    neuron_kwargs: dict[str, Any] | None = None,
    surrogate: Any = None,
    backend: str = "auto",
    mean_output: bool = True,
) -> SVFormer:
    """SVFormer-style spiking video transformer (after Yu et al., 2024): clips
    ``[T = frames, B, 3, H, W]``, UCF101 defaults (101 classes, 16 frames)."""
    return SVFormer(
        in_channels=in_channels,
        num_classes=num_classes,
        embed_dims=tuple(embed_dims),
        depths=tuple(depths),
        num_local_stages=num_local_stages,
        num_heads=num_heads,
        mlp_ratio=mlp_ratio,
        spec=neuron_spec(neuron, neuron_kwargs, surrogate, backend, T=T),
        T=T,
        input_layout=input_layout,
        mean_output=mean_output,
    )


@register_model("svformer_tiny", family=svformer, input_layout="sequence")
def svformer_tiny(**kwargs: Any) -> SVFormer:
    """A narrow SVFormer-style video transformer for quick experiments: widths 32-256,
    depths (1, 1, 2, 1), 4 heads; clips ``[T = frames, B, 3, H, W]``."""
    narrow = {"embed_dims": (32, 64, 128, 256), "depths": (1, 1, 2, 1), "num_heads": 4}
    return svformer(**{**narrow, **kwargs})
