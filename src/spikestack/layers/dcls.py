"""DCLSConv1d / DCLSConv2d: convolutions with learnable kernel-element positions
(Khalfaoui-Hassani et al., ICLR 2023); math in :mod:`spikestack.functional.dcls`."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from spikestack.functional.dcls import INTERPOLATIONS, dcls_kernel
from spikestack.validation import check_sequence

__all__ = ["DCLSConv1d", "DCLSConv2d"]


class _DCLSConv(nn.Module):
    dims: int = 0

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_count: int,
        dilated_kernel_size: int | tuple[int, ...],
        *,
        stride: int = 1,
        padding: int | str = "same",
        groups: int = 1,
        bias: bool = True,
        interpolation: str = "bilinear",
        sigma_init: float = 0.5,
    ) -> None:
        super().__init__()
        size = (
            (dilated_kernel_size,) * self.dims
            if isinstance(dilated_kernel_size, int)
            else tuple(dilated_kernel_size)
        )
        if len(size) != self.dims or min(size) < 1:
            raise ValueError(
                f"dilated_kernel_size must be a positive int or {self.dims} ints; got {dilated_kernel_size!r}"
            )
        if not isinstance(kernel_count, int) or kernel_count < 1:
            raise ValueError(
                f"kernel_count (elements per kernel) must be an int >= 1; got {kernel_count!r}"
            )
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"in_channels ({in_channels}) and out_channels ({out_channels}) must divide by groups ({groups})"
            )
        if interpolation not in INTERPOLATIONS:
            raise ValueError(
                f"interpolation must be one of {', '.join(INTERPOLATIONS)}; got {interpolation!r}"
            )
        self.in_channels, self.out_channels, self.kernel_count = (
            in_channels,
            out_channels,
            kernel_count,
        )
        self.dilated_kernel_size, self.stride, self.padding, self.groups = (
            size,
            stride,
            padding,
            groups,
        )
        self.interpolation = interpolation
        shape = (out_channels, in_channels // groups, kernel_count)
        self.weight = nn.Parameter(torch.empty(shape))
        self.positions = nn.Parameter(torch.empty(self.dims, *shape))
        self.sigma = (
            nn.Parameter(torch.full((self.dims, *shape), float(sigma_init)))
            if interpolation == "gaussian"
            else None
        )
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        bound = 1 / math.sqrt(shape[1] * kernel_count)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)
        with torch.no_grad():  # spread the elements uniformly over the dilated kernel
            for d, s in enumerate(size):
                self.positions[d].uniform_(0, s - 1)

    def kernel(self) -> Tensor:
        """The dense ``[out, in/groups, *dilated_kernel_size]`` kernel."""
        return dcls_kernel(
            self.weight,
            self.positions,
            self.dilated_kernel_size,
            interpolation=self.interpolation,
            sigma=self.sigma,
        )

    def _conv(self, x: Tensor) -> Tensor:
        conv = nn.functional.conv1d if self.dims == 1 else nn.functional.conv2d
        return conv(
            x,
            self.kernel().to(x.dtype),
            None if self.bias is None else self.bias.to(x.dtype),
            stride=self.stride,
            padding=self.padding,
            groups=self.groups,
        )

    def forward(self, x: Tensor) -> Tensor:
        """``[T, B, C, *spatial] -> [T, B, C_out, *spatial']``; the same kernel at every step."""
        check_sequence(x)
        if x.dim() != self.dims + 3:
            raise ValueError(
                f"{type(self).__name__} expects x of shape [T, B, C, {'L' if self.dims == 1 else 'H, W'}]; got {tuple(x.shape)}"
            )
        t, b = x.shape[:2]
        return self._conv(x.flatten(0, 1)).unflatten(0, (t, b))

    def step(self, x_t: Tensor, state: None = None) -> tuple[Tensor, None]:
        """One step ``[B, C, *spatial]``; stateless, so the state stays None."""
        return self._conv(x_t), None

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_count={self.kernel_count}, "
            f"dilated_kernel_size={self.dilated_kernel_size}, interpolation={self.interpolation!r}"
        )


class DCLSConv1d(_DCLSConv):
    """1-D DCLS convolution over ``[T, B, C, L]``: ``kernel_count`` learnable-position
    elements in a dilated kernel of size ``dilated_kernel_size``."""

    dims = 1


class DCLSConv2d(_DCLSConv):
    """2-D DCLS convolution over ``[T, B, C, H, W]``: each element has a learnable (row, col)."""

    dims = 2
