"""Dilated convolution with learnable spacings (DCLS): build the dense kernel.

Khalfaoui-Hassani, Pellegrini, Masquelier, "Dilated convolution with learnable
spacings", ICLR 2023 (arXiv:2112.03740), and the Gaussian-interpolation follow-up
"Dilated Convolution with Learnable Spacings: beyond bilinear interpolation"
(ICML 2023 workshop, arXiv:2306.00817). A kernel has ``count`` elements per
(out, in) pair, each with a weight w and a real position p (one coordinate per
spatial dim, in [0, S_d - 1] of a dilated kernel of size S). The dense kernel is

    K[o, i, x_1, ..., x_D] = sum_c w[o, i, c] prod_d phi(x_d - p_d[o, i, c])

    bilinear  phi(u) = max(0, 1 - |u|)          (linear in each dim: bilinear in 2-D;
                                                 an integer position gives a one-hot)
    gaussian  phi(u) = exp(-u^2 / (2 sigma_d^2)) / sum_x exp(-(x - p_d)^2 / (2 sigma_d^2)),
              sigma_d learnable per element

and the layer is a standard convolution with K. Gradients reach w, p (and sigma).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["INTERPOLATIONS", "dcls_kernel", "interpolation_weights"]

INTERPOLATIONS = ("bilinear", "gaussian")
_EPS = 1e-7


def interpolation_weights(
    position: Tensor, size: int, *, interpolation: str = "bilinear", sigma: Tensor | None = None
) -> Tensor:
    """phi over the grid 0..size-1 for each position: ``[...] -> [..., size]``."""
    if interpolation not in INTERPOLATIONS:
        raise ValueError(
            f"interpolation must be one of {', '.join(INTERPOLATIONS)}; got {interpolation!r}"
        )
    grid = torch.arange(size, device=position.device, dtype=position.dtype)
    u = grid - position.clamp(0, size - 1).unsqueeze(-1)
    if interpolation == "bilinear":
        return (1 - u.abs()).clamp_min(0)
    if sigma is None:
        raise ValueError("gaussian interpolation needs sigma")
    g = torch.exp(-0.5 * (u / sigma.clamp_min(1e-3).unsqueeze(-1)) ** 2)
    return g / (g.sum(-1, keepdim=True) + _EPS)


def dcls_kernel(
    weight: Tensor,
    positions: Tensor,
    dilated_kernel_size: tuple[int, ...],
    *,
    interpolation: str = "bilinear",
    sigma: Tensor | None = None,
) -> Tensor:
    """Dense ``[O, I, *dilated_kernel_size]`` kernel from ``weight [O, I, count]`` and
    ``positions [D, O, I, count]`` (``sigma`` like ``positions`` for gaussian)."""
    dims = len(dilated_kernel_size)
    if positions.shape != (dims, *weight.shape):
        raise ValueError(
            f"positions must be [D, O, I, count] = {(dims, *weight.shape)}; got {tuple(positions.shape)}"
        )
    factors = [
        interpolation_weights(
            positions[d],
            dilated_kernel_size[d],
            interpolation=interpolation,
            sigma=None if sigma is None else sigma[d],
        )
        for d in range(dims)
    ]
    letters = "xyz"[:dims]
    spec = "oic," + ",".join(f"oic{ch}" for ch in letters) + "->oi" + letters
    return torch.einsum(spec, weight, *factors)
