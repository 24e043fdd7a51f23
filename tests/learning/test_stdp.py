"""STDP, triplet STDP and R-STDP: each weight change against the formula on hand-built spikes."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from spikestack.layers import TimeDistributed
from spikestack.learning import RSTDP, STDP, traces
from spikestack.neurons import IF


class Replay(nn.Module):
    """A 'neuron' that outputs given spikes, so the post train is chosen by hand."""

    def __init__(self, spikes: torch.Tensor) -> None:
        super().__init__()
        self.spikes = spikes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spikes


def pair(pre_times: list[int], post_times: list[int], steps: int = 10):
    pre = torch.zeros(steps, 1, 1)
    post = torch.zeros(steps, 1, 1)
    pre[pre_times, 0, 0] = 1
    post[post_times, 0, 0] = 1
    layer = TimeDistributed(nn.Linear(1, 1, bias=False))
    with torch.no_grad():
        layer.module.weight.fill_(0.5)
    return layer, Replay(post), pre


def test_a_pre_before_post_pair_potentiates_and_after_depresses() -> None:
    for pre_t, post_t in ((2, 5), (5, 2), (4, 4)):
        layer, neuron, pre = pair([pre_t], [post_t])
        stdp = STDP(layer, neuron, tau_pre=10.0, tau_post=5.0, a_plus=0.1, a_minus=0.2)
        neuron(layer(pre))
        change = float(stdp.step())
        d = post_t - pre_t
        expected = 0.0
        if d >= 0:
            expected += 0.1 * math.exp(-d / 10.0)
        if d <= 0:
            expected -= 0.2 * math.exp(d / 5.0)
        assert change == pytest.approx(expected)
        assert float(layer.module.weight.detach()) == pytest.approx(0.5 + expected)


def test_all_pairs_sum_and_bounds_apply() -> None:
    layer, neuron, pre = pair([1, 3], [4, 6])
    stdp = STDP(layer, neuron, lr=2.0, tau_pre=4.0, tau_post=4.0, a_plus=0.1, a_minus=0.1,
                w_max=0.6)  # fmt: skip
    neuron(layer(pre))
    ltp = sum(math.exp(-(q - p) / 4.0) for p in (1, 3) for q in (4, 6))
    assert float(stdp.delta()) == pytest.approx(2.0 * 0.1 * ltp)
    stdp.step()
    assert float(layer.module.weight.detach()) == pytest.approx(0.6)  # clamped at w_max
    layer, neuron, pre = pair([1, 3], [4, 6])
    soft = STDP(layer, neuron, tau_pre=4.0, a_plus=0.1, a_minus=0.1, w_min=0.0, w_max=1.0,
                soft_bounds=True)  # fmt: skip
    neuron(layer(pre))
    assert float(soft.delta()) == pytest.approx(0.1 * ltp * (1.0 - 0.5))


def test_triplet_rule_against_its_formula() -> None:
    layer, neuron, pre = pair([2], [4, 7])
    kw = dict(tau_pre=5.0, tau_post=6.0, tau_x=20.0, tau_y=30.0, a_plus=0.05, a_minus=0.07)
    stdp = STDP(layer, neuron, rule="triplet", a3_plus=0.2, a3_minus=0.3, **kw)
    neuron(layer(pre))
    # at post t=4: r1 = e^{-2/5}, o2 before = 0;  at post t=7: r1 = e^{-5/5}, o2 before = e^{-3/30}
    ltp = math.exp(-2 / 5) * 0.05 + math.exp(-1) * (0.05 + 0.2 * math.exp(-3 / 30))
    # pre at t=2 has no post trace yet: no depression
    assert float(stdp.step()) == pytest.approx(ltp)


def test_conv_stdp_pairs_each_output_with_its_patch() -> None:
    torch.manual_seed(0)
    conv = TimeDistributed(nn.Conv2d(1, 2, 3, padding=1, bias=False))
    pre = (torch.rand(5, 2, 1, 6, 6) < 0.3).float()
    post = (torch.rand(5, 2, 2, 6, 6) < 0.3).float()
    neuron = Replay(post)
    stdp = STDP(conv, neuron, tau_pre=3.0, tau_post=3.0, a_plus=1.0, a_minus=0.5)
    neuron(conv(pre))
    x, y = traces(pre, 3.0), traces(post, 3.0)
    unfold = torch.nn.functional.unfold
    expected = torch.zeros(2, 9)
    for t in range(5):
        for b in range(2):
            px = unfold(x[t, b : b + 1], 3, padding=1)[0]  # [9, 36]
            pp = unfold(pre[t, b : b + 1], 3, padding=1)[0]
            expected += post[t, b].reshape(2, 36) @ px.T - 0.5 * y[t, b].reshape(2, 36) @ pp.T
    torch.testing.assert_close(stdp.delta(), expected.reshape(2, 1, 3, 3))


def test_rstdp_weights_pairs_by_eligibility_and_reward() -> None:
    layer, neuron, pre = pair([2], [4])
    r = RSTDP(layer, neuron, tau_pre=10.0, tau_post=10.0, a_plus=0.1, a_minus=0.0, tau_e=5.0)
    neuron(layer(pre))
    # the pairing completes at t=4 of 10 steps: eligibility decays for 5 steps
    expected = 0.1 * math.exp(-2 / 10) * math.exp(-5 / 5)
    assert float(r.eligibility()[0]) == pytest.approx(expected)
    assert float(r.step(reward=-2.0)) == pytest.approx(-2.0 * expected)
    with pytest.raises(RuntimeError, match="no complete forward pass"):
        r.step(1.0)


def test_a_real_neuron_normalisation_and_errors() -> None:
    torch.manual_seed(0)
    layer = TimeDistributed(nn.Linear(8, 4, bias=False))
    neuron = IF(v_threshold=0.5)
    stdp = STDP(layer, neuron, normalise=2.0, w_min=0.0)
    with torch.no_grad():
        layer.module.weight.uniform_(0, 0.5)
    neuron(layer((torch.rand(12, 3, 8) < 0.4).float()))
    stdp.step()
    norms = layer.module.weight.abs().sum(1)
    torch.testing.assert_close(norms, torch.full((4,), 2.0))
    stdp.remove()
    neuron(layer(torch.ones(2, 1, 8)))
    assert stdp._pre == []  # no longer watching
    with pytest.raises(TypeError, match="Linear, Conv1d or Conv2d"):
        STDP(nn.BatchNorm1d(3), neuron)
    with pytest.raises(ValueError, match="soft_bounds needs both"):
        STDP(layer, neuron, soft_bounds=True)
    with pytest.raises(ValueError, match="rule must be"):
        STDP(layer, neuron, rule="quad")
