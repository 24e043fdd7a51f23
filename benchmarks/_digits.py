"""scikit-learn's digits for the benchmarks: one seeded split and a plain Adam fit."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def split(*, images: bool) -> tuple[torch.Tensor, ...]:
    """1,400 training and 397 test digits in [0, 1]: ``[N, 1, 8, 8]`` or ``[N, 64]``."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.data / 16.0, dtype=torch.float32)
    x = x.reshape(-1, 1, 8, 8) if images else x
    y = torch.tensor(data.target)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    return x[order[:1400]], y[order[:1400]], x[order[1400:]], y[order[1400:]]


def fit_adam(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, epochs: int,
             batch_size: int = 64, lr: float = 1e-2) -> nn.Module:  # fmt: skip
    """Cross-entropy with Adam, a seeded order per epoch; returns ``model`` in eval mode."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(epoch))
        for i in range(0, len(x), batch_size):
            idx = order[i : i + batch_size]
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    return model.eval()
