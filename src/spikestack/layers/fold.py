"""Folding inference-mode BatchNorm into the convolution or linear layer before it."""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

from spikestack.layers.time_distributed import TimeDistributed

__all__ = ["fold_batchnorm", "fold_batchnorms"]

_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_FOLDS_INTO = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def fold_batchnorm(weight: Tensor, bias: Tensor | None, bn: nn.Module) -> tuple[Tensor, Tensor]:
    """(w', b') of a conv or linear layer followed by ``bn`` with its running statistics:
    w' = w γ / sqrt(var + eps) per output channel, b' = (b - mean) γ / sqrt(var + eps) + β
    (γ = 1, β = 0 for a BN without affine parameters)."""
    scale = 1.0 / torch.sqrt(bn.running_var + bn.eps)
    if bn.weight is not None:
        scale = bn.weight.detach() * scale
    shape = (-1,) + (1,) * (weight.dim() - 1)
    b = torch.zeros_like(bn.running_mean) if bias is None else bias.detach()
    shifted = (b - bn.running_mean) * scale
    if bn.bias is not None:
        shifted = shifted + bn.bias.detach()
    return weight.detach() * scale.reshape(shape), shifted


def _edge(parent: nn.Module, key: str, last: bool) -> tuple[nn.Module, str]:
    """The container and key of the last (or first) layer reached from ``parent[key]``
    through ``TimeDistributed`` and ``nn.Sequential`` wrappers."""
    module = parent._modules[key]
    while True:
        if isinstance(module, TimeDistributed):
            parent, key = module, "module"
        elif isinstance(module, nn.Sequential) and len(module):
            parent, key = module, list(module._modules)[-1 if last else 0]
        else:
            return parent, key
        module = parent._modules[key]


def _foldable(layer: nn.Module, bn: nn.Module) -> bool:
    return (
        isinstance(layer, _FOLDS_INTO)
        and isinstance(bn, _BN)
        and not bn.training
        and bn.running_mean is not None
        and bn.running_var is not None
        and layer.weight.shape[0] == bn.num_features
    )


def fold_batchnorms(model: nn.Module) -> int:
    """Fold, in place, every eval-mode BatchNorm that directly follows a conv or linear
    layer in an ``nn.Sequential`` (through ``TimeDistributed`` and nested Sequential
    wrappers: ``TD(Seq(pool, conv))`` then ``TD(BN)`` folds): the layer takes the folded
    weight and bias, the BN becomes ``nn.Identity``. The
    model's outputs are unchanged up to float rounding. Returns how many were folded."""
    folded = 0
    for seq in list(model.modules()):
        if not isinstance(seq, nn.Sequential):
            continue
        for first, second in itertools.pairwise(list(seq._modules)):
            layer_parent, layer_key = _edge(seq, first, last=True)
            bn_parent, bn_key = _edge(seq, second, last=False)
            layer, bn = layer_parent._modules[layer_key], bn_parent._modules[bn_key]
            if layer is None or bn is None or not _foldable(layer, bn):
                continue
            weight, bias = fold_batchnorm(layer.weight, layer.bias, bn)
            with torch.no_grad():
                layer.weight.copy_(weight)
                if layer.bias is None:
                    layer.bias = nn.Parameter(bias.to(layer.weight.dtype))
                else:
                    layer.bias.copy_(bias)
            bn_parent._modules[bn_key] = nn.Identity()
            folded += 1
    return folded
