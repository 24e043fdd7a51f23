"""Temporal-wise attention (TA) over ``[T, B, ...]`` sequences.

Yao et al., "Temporal-wise Attention Spiking Neural Networks for Event Streams
Classification", ICCV 2021 (arXiv:2107.11711). A squeeze-and-excitation block whose
"channels" are the time steps:

    squeeze   s[b, t] = mean over (C, H, W) of X[t, b]        ("avg"; "max" takes the max;
                                                                "avg+max" adds both branches)
    excite    d[b] = sigmoid(W2 relu(W1 s[b] + b1) + b2),     W1 [T/r, T], W2 [T, T/r]
    scale     Y[t, b] = d[b, t] X[t, b]
    prune     at inference (input attention pruning), frames with d[b, t] < d_th are
              discarded: Y[t, b] = 0, so the layers after need not process them.

Scores depend on every step of the sequence, so TA has no step-by-step form.
"""

from __future__ import annotations

import torch
from torch import Tensor

from spikestack.validation import check_sequence

__all__ = ["SQUEEZES", "apply_temporal_attention", "temporal_attention_scores"]

SQUEEZES = ("avg", "max", "avg+max")


def _squeeze(x: Tensor, how: str) -> Tensor:
    flat = x.flatten(2) if x.dim() > 2 else x.unsqueeze(2)
    if how == "avg":
        return flat.mean(2)
    return flat.amax(2)


def temporal_attention_scores(
    x: Tensor, w1: Tensor, b1: Tensor | None, w2: Tensor, b2: Tensor | None, *, squeeze: str = "avg"
) -> Tensor:
    """The score d ``[T, B]`` in (0, 1) of every frame of ``x [T, B, ...]``."""
    check_sequence(x)
    if squeeze not in SQUEEZES:
        raise ValueError(f"squeeze must be one of {', '.join(SQUEEZES)}; got {squeeze!r}")
    if w1.shape[1] != x.shape[0]:
        raise ValueError(
            f"temporal attention was built for T={w1.shape[1]} steps; got x with T={x.shape[0]}"
        )

    def excite(s: Tensor) -> Tensor:  # s [B, T] -> logits [B, T]
        hidden = torch.nn.functional.linear(
            s, w1.to(s.dtype), None if b1 is None else b1.to(s.dtype)
        )
        return torch.nn.functional.linear(
            hidden.relu(), w2.to(s.dtype), None if b2 is None else b2.to(s.dtype)
        )

    branches = ["avg", "max"] if squeeze == "avg+max" else [squeeze]
    logits = sum(excite(_squeeze(x, how).transpose(0, 1)) for how in branches)
    return torch.sigmoid(logits).transpose(0, 1)  # type: ignore[union-attr]


def apply_temporal_attention(
    x: Tensor, scores: Tensor, *, discard_threshold: float | None = None
) -> tuple[Tensor, Tensor]:
    """Y = d X per frame; with ``discard_threshold``, frames with d < threshold become 0.

    Returns ``(Y [T, B, ...], kept [T, B] bool)``.
    """
    check_sequence(x)
    if scores.shape != x.shape[:2]:
        raise ValueError(f"scores must be [T, B] = {tuple(x.shape[:2])}; got {tuple(scores.shape)}")
    kept = torch.ones_like(scores, dtype=torch.bool)
    if discard_threshold is not None:
        kept = scores >= discard_threshold
        scores = scores * kept
    view = scores.reshape(*scores.shape, *([1] * (x.dim() - 2)))
    return x * view.to(x.dtype), kept
