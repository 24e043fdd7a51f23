"""FastBatchNorm / batch_norm (numba kernels) against torch's BatchNorm: values, gradients,
running statistics, every option, both fallbacks."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from spikestack.kernels.batchnorm import batch_norm_train, supports
from spikestack.layers import FastBatchNorm1d, FastBatchNorm2d, TDBatchNorm, fast_batchnorm


def _pair(bn: nn.Module) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(1)
    if getattr(bn, "weight", None) is not None:
        with torch.no_grad():
            bn.weight.uniform_(0.5, 2.0)
            bn.bias.uniform_(-1.0, 1.0)
    fast = copy.deepcopy(bn)
    assert fast_batchnorm(fast) == 1
    return bn, fast


def _run(bn: nn.Module, x: torch.Tensor, g: torch.Tensor) -> list[torch.Tensor]:
    xg = x.clone().requires_grad_()
    y = bn(xg)
    y.backward(g)
    out = [y.detach(), xg.grad]
    out += [p.grad for p in bn.parameters()]
    out += [b.clone() for b in bn.buffers()]
    return out


def _close(a: list[torch.Tensor], b: list[torch.Tensor], dtype: torch.dtype) -> None:
    tol = 1e-10 if dtype == torch.float64 else 2e-4
    assert len(a) == len(b)
    for u, v in zip(a, b, strict=True):
        torch.testing.assert_close(u, v, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"momentum": None},
        {"affine": False},
        {"track_running_stats": False},
        {"momentum": 0.3, "eps": 1e-3},
    ],
)
def test_fast_batchnorm2d_channels_last_equals_torch(dtype: torch.dtype, options: dict) -> None:
    torch.manual_seed(0)
    bn, fast = _pair(nn.BatchNorm2d(6, **options).to(dtype))
    # a mean far from zero: the statistics must not lose it to cancellation
    x = (torch.randn(10, 6, 5, 7, dtype=dtype) * 3 + 50).to(memory_format=torch.channels_last)
    g = torch.randn(10, 6, 5, 7, dtype=dtype).to(memory_format=torch.channels_last)
    assert supports(x)
    for _ in range(3):  # running statistics across several batches
        ref, ours = _run(bn, x, g), _run(fast, x, g)
        _close(ref, ours, dtype)
        assert ours[0].is_contiguous(memory_format=torch.channels_last)
        assert ours[1].is_contiguous(memory_format=torch.channels_last)
        for p in list(bn.parameters()) + list(fast.parameters()):
            p.grad = None
    if bn.track_running_stats:
        assert int(fast.num_batches_tracked) == 3
    bn.eval(), fast.eval()
    _close([bn(x)], [fast(x)], dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fast_batchnorm1d_on_features_equals_torch(dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    bn, fast = _pair(nn.BatchNorm1d(9).to(dtype))
    x, g = torch.randn(33, 9, dtype=dtype), torch.randn(33, 9, dtype=dtype)
    assert supports(x)
    _close(_run(bn, x, g), _run(fast, x, g), dtype)


def test_other_layouts_fall_back_to_torch() -> None:
    torch.manual_seed(0)
    bn, fast = _pair(nn.BatchNorm2d(4))
    x, g = torch.randn(3, 4, 5, 5), torch.randn(3, 4, 5, 5)  # contiguous NCHW
    assert not supports(x)
    _close(_run(bn, x, g), _run(fast, x, g), torch.float32)
    with pytest.raises(ValueError, match="channels innermost"):
        batch_norm_train(x, None, None, 1e-5)
    x16 = torch.randn(3, 4, dtype=torch.bfloat16)
    assert not supports(x16)
    bn1, fast1 = _pair(nn.BatchNorm1d(4))
    torch.testing.assert_close(fast1.to(torch.bfloat16)(x16), bn1.to(torch.bfloat16)(x16))


def test_one_value_per_channel_is_torchs_error() -> None:
    fast = FastBatchNorm1d(3)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        fast(torch.randn(1, 3))
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        fast(torch.randn(2, 3, 4, 5))


def test_fast_batchnorm_keeps_parameters_and_names() -> None:
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.BatchNorm1d(4 * 9)
    )
    params = {name: p for name, p in model.named_parameters()}
    keys = list(model.state_dict())
    assert fast_batchnorm(model) == 2
    assert isinstance(model[1], FastBatchNorm2d) and isinstance(model[1], nn.BatchNorm2d)
    assert isinstance(model[3], FastBatchNorm1d)
    assert list(model.state_dict()) == keys
    assert all(p is params[name] for name, p in model.named_parameters())
    assert fast_batchnorm(model) == 0  # already fast; subclasses are not touched


def test_tdbn_runs_on_the_kernels_with_torchs_results() -> None:
    torch.manual_seed(0)
    a, b = TDBatchNorm(3, alpha=0.5), TDBatchNorm(3, alpha=0.5)
    b.load_state_dict(a.state_dict())
    x = torch.randn(4, 5, 3, 6, 6)
    x_cl = x.flatten(0, 1).to(memory_format=torch.channels_last).unflatten(0, (4, 5))
    ya = a(x)  # contiguous: torch's kernel
    assert supports(x_cl.flatten(0, 1))
    yb = b(x_cl)  # channels-last: the numba kernels
    torch.testing.assert_close(ya, yb, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(a.running_var, b.running_var)
