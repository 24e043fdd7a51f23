"""Learnable delays: rounding gives exact integer shifts; Gaussian kernels; streaming; sigma schedule."""

from __future__ import annotations

import pickle

import pytest
import torch

import spikestack
from spikestack.layers import DelayedConv1d, DelayedLinear, DelaySigmaSchedule, sigma_at


def test_rounded_delays_equal_integer_shifts() -> None:
    torch.manual_seed(0)
    layer = DelayedLinear(5, 3, max_delay=6)
    layer.round_delays()
    x = torch.randn(12, 2, 5, dtype=torch.float64)
    y = layer(x)
    d = layer.integer_delays()
    w = layer.weight.detach().double()
    expected = torch.zeros(12, 2, 3, dtype=torch.float64)
    for o in range(3):
        for i in range(5):
            shift = int(d[o, i])
            expected[shift:, :, o] += w[o, i] * x[: 12 - shift, :, i]
    assert torch.allclose(y, expected, atol=1e-12)
    assert d.min() >= 0 and d.max() <= 6


def test_gaussian_kernel_is_normalised_bump_at_the_delay() -> None:
    layer = DelayedLinear(2, 2, max_delay=8, sigma=1.0)
    with torch.no_grad():
        layer.delay.copy_(torch.tensor([[2.0, 5.0], [0.0, 8.0]]))
    k = layer.kernel().detach()
    assert torch.allclose(k.sum(-1), layer.weight.detach(), atol=1e-5)
    peak = (k / layer.weight.detach().unsqueeze(-1)).argmax(-1)
    assert peak.tolist() == [[2, 5], [0, 8]]
    # as sigma shrinks the bump converges to the one-hot integer kernel
    layer.set_sigma(0.05)
    onehot = torch.zeros(2, 2, 9)
    onehot[0, 0, 2] = onehot[0, 1, 5] = onehot[1, 0, 0] = onehot[1, 1, 8] = 1
    assert torch.allclose(
        layer.kernel().detach(), layer.weight.detach().unsqueeze(-1) * onehot, atol=1e-6
    )


def test_gradients_reach_weights_and_delays() -> None:
    torch.manual_seed(1)
    layer = DelayedConv1d(4, 4, max_delay=5, groups=2, bias=True)
    layer(torch.randn(10, 3, 4)).pow(2).sum().backward()
    for p in (layer.weight, layer.delay, layer.bias):
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_streaming_and_stateful_equal_multi_step() -> None:
    torch.manual_seed(2)
    layer = DelayedLinear(3, 2, max_delay=4)
    x = torch.randn(9, 2, 3)
    full = layer(x)
    state, outs = None, []
    for t in range(9):
        y, state = layer.step(x[t], state)
        outs.append(y)
    assert torch.allclose(torch.stack(outs), full, atol=1e-6)
    stateful = DelayedLinear(3, 2, max_delay=4, stateful=True)
    stateful.load_state_dict(layer.state_dict())
    assert torch.allclose(torch.cat([stateful(x[:3]), stateful(x[3:])]), full, atol=1e-6)
    spikestack.reset(stateful)
    assert stateful.history is None
    clone = pickle.loads(pickle.dumps(layer))
    assert torch.equal(clone(x), full)


def test_sigma_schedule_and_errors() -> None:
    model = torch.nn.Sequential(DelayedLinear(2, 2, max_delay=8), DelayedLinear(2, 2, max_delay=4))
    schedule = DelaySigmaSchedule(model, total_steps=4)
    assert float(model[0].sigma) == 4.0 and float(model[1].sigma) == 2.0
    for _ in range(5):
        schedule.step()
    assert float(model[0].sigma) == pytest.approx(0.5) and float(model[1].sigma) == pytest.approx(
        0.5
    )
    assert sigma_at(2, total_steps=4, start=4.0, end=1.0) == pytest.approx(2.0)
    with pytest.raises(ValueError, match=r"\[T, B, C\]"):
        model(torch.randn(5, 2))
    with pytest.raises(ValueError, match="channels"):
        model(torch.randn(5, 2, 3))
    with pytest.raises(ValueError, match="max_delay"):
        DelayedLinear(2, 2, max_delay=-1)
