import pytest
import torch
from torch import nn

from spikestack.layers import Flatten, TimeDistributed


def test_time_distributed_equals_per_step_application():
    conv = nn.Conv2d(2, 3, 3, padding=1)
    x = torch.rand(4, 5, 2, 6, 6)
    out = TimeDistributed(conv)(x)
    assert out.shape == (4, 5, 3, 6, 6)
    for t in range(4):
        torch.testing.assert_close(out[t], conv(x[t]))


def test_batchnorm_normalises_over_time_and_batch():
    bn = TimeDistributed(nn.BatchNorm1d(3, affine=False))
    x = torch.randn(6, 8, 3) * 5 + 2
    y = bn(x)
    torch.testing.assert_close(y.mean(dim=(0, 1)), torch.zeros(3), atol=1e-5, rtol=0)


def test_flatten_and_errors():
    assert Flatten()(torch.rand(2, 3, 4, 5)).shape == (2, 3, 20)
    with pytest.raises(ValueError, match=r"\[T, B"):
        TimeDistributed(nn.Identity())(torch.rand(3))
    with pytest.raises(TypeError):
        TimeDistributed(lambda x: x)
