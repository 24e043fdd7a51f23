"""Binary stochastic learning: each binarisation, the step-wise update, counts, and digits."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spikestack.learning import BinaryStochastic, Device
from spikestack.learning.binary_stochastic import _Bernoulli, _SignedError, _StochasticSigmoid


def test_binarisations_have_the_right_statistics_and_gradients() -> None:
    g = torch.Generator().manual_seed(0)
    p = torch.tensor([0.0, 0.2, 0.7, 1.0]).repeat(50_000, 1).requires_grad_()
    sample = _Bernoulli.apply(p, g)
    assert set(sample.unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(sample.mean(0), p[0].detach(), atol=0.01, rtol=0)
    sample.sum().backward()
    assert torch.equal(p.grad, torch.ones_like(p))  # the error passes unchanged
    x = torch.tensor([-2.0, 0.0, 3.0], requires_grad=True)
    _SignedError.apply(x).backward(torch.tensor([-0.3, 0.0, 5.0]))
    assert x.grad.tolist() == [-1.0, 0.0, 1.0]
    z = torch.zeros(100_000, 2)
    z[:, 1] = 2.0
    z.requires_grad_()
    y = _StochasticSigmoid.apply(z, g)
    y.backward(torch.ones_like(y))
    s = torch.sigmoid(torch.tensor([0.0, 2.0]))
    torch.testing.assert_close(z.grad.mean(0), 4 * s * (1 - s), atol=0.01, rtol=0)
    assert set(z.grad.unique().tolist()) <= {0.0, 1.0}


def test_weights_move_one_step_against_the_gradient_sign() -> None:
    device = Device(levels=5, w_max=1.0)  # levels -1, -0.5, 0, 0.5, 1
    assert device.step == 0.5
    torch.testing.assert_close(device.snap(torch.tensor([0.3, -0.8, 2.0])),
                               torch.tensor([0.5, -1.0, 1.0]))  # fmt: skip
    model = nn.Sequential(nn.Linear(2, 1))
    learner = BinaryStochastic(model, device, error_threshold=0.0)
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[0.5, 1.0]]))
        model[0].bias.zero_()
    x = torch.tensor([[1.0, 1.0]])  # Bernoulli(1) = 1: deterministic
    learner.train_step(x, torch.tensor([0]))  # one output, target 1: error < 0, weights rise
    assert model[0].weight.tolist() == [[1.0, 1.0]]  # +1 step, then clamped at w_max
    assert model[0].bias.item() == 0.5
    noisy = BinaryStochastic(nn.Sequential(nn.Linear(2, 1)), Device(5, 1.0, write_noise=0.5))
    w = noisy.model[0].weight.detach().clone()
    noisy.train_step(torch.ones(1, 2), torch.tensor([0]))
    moved = (noisy.model[0].weight.detach() - w).abs()
    assert ((moved > 0) & (moved != 0.5)).any()  # steps of 0.5 · (1 + 0.5 N(0, 1))


def test_counts_by_hand() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.Sigmoid(), nn.Linear(3, 2))
    learner = BinaryStochastic(model)
    x = torch.tensor([[1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, 1.0]])  # 4 active inputs
    learner.train_step(x, torch.tensor([0, 1]))
    c = learner.counts
    macs1, macs2 = 2 * 3 * 4, 2 * 2 * 3
    assert c["dense_macs"] == 2 * macs1 + 3 * macs2
    assert c["backward_adds"] == macs2 and c["sign_ops"] == macs1 + macs2
    # the first layer: 4 active inputs x 3 outputs; the second: k of 6 binary hiddens x 2
    k, rest = divmod(c["forward_adds"] - 4 * 3, 2)
    assert rest == 0 and 0 <= k <= 6


def test_it_learns_digits() -> None:
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.data / 16.0, dtype=torch.float32)
    y = torch.tensor(data.target)
    torch.manual_seed(0)
    learner = BinaryStochastic(nn.Sequential(nn.Linear(64, 128), nn.Sigmoid(), nn.Linear(128, 10)))
    for epoch in range(10):
        order = torch.randperm(1400, generator=torch.Generator().manual_seed(epoch))
        for i in range(0, 1400, 32):
            learner.train_step(x[order[i : i + 32]], y[order[i : i + 32]])
    accuracy = (learner.predict(x[1400:]).argmax(-1) == y[1400:]).float().mean()
    assert accuracy > 0.75  # chance is 0.1; benchmarks/binary_stochastic.py has the table


def test_bad_models_are_named() -> None:
    with pytest.raises(TypeError, match="nn.Sequential"):
        BinaryStochastic(nn.Linear(2, 2))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"layer 1 \(ReLU\)"):
        BinaryStochastic(nn.Sequential(nn.Linear(2, 2), nn.ReLU()))
    with pytest.raises(ValueError, match="levels"):
        Device(levels=1)
    with pytest.raises(ValueError, match="update must be"):
        BinaryStochastic(nn.Sequential(nn.Linear(2, 2)), update="adam")
