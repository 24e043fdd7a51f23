"""Parallel spiking neurons: the PSN family as pure ops on ``[T, B, ...]`` tensors.

Fang et al., "Parallel Spiking Neurons with High Efficiency and Ability to Learn
Long-term Dependencies", NeurIPS 2023 (arXiv:2304.12760).

A PSN drops the reset, so the hidden state of every step is a linear function of
the inputs and all T steps are computed at once:

    PSN          H = W X + b,                 W [T, T], b [T]
    masked PSN   H = (W * M_k(lambda)) X + b, M_k(lambda) = lambda M_k + (1 - lambda) 1
                 M_k[i, j] = 1 if 0 <= i - j <= k - 1 else 0    (the k most recent steps)
    sliding PSN  H[t] = sum_{i=0}^{k-1} w[k-1-i] X[t-i] + b,   X[t<0] = 0,  w [k], b scalar
    fire         S = Θ(H)   (surrogate gradient in backward)

The bias b plays the role of minus the threshold (the paper writes S = Θ(H - B)).
``X`` is flattened to ``[T, N]`` so one matmul covers every neuron.
"""

from __future__ import annotations

import torch
from torch import Tensor

from spikestack.surrogates import ATan, Surrogate, check_surrogate
from spikestack.validation import check_sequence

__all__ = [
    "band_mask",
    "masked_psn",
    "masked_weight",
    "psn",
    "sliding_psn",
    "sliding_weight_matrix",
]

_DEFAULT_SURROGATE = ATan()


def check_k(k: object) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(
            f"k (the number of recent steps a neuron sees) must be an int >= 1; got {k!r}"
        )
    return k


def _check_matrix(x: Tensor, weight: Tensor, bias: Tensor) -> None:
    t = x.shape[0]
    if not isinstance(weight, Tensor) or weight.shape != (t, t):
        raise ValueError(
            f"weight must be a [T, T] = [{t}, {t}] tensor for an input with T={t}; "
            f"got {tuple(getattr(weight, 'shape', ()))}"
        )
    if not isinstance(bias, Tensor) or bias.shape != (t,):
        raise ValueError(
            f"bias must be a [T] = [{t}] tensor for an input with T={t}; "
            f"got {tuple(getattr(bias, 'shape', ()))}"
        )


def psn(
    x: Tensor, weight: Tensor, bias: Tensor, *, surrogate: Surrogate = _DEFAULT_SURROGATE
) -> Tensor:
    """PSN: S = Θ(W X + b) over ``x [T, B, ...]`` with ``weight [T, T]`` and ``bias [T]``."""
    check_sequence(x)
    check_surrogate(surrogate)
    _check_matrix(x, weight, bias)
    h = torch.addmm(bias.to(x.dtype).unsqueeze(1), weight.to(x.dtype), x.reshape(x.shape[0], -1))
    return surrogate(h).view(x.shape)


def band_mask(
    T: int, k: int, *, device: torch.device | None = None, dtype: torch.dtype | None = None
) -> Tensor:
    """M_k [T, T]: 1 where 0 <= i - j <= k - 1 (step i sees steps i-k+1 .. i), else 0."""
    check_k(k)
    i = torch.arange(T, device=device)
    lag = i.unsqueeze(1) - i.unsqueeze(0)
    return ((lag >= 0) & (lag < k)).to(dtype or torch.get_default_dtype())


def masked_weight(weight: Tensor, k: int, masking_factor: float | Tensor) -> Tensor:
    """W * (lambda M_k + (1 - lambda) 1): the progressively masked weight of a masked PSN."""
    lam = masking_factor
    if not isinstance(lam, Tensor):
        lam = float(lam)
    if not (0.0 <= float(lam) <= 1.0):
        raise ValueError(f"masking_factor (lambda) must lie in [0, 1]; got {float(lam)}")
    mask = band_mask(weight.shape[0], k, device=weight.device, dtype=weight.dtype)
    return weight * (lam * mask + (1.0 - lam))


def masked_psn(
    x: Tensor,
    weight: Tensor,
    bias: Tensor,
    *,
    k: int,
    masking_factor: float | Tensor = 1.0,
    surrogate: Surrogate = _DEFAULT_SURROGATE,
) -> Tensor:
    """Masked PSN: S = Θ((W * M_k(lambda)) X + b); causal with a k-step window at lambda = 1."""
    check_sequence(x)
    _check_matrix(x, weight, bias)
    return psn(x, masked_weight(weight, k, masking_factor), bias, surrogate=surrogate)


def sliding_weight_matrix(weight: Tensor, T: int) -> Tensor:
    """The [T, T] Toeplitz matrix of a sliding PSN: W[i, j] = w[k-1-(i-j)] for 0 <= i-j < k."""
    if not isinstance(weight, Tensor) or weight.dim() != 1:
        raise ValueError(
            f"weight must be a 1-D [k] tensor; got {tuple(getattr(weight, 'shape', ()))}"
        )
    k = weight.shape[0]
    i = torch.arange(T, device=weight.device)
    lag = i.unsqueeze(1) - i.unsqueeze(0)
    inside = (lag >= 0) & (lag < k)
    index = (k - 1 - lag).clamp(0, k - 1)
    return torch.where(
        inside, weight[index], torch.zeros((), dtype=weight.dtype, device=weight.device)
    )


def sliding_psn(
    x: Tensor,
    weight: Tensor,
    bias: Tensor,
    *,
    history: Tensor | None = None,
    surrogate: Surrogate = _DEFAULT_SURROGATE,
) -> tuple[Tensor, Tensor]:
    """Sliding PSN over ``x [T, B, ...]`` with shared ``weight [k]`` and scalar ``bias``.

    ``history`` holds the k-1 inputs before ``x[0]`` (``[k-1, B, ...]``; ``None`` =
    zeros, i.e. rest). Returns ``(spikes [T, B, ...], new_history [k-1, B, ...])``, so
    calls on consecutive chunks (or single steps) equal one call on the whole sequence.
    """
    check_sequence(x)
    check_surrogate(surrogate)
    if not isinstance(weight, Tensor) or weight.dim() != 1:
        raise ValueError(
            f"weight must be a 1-D [k] tensor; got {tuple(getattr(weight, 'shape', ()))}"
        )
    if not isinstance(bias, Tensor) or bias.numel() != 1:
        raise ValueError(
            f"bias must be a one-element tensor; got {tuple(getattr(bias, 'shape', ()))}"
        )
    k = weight.shape[0]
    if history is None:
        history = x.new_zeros((k - 1, *x.shape[1:]))
    elif not isinstance(history, Tensor) or history.shape != (k - 1, *x.shape[1:]):
        raise ValueError(
            f"history (state) must be a [k-1, B, ...] = {(k - 1, *x.shape[1:])} tensor; "
            f"got {tuple(getattr(history, 'shape', ()))}"
        )
    full = torch.cat([history.to(x.dtype), x]) if k > 1 else x
    t = x.shape[0]
    w = weight.to(x.dtype)
    # H[t] = b + sum_i w[k-1-i] X[t-i]: k shifted multiply-adds over the whole sequence.
    h = bias.to(x.dtype).reshape(()) + w[k - 1] * full[k - 1 :]
    for lag in range(1, k):
        h = h + w[k - 1 - lag] * full[k - 1 - lag : k - 1 - lag + t]
    new_history = full[full.shape[0] - (k - 1) :] if k > 1 else full[:0]
    return surrogate(h), new_history
