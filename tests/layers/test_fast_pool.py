"""FastMaxPool2d / kernels.pool.max_pool2d against torch's max pooling: values, gradients
(ties of spikes and NaN included), layouts, and the cases left to torch."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from spikestack.kernels.pool import max_pool2d, supports
from spikestack.layers import FastMaxPool2d, fast_maxpool


def _cl(t: torch.Tensor) -> torch.Tensor:
    return t.to(memory_format=torch.channels_last)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    ("shape", "kernel"),
    [((3, 4, 8, 8), 2), ((2, 5, 9, 7), 2), ((2, 3, 8, 12), (2, 4)), ((1, 2, 6, 6), 3)],
)
def test_equals_torch_contiguous_kernel_with_ties(shape, kernel, dtype) -> None:
    torch.manual_seed(0)
    x = (torch.rand(shape, dtype=dtype) < 0.3).to(dtype)  # spikes: windows full of ties
    assert supports(_cl(x), (kernel, kernel) if isinstance(kernel, int) else kernel)
    xa = _cl(x).requires_grad_()
    xb = x.clone().requires_grad_()
    ya, yb = max_pool2d(xa, kernel), F.max_pool2d(xb, kernel)
    g = torch.randn_like(yb)
    ya.backward(g), yb.backward(g)
    torch.testing.assert_close(ya, yb, rtol=0, atol=0)
    torch.testing.assert_close(xa.grad, xb.grad, rtol=0, atol=0)  # same element of each tie
    assert ya.is_contiguous(memory_format=torch.channels_last)
    assert xa.grad.is_contiguous(memory_format=torch.channels_last)


def test_nan_wins_as_in_torch_and_real_values() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    x[0, 1, 2, 3] = float("nan")
    x[1, 2, 0, 0] = x[1, 2, 0, 1] = float("nan")
    xa, xb = _cl(x).requires_grad_(), x.clone().requires_grad_()
    ya, yb = max_pool2d(xa, 2), F.max_pool2d(xb, 2)
    torch.testing.assert_close(ya, yb, equal_nan=True)
    ya.backward(torch.ones_like(ya)), yb.backward(torch.ones_like(yb))
    torch.testing.assert_close(xa.grad, xb.grad)


def test_gradient_in_another_layout_is_taken() -> None:
    x = _cl((torch.rand(2, 3, 4, 4) < 0.5).float()).requires_grad_()
    y = max_pool2d(x, 2)
    (y.contiguous() * torch.arange(y.numel()).reshape(y.shape)).sum().backward()
    ref = x.detach().contiguous().requires_grad_()
    (F.max_pool2d(ref, 2) * torch.arange(y.numel()).reshape(y.shape)).sum().backward()
    torch.testing.assert_close(x.grad, ref.grad)


@pytest.mark.parametrize(
    "pool",
    [
        nn.MaxPool2d(2, stride=1),
        nn.MaxPool2d(3, stride=2, padding=1),
        nn.MaxPool2d(2, ceil_mode=True),
        nn.MaxPool2d(2, dilation=2),
    ],
)
def test_other_pooling_falls_back_to_torch(pool: nn.MaxPool2d) -> None:
    torch.manual_seed(0)
    x = _cl(torch.randn(2, 3, 9, 9))
    ref = pool(x)
    fast_maxpool(pool)
    assert isinstance(pool, FastMaxPool2d)
    torch.testing.assert_close(pool(x), ref)


def test_unsupported_inputs_run_on_torch_or_are_refused() -> None:
    pool = FastMaxPool2d(2)
    x = torch.randn(2, 3, 8, 8)  # contiguous NCHW: torch's kernel
    assert not supports(x, (2, 2))
    torch.testing.assert_close(pool(x), F.max_pool2d(x, 2))
    x3 = torch.randn(3, 8, 8)  # [C, H, W]
    torch.testing.assert_close(pool(x3), F.max_pool2d(x3, 2))
    with pytest.raises(ValueError, match="channels-last"):
        max_pool2d(x, 2)
    with pytest.raises(ValueError, match="windows of 1 to 255"):
        max_pool2d(_cl(torch.randn(1, 1, 40, 40)), 16)
    with pytest.raises(ValueError, match="that fit"):
        max_pool2d(_cl(torch.randn(1, 1, 2, 2)), 3)


def test_fast_maxpool_counts_and_keeps_subclasses() -> None:
    class MyPool(nn.MaxPool2d):
        pass

    model = nn.Sequential(nn.MaxPool2d(2), nn.Sequential(nn.MaxPool2d(2), MyPool(2)))
    assert fast_maxpool(model) == 2
    assert type(model[1][1]) is MyPool
    assert fast_maxpool(model) == 0
