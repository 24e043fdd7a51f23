"""Output decoders turning ``[T, B, ...]`` network outputs into ``[B, ...]`` predictions."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from spikestack.validation import check_int, check_sequence

__all__ = ["LastStep", "MaxOverTime", "TemporalWeightingDecoder"]


class TemporalWeightingDecoder(nn.Module):
    """Temporal weighting decoding (Che, Fang et al., arXiv:2410.23619): Y = sum_t w[t] O[t].

    ``O [T, B, ...]`` are the output-layer values (spikes or membranes) and ``w [T]``
    learnable weights, trained with the network by BPTT. For a TTFS output layer an
    earlier spike should count more, so the default ``init="linear"`` starts from
    w[t] = (T - t) / T (decreasing); ``init="uniform"`` starts from w[t] = 1/T
    (the usual mean over time). The exact initial weights of the paper are not
    confirmed here; both choices train.
    """

    def __init__(self, T: int, *, init: str = "linear") -> None:
        super().__init__()
        check_int("T", T)
        if init == "linear":
            w = (T - torch.arange(T, dtype=torch.float32)) / T
        elif init == "uniform":
            w = torch.full((T,), 1.0 / T)
        else:
            raise ValueError(f"init must be 'linear' or 'uniform'; got {init!r}")
        self.T = T
        self.weight = nn.Parameter(w)

    def forward(self, x: Tensor) -> Tensor:
        check_sequence(x)
        if x.shape[0] != self.T:
            raise ValueError(f"decoder was built for T={self.T} steps; got x with T={x.shape[0]}")
        w = self.weight.to(x.dtype).reshape(-1, *([1] * (x.dim() - 1)))
        return (w * x).sum(0)

    def extra_repr(self) -> str:
        return f"T={self.T}"


class MaxOverTime(nn.Module):
    """``[T, B, ...] -> [B, ...]``: the maximum over time (for a membrane readout such as
    :class:`~spikestack.neurons.LI`: the class whose membrane rose highest)."""

    def forward(self, x: Tensor) -> Tensor:
        check_sequence(x)
        return x.amax(0)


class LastStep(nn.Module):
    """``[T, B, ...] -> [B, ...]``: the last step (a membrane readout's final value)."""

    def forward(self, x: Tensor) -> Tensor:
        check_sequence(x)
        return x[-1]
