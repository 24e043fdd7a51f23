"""Spiking attention and MLP blocks of the spiking transformers (Spikformer, Spikingformer,
QKFormer, SVFormer). Tensors are ``[T, B, C, H, W]``; linear maps are 1x1 convs + BN.

Spiking self-attention (SSA, Zhou et al., "Spikformer", ICLR 2023):
    Q, K, V = SN(BN(X W_q)), SN(BN(X W_k)), SN(BN(X W_v))     (binary spikes)
    SSA(X) = SN(BN(Linear(SN_0.5(Q K^T V * s))))              no softmax, s = 0.125
With ``temporal=True`` the tokens of all T steps attend to each other (video models).
Q-K token attention (QKTA, Zhou et al., "QKFormer", NeurIPS 2024):
    A_t = SN(sum_c Q)  (one spike per token and head),  QKTA(X) = SN(BN(Linear(A_t * K)))
Q-K channel attention (QKCA) sums over tokens instead: A_c = SN(sum_n Q).
Both QK forms are linear in the number of tokens.

``pre_activation=True`` gives Spikingformer's spike-driven form (Zhou et al., 2023): each
branch starts with a neuron and ends with BN, so the residual stream carries membrane
inputs and every conv/linear receives spikes (no non-spike multiplications).
"""

from __future__ import annotations

from torch import Tensor, nn

from spikestack.models._blocks import NeuronSpec, conv_bn


def _split_heads(x: Tensor, num_heads: int) -> Tensor:
    """``[T, B, C, H, W] -> [T, B, heads, C // heads, N]``."""
    t, b, c = x.shape[:3]
    return x.reshape(t, b, num_heads, c // num_heads, -1)


def _check_heads(dim: int, num_heads: int) -> None:
    if dim % num_heads:
        raise ValueError(f"embed_dim ({dim}) must be divisible by num_heads ({num_heads})")


class SpikingMLP(nn.Module):
    """Two 1x1 conv + BN layers with spiking neurons (a transformer's feed-forward part)."""

    def __init__(
        self, dim: int, hidden: int, spec: NeuronSpec, *, pre_activation: bool = False
    ) -> None:
        super().__init__()
        self.pre_activation = pre_activation
        self.fc1 = conv_bn(dim, hidden, 1, bias=True)
        self.fc2 = conv_bn(hidden, dim, 1, bias=True)
        self.sn1 = spec(detach_reset=True)
        self.sn2 = spec(detach_reset=True)

    def forward(self, x: Tensor) -> Tensor:
        if self.pre_activation:
            return self.fc2(self.sn2(self.fc1(self.sn1(x))))
        return self.sn2(self.fc2(self.sn1(self.fc1(x))))


class SpikingSelfAttention(nn.Module):
    """SSA: softmax-free attention on spike Q, K, V (computed as Q (K^T V), linear in N)."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        spec: NeuronSpec,
        *,
        scale: float = 0.125,
        pre_activation: bool = False,
        temporal: bool = False,
    ) -> None:
        super().__init__()
        _check_heads(dim, num_heads)
        self.num_heads = num_heads
        self.scale = scale
        self.temporal = temporal
        self.pre_activation = pre_activation
        self.in_sn = spec(detach_reset=True) if pre_activation else nn.Identity()
        self.q, self.k, self.v = (conv_bn(dim, dim, 1) for _ in range(3))
        self.q_sn, self.k_sn, self.v_sn = (spec(detach_reset=True) for _ in range(3))
        self.attn_sn = spec(detach_reset=True, v_threshold=0.5, force=True)
        self.proj = conv_bn(dim, dim, 1, bias=True)
        self.proj_sn = nn.Identity() if pre_activation else spec(detach_reset=True)

    def forward(self, x: Tensor) -> Tensor:
        x = self.in_sn(x)
        h = self.num_heads
        q = _split_heads(self.q_sn(self.q(x)), h).transpose(-1, -2)  # [T, B, h, N, d]
        k = _split_heads(self.k_sn(self.k(x)), h).transpose(-1, -2)
        v = _split_heads(self.v_sn(self.v(x)), h).transpose(-1, -2)
        if self.temporal:  # one attention over all T * N spatio-temporal tokens
            kv = (k.transpose(-1, -2) @ v).sum(0, keepdim=True)  # sum over the key steps
        else:
            kv = k.transpose(-1, -2) @ v
        out = q @ kv * self.scale  # [T, B, h, N, d]
        out = self.attn_sn(out.transpose(-1, -2).reshape(x.shape))
        return self.proj_sn(self.proj(out))


class QKAttention(nn.Module):
    """QKFormer's Q-K attention: ``mode="token"`` (QKTA) or ``"channel"`` (QKCA)."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        spec: NeuronSpec,
        *,
        mode: str = "token",
        pre_activation: bool = False,
    ) -> None:
        super().__init__()
        _check_heads(dim, num_heads)
        if mode not in ("token", "channel"):
            raise ValueError(f"mode must be 'token' or 'channel'; got {mode!r}")
        self.num_heads = num_heads
        self.mode = mode
        self.in_sn = spec(detach_reset=True) if pre_activation else nn.Identity()
        self.q, self.k = conv_bn(dim, dim, 1), conv_bn(dim, dim, 1)
        self.q_sn, self.k_sn = spec(detach_reset=True), spec(detach_reset=True)
        self.attn_sn = spec(detach_reset=True, v_threshold=0.5, force=True)
        self.proj = conv_bn(dim, dim, 1, bias=True)
        self.proj_sn = nn.Identity() if pre_activation else spec(detach_reset=True)

    def forward(self, x: Tensor) -> Tensor:
        x = self.in_sn(x)
        q = _split_heads(self.q_sn(self.q(x)), self.num_heads)  # [T, B, h, d, N]
        k = _split_heads(self.k_sn(self.k(x)), self.num_heads)
        dim = 3 if self.mode == "token" else 4
        attn = self.attn_sn(q.sum(dim, keepdim=True))
        out = (attn * k).reshape(x.shape)
        return self.proj_sn(self.proj(out))


class TransformerBlock(nn.Module):
    """``x + Attn(x)`` then ``x + MLP(x)``; ``attention`` is "ssa", "qk_token" or "qk_channel"."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        spec: NeuronSpec,
        *,
        mlp_ratio: float = 4.0,
        attention: str = "ssa",
        pre_activation: bool = False,
    ) -> None:
        super().__init__()
        if attention in ("ssa", "ssa_temporal"):
            self.attn: nn.Module = SpikingSelfAttention(
                dim, num_heads, spec, pre_activation=pre_activation, temporal=attention != "ssa"
            )
        elif attention in ("qk_token", "qk_channel"):
            self.attn = QKAttention(
                dim, num_heads, spec, mode=attention[3:], pre_activation=pre_activation
            )
        else:
            raise ValueError(
                f"attention must be 'ssa', 'ssa_temporal', 'qk_token' or 'qk_channel'; got {attention!r}"
            )
        self.mlp = SpikingMLP(dim, int(dim * mlp_ratio), spec, pre_activation=pre_activation)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(x)
        return x + self.mlp(x)
