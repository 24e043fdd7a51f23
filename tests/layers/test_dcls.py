"""DCLS: interpolation of learnable positions into a dense kernel, then a standard convolution."""

from __future__ import annotations

import pickle

import pytest
import torch

from spikestack.functional.dcls import dcls_kernel
from spikestack.layers import DCLSConv1d, DCLSConv2d, create_layer


def test_integer_positions_give_a_dense_kernel_and_a_standard_conv() -> None:
    torch.manual_seed(0)
    layer = DCLSConv2d(2, 3, 2, 5, padding=2)
    with torch.no_grad():
        layer.positions.copy_(torch.randint(0, 5, layer.positions.shape).float())
    dense = torch.zeros(3, 2, 5, 5)
    for o in range(3):
        for i in range(2):
            for c in range(2):
                r, q = layer.positions[:, o, i, c].long().tolist()
                dense[o, i, r, q] += layer.weight[o, i, c].detach()
    assert torch.allclose(layer.kernel().detach(), dense)
    x = torch.randn(4, 2, 2, 7, 7)
    expected = torch.nn.functional.conv2d(x.flatten(0, 1), dense, layer.bias.detach(), padding=2)
    assert torch.allclose(layer(x), expected.unflatten(0, (4, 2)), atol=1e-5)


def test_bilinear_splits_a_fractional_position() -> None:
    w = torch.tensor([[[2.0]]])
    k = dcls_kernel(w, torch.tensor([[[[1.25]]], [[[3.5]]]]), (4, 5))
    expected = torch.zeros(1, 1, 4, 5)
    expected[0, 0, 1, 3] = 2 * 0.75 * 0.5
    expected[0, 0, 1, 4] = 2 * 0.75 * 0.5
    expected[0, 0, 2, 3] = 2 * 0.25 * 0.5
    expected[0, 0, 2, 4] = 2 * 0.25 * 0.5
    assert torch.allclose(k, expected)


def test_gaussian_kernel_sums_to_weight_and_learns_sigma() -> None:
    torch.manual_seed(1)
    layer = DCLSConv1d(2, 2, 3, 9, interpolation="gaussian")
    k = layer.kernel()
    assert torch.allclose(k.sum(-1), layer.weight.sum(-1), atol=1e-5)
    layer(torch.randn(3, 2, 2, 12)).pow(2).sum().backward()
    for p in (layer.weight, layer.positions, layer.sigma, layer.bias):
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_positions_receive_gradients_streaming_pickle_errors() -> None:
    torch.manual_seed(2)
    layer = create_layer("dcls_conv2d", 1, 2, 3, 7)
    x = torch.randn(3, 2, 1, 9, 9)
    y = layer(x)
    assert y.shape == (3, 2, 2, 9, 9)
    y.pow(2).sum().backward()
    assert layer.positions.grad is not None and layer.positions.grad.abs().sum() > 0
    assert torch.allclose(layer.step(x[1])[0], y[1])
    assert torch.equal(pickle.loads(pickle.dumps(layer))(x), y)
    with pytest.raises(ValueError, match=r"\[T, B, C, H, W\]"):
        layer(torch.randn(2, 1, 9, 9))
    with pytest.raises(ValueError, match="interpolation"):
        DCLSConv1d(1, 1, 2, 5, interpolation="cubic")
