"""tdBN, BNTT and TEBN against a hand computation and SpikingJelly's layers."""

from __future__ import annotations

import pytest
import torch

from spikestack.layers import BNTT, TEBN, TDBatchNorm


def by_hand(x: torch.Tensor, dims: tuple[int, ...], eps: float = 1e-5) -> torch.Tensor:
    mean = x.mean(dims, keepdim=True)
    var = x.var(dims, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps)


def test_tdbn_normalises_over_time_batch_and_space_scaled_to_threshold() -> None:
    torch.manual_seed(0)
    x = torch.randn(4, 3, 2, 5, 5) * 3 + 1
    bn = TDBatchNorm(2, alpha=0.5, v_threshold=2.0)
    with torch.no_grad():
        bn.bias.fill_(0.25)
    y = bn(x)
    torch.testing.assert_close(y, 0.5 * 2.0 * by_hand(x, (0, 1, 3, 4)) + 0.25, atol=1e-5, rtol=1e-5)
    # running statistics from all T * B samples; eval uses them
    n = x.numel() / 2
    mean = x.mean((0, 1, 3, 4))
    var = x.var((0, 1, 3, 4), unbiased=False) * n / (n - 1)
    torch.testing.assert_close(bn.running_mean, 0.1 * mean)
    torch.testing.assert_close(bn.running_var, 0.9 + 0.1 * var)
    bn.eval()
    expected = (x - bn.running_mean.view(1, 1, 2, 1, 1)) / torch.sqrt(
        bn.running_var.view(1, 1, 2, 1, 1) + 1e-5
    )
    torch.testing.assert_close(bn(x), expected + 0.25, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match=r"expects \[T, B, 2, \.\.\.\]"):
        bn(torch.randn(4, 3, 5))


def test_tebn_scales_each_step() -> None:
    torch.manual_seed(1)
    x = torch.randn(3, 4, 2, 6)
    bn = TEBN(2, T=3)
    with torch.no_grad():
        bn.p.copy_(torch.tensor([1.0, 2.0, -0.5]))
    y = bn(x)
    expected = by_hand(x, (0, 1, 3)) * torch.tensor([1.0, 2.0, -0.5]).view(3, 1, 1, 1)
    torch.testing.assert_close(y, expected, atol=1e-5, rtol=1e-5)
    y.sum().backward()
    assert bn.p.grad.shape == (3,)
    with pytest.raises(ValueError, match="built for T=3"):
        bn(torch.randn(4, 4, 2, 6))


def test_bntt_keeps_statistics_per_step() -> None:
    torch.manual_seed(2)
    x = torch.randn(3, 8, 2, 4, 4) * torch.tensor([1.0, 5.0, 10.0]).view(3, 1, 1, 1, 1)
    bn = BNTT(2, T=3)
    y = bn(x)
    torch.testing.assert_close(y, by_hand(x, (1, 3, 4)), atol=1e-5, rtol=1e-5)
    assert bn.running_var[2].mean() > 5 * bn.running_var[0].mean()  # each step its own
    with torch.no_grad():
        bn.weight[1].fill_(3.0)
    assert torch.allclose(bn(x)[1], 3 * by_hand(x, (1, 3, 4))[1], atol=1e-4)


@pytest.mark.parametrize("kind", ["tdbn", "tebn", "bntt"])
def test_equal_to_spikingjelly(kind: str) -> None:
    sj = pytest.importorskip("spikingjelly.activation_based.layer", reason="needs SpikingJelly")
    torch.manual_seed(3)
    x = torch.randn(4, 5, 3, 6, 6) * 2 + 0.5
    if kind == "tdbn":
        theirs, ours = (
            sj.ThresholdDependentBatchNorm2d(0.7, 1.5, 3),
            TDBatchNorm(3, alpha=0.7, v_threshold=1.5),
        )
    elif kind == "tebn":
        theirs, ours = sj.TemporalEffectiveBatchNorm2d(4, 3), TEBN(3, T=4)
        with torch.no_grad():
            theirs.scale.copy_(torch.tensor([0.5, 1.0, 1.5, 2.0]))
            ours.p.copy_(theirs.scale)
    else:
        theirs, ours = sj.BatchNormThroughTime2d(4, 3, step_mode="m"), BNTT(3, T=4)
    for _ in range(2):  # training steps move the running statistics the same way
        torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)
        if kind == "bntt":
            theirs.reset()
    theirs.eval()
    ours.eval()
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)
