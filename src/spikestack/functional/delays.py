"""Learnable synaptic delays as a causal temporal convolution (DCLS-delays).

Hammouamri, Khalfaoui-Hassani, Masquelier, "Learning Delays in Spiking Neural
Networks using Dilated Convolutions with Learnable Spacings", ICLR 2024
(arXiv:2306.17670). Every synapse (o, i) has a weight w[o, i] and a real delay
d[o, i] in [0, max_delay]. Over ``x [T, B, C_in]``:

    kernel  K[o, i, tau] = w[o, i] g[o, i, tau],   tau = 0 .. max_delay
            g[o, i, tau] = exp(-(tau - d[o, i])^2 / (2 sigma^2)) / (sum_tau' exp(...) + eps)
    output  Y[t, b, o] = sum_i sum_tau K[o, i, tau] X[t - tau, b, i]      (X before 0 = 0)

sigma is annealed from large (max_delay / 2) to small during training, so each bump
narrows onto its delay; at the end delays are rounded and g becomes one-hot:
Y[t, o] = sum_i w[o, i] X[t - round(d[o, i]), i], exact integer shifts.
"""

from __future__ import annotations

import torch
from torch import Tensor

from spikestack.validation import check_sequence

__all__ = ["delayed_conv", "gaussian_delay_kernel", "integer_delay_kernel"]

_EPS = 1e-7


def gaussian_delay_kernel(weight: Tensor, delay: Tensor, *, max_delay: int, sigma: float) -> Tensor:
    """``K [O, I, max_delay + 1]`` (index = delay in steps) from weights and real delays."""
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0; got {sigma}")
    taps = torch.arange(max_delay + 1, device=delay.device, dtype=delay.dtype)
    d = delay.clamp(0, max_delay).unsqueeze(-1)
    g = torch.exp(-0.5 * ((taps - d) / sigma) ** 2)
    g = g / (g.sum(-1, keepdim=True) + _EPS)
    return weight.unsqueeze(-1) * g


def integer_delay_kernel(weight: Tensor, delay: Tensor, *, max_delay: int) -> Tensor:
    """One-hot kernel at round(delay): the exact integer-shift form after training."""
    index = delay.detach().clamp(0, max_delay).round().long()
    onehot = torch.nn.functional.one_hot(index, max_delay + 1).to(weight.dtype)
    return weight.unsqueeze(-1) * onehot


def delayed_conv(
    x: Tensor,
    kernel: Tensor,
    *,
    bias: Tensor | None = None,
    groups: int = 1,
    history: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Y[t] = sum_tau K[:, :, tau] X[t - tau] over ``x [T, B, C_in]``.

    ``history [L-1, B, C_in]`` holds the inputs before ``x[0]`` (None = zeros), with
    L = kernel length. Returns ``(Y [T, B, C_out], new_history)``; chunked calls equal
    one call on the whole sequence.
    """
    check_sequence(x)
    if x.dim() != 3:
        raise ValueError(f"x must be [T, B, C] for a delayed layer; got shape {tuple(x.shape)}")
    length = kernel.shape[-1]
    if x.shape[2] != kernel.shape[1] * groups:
        raise ValueError(
            f"x has {x.shape[2]} channels; the layer expects {kernel.shape[1] * groups}"
        )
    if history is None:
        history = x.new_zeros((length - 1, *x.shape[1:]))
    elif history.shape != (length - 1, *x.shape[1:]):
        raise ValueError(
            f"history (state) must be [L-1, B, C] = {(length - 1, *x.shape[1:])}; got {tuple(history.shape)}"
        )
    full = torch.cat([history.to(x.dtype), x])
    # conv1d correlates: out[t] = sum_m k[m] full[t + m]; full[t + m] = X[t + m - (L-1)], so
    # tap m carries the delay tau = L-1-m and the kernel is flipped along time.
    y = torch.nn.functional.conv1d(
        full.permute(1, 2, 0),
        kernel.flip(-1).to(x.dtype),
        None if bias is None else bias.to(x.dtype),
        groups=groups,
    )
    return y.permute(2, 0, 1), full[full.shape[0] - (length - 1) :]
