"""TemporalAttention: per-frame scaling by the score; inference discards exactly the low-score frames."""

from __future__ import annotations

import pickle

import pytest
import torch

from spikestack.layers import TemporalAttention, create_layer


def test_scores_scale_each_frame() -> None:
    torch.manual_seed(0)
    ta = TemporalAttention(6, reduction=2)
    x = torch.rand(6, 3, 2, 4, 4)
    d = ta.scores(x)
    assert d.shape == (6, 3) and torch.all((d > 0) & (d < 1))
    s = x.flatten(2).mean(2).T  # squeeze: [B, T]
    expected = torch.sigmoid(ta.fc2(torch.relu(ta.fc1(s)))).T
    assert torch.allclose(d, expected)
    assert torch.allclose(ta(x), x * d[:, :, None, None, None])


def test_discard_removes_exactly_frames_below_threshold() -> None:
    torch.manual_seed(1)
    ta = TemporalAttention(8, reduction=2, squeeze="avg+max", discard_threshold=0.5)
    with torch.no_grad():
        ta.fc2.bias.copy_(torch.linspace(-3, 3, 8))  # spread the scores around 0.5
    x = torch.rand(8, 4, 10) + 0.1
    d = ta.scores(x)
    below = d < 0.5
    assert below.any() and (~below).any()
    ta.train()
    assert torch.allclose(ta(x), x * d[..., None])  # training never discards
    assert ta.last_discard_fraction is None
    ta.eval()
    y = ta(x)
    assert torch.all(y[below] == 0)
    assert torch.allclose(y[~below], (x * d[..., None])[~below])
    assert ta.last_discard_fraction == pytest.approx(float(below.float().mean()))


def test_gradients_errors_pickle_registry() -> None:
    ta = create_layer("temporal_attention", 4, reduction=2)
    x = torch.rand(4, 2, 3, requires_grad=True)
    ta(x).sum().backward()
    assert ta.fc1.weight.grad is not None and ta.fc1.weight.grad.abs().sum() > 0
    assert x.grad is not None
    with pytest.raises(ValueError, match="T=4"):
        ta(torch.rand(5, 2, 3))
    with pytest.raises(ValueError, match="squeeze"):
        TemporalAttention(4, squeeze="median")
    clone = pickle.loads(pickle.dumps(ta))
    assert torch.equal(clone(x.detach()), ta(x.detach()))
