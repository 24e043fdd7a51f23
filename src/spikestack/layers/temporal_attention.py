"""TemporalAttention: the TA module of TA-SNN (Yao et al., ICCV 2021); math in
:mod:`spikestack.functional.temporal_attention`."""

from __future__ import annotations

import math

from torch import Tensor, nn

from spikestack.functional import temporal_attention as F

__all__ = ["TemporalAttention"]


class TemporalAttention(nn.Module):
    """Score each of the T frames of ``x [T, B, ...]`` and scale it: Y[t] = d[t] X[t].

    d = sigmoid(W2 relu(W1 s)), s = the per-step squeeze of each frame over space,
    W1 [T/r, T] and W2 [T, T/r] with reduction ratio ``reduction`` (r).
    With ``discard_threshold`` (d_th) set, an eval-mode call also discards the frames
    whose score is below d_th (input attention pruning): they become 0, and
    :attr:`last_discard_fraction` reports the fraction of frames discarded.
    Built for a fixed T; stateless, with no streaming form (scores need all T frames).
    """

    def __init__(
        self,
        T: int,
        *,
        reduction: int = 4,
        squeeze: str = "avg",
        discard_threshold: float | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(T, int) or T < 1:
            raise ValueError(f"T must be an int >= 1; got {T!r}")
        if not isinstance(reduction, int) or reduction < 1:
            raise ValueError(f"reduction (the ratio r) must be an int >= 1; got {reduction!r}")
        if squeeze not in F.SQUEEZES:
            raise ValueError(f"squeeze must be one of {', '.join(F.SQUEEZES)}; got {squeeze!r}")
        if discard_threshold is not None and not 0.0 <= discard_threshold <= 1.0:
            raise ValueError(
                f"discard_threshold must lie in [0, 1] or be None; got {discard_threshold!r}"
            )
        self.T = T
        self.reduction = reduction
        self.squeeze = squeeze
        self.discard_threshold = discard_threshold
        hidden = max(1, math.ceil(T / reduction))
        self.fc1 = nn.Linear(T, hidden)
        self.fc2 = nn.Linear(hidden, T)
        self.last_discard_fraction: float | None = None

    def scores(self, x: Tensor) -> Tensor:
        """The attention score d ``[T, B]`` of every frame."""
        return F.temporal_attention_scores(
            x, self.fc1.weight, self.fc1.bias, self.fc2.weight, self.fc2.bias, squeeze=self.squeeze
        )

    def forward(self, x: Tensor) -> Tensor:
        threshold = None if self.training else self.discard_threshold
        y, kept = F.apply_temporal_attention(x, self.scores(x), discard_threshold=threshold)
        self.last_discard_fraction = None if threshold is None else 1.0 - float(kept.float().mean())
        return y

    def extra_repr(self) -> str:
        return (
            f"T={self.T}, reduction={self.reduction}, squeeze={self.squeeze!r}, "
            f"discard_threshold={self.discard_threshold}"
        )
