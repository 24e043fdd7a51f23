"""Sequence-aware helpers: dropout with one mask per sequence, and the voting pool."""

from __future__ import annotations

from torch import Tensor, nn

from spikestack.validation import check_int, check_sequence

__all__ = ["SequenceDropout", "VotingPool"]


class SequenceDropout(nn.Module):
    """Dropout with one mask per sequence, shared over the T steps of ``[T, B, ...]``
    (SpikingJelly's ``layer.Dropout``): a dropped neuron stays silent for the whole
    sequence instead of flickering from step to step. Identity in eval mode."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not (isinstance(p, (int, float)) and 0.0 <= p < 1.0):
            raise ValueError(f"dropout probability p must be in [0, 1); got {p!r}")
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        check_sequence(x)
        if not self.training or self.p == 0.0:
            return x
        mask = x.new_empty(x.shape[1:]).bernoulli_(1.0 - self.p) / (1.0 - self.p)
        return x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}"


class VotingPool(nn.Module):
    """``[..., classes * voting] -> [..., classes]``: the mean of each group of ``voting``
    consecutive outputs (SpikingJelly's ``VotingLayer``), so a class's score is the firing
    rate of its group of output neurons."""

    def __init__(self, voting: int) -> None:
        super().__init__()
        self.voting = check_int("voting", voting)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() < 1 or x.shape[-1] % self.voting:
            raise ValueError(
                f"VotingPool({self.voting}) needs a last dimension divisible by {self.voting}; "
                f"got shape {tuple(x.shape)}"
            )
        return x.unflatten(-1, (-1, self.voting)).mean(-1)

    def extra_repr(self) -> str:
        return f"voting={self.voting}"
