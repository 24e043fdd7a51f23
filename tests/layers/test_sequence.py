"""SequenceDropout, VotingPool, and spikestack.detach for truncated BPTT."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import spikestack
from spikestack.layers import (
    DelayedConv1d,
    LIAFLinear,
    SequenceDropout,
    TimeDistributed,
    VotingPool,
)
from spikestack.neurons import ALIF, LIF


def test_sequence_dropout_one_mask_for_all_steps():
    torch.manual_seed(0)
    drop = SequenceDropout(0.5)
    out = drop(torch.ones(6, 4, 100))
    assert all(torch.equal(out[t], out[0]) for t in range(6))
    assert set(out.unique().tolist()) == {0.0, 2.0}  # survivors rescaled by 1 / (1 - p)
    assert 0.35 < float((out[0] == 0).float().mean()) < 0.65
    drop.eval()
    x = torch.rand(3, 2, 5)
    assert drop(x) is x
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        SequenceDropout(1.0)


def test_voting_pool_averages_groups():
    x = torch.tensor([[[1.0, 0.0, 1.0, 1.0, 0.0, 0.0]]])  # [T=1, B=1, 3 classes * 2]
    assert VotingPool(2)(x).tolist() == [[[0.5, 1.0, 0.0]]]
    with pytest.raises(ValueError, match="divisible by 4"):
        VotingPool(4)(x)
    with pytest.raises(ValueError, match="voting"):
        VotingPool(0)


def test_detach_keeps_values_and_cuts_the_graph():
    model = nn.Sequential(
        TimeDistributed(nn.Linear(3, 4)),
        LIF(stateful=True),
        TimeDistributed(nn.Linear(4, 4)),
        ALIF(stateful=True),
        DelayedConv1d(4, 4, max_delay=3, stateful=True),
        LIAFLinear(4, 2, stateful=True),
    )
    x = torch.rand(5, 2, 3) * 3
    model(x)
    carried = [m for m in model.modules() if getattr(m, "state", None) is not None]
    assert carried, "no neuron carried state"
    before = [
        m.state[0].clone() if isinstance(m.state, tuple) else m.state.clone() for m in carried
    ]
    assert spikestack.detach(model) is model
    for m, b in zip(carried, before, strict=True):
        states = m.state if isinstance(m.state, tuple) else (m.state,)
        assert all(not s.requires_grad for s in states)
        assert torch.equal(states[0], b)
    assert not model[4].history.requires_grad
    # the next window's loss reaches this window's input only through the weights
    x2 = torch.rand(5, 2, 3, requires_grad=True)
    model(x2).sum().backward()
    assert x2.grad is not None


def test_truncated_bptt_gradient_equals_a_fresh_window_from_the_carried_state():
    torch.manual_seed(1)
    lin = nn.Linear(3, 3)
    neuron = LIF(stateful=True, v_reset=None)
    model = nn.Sequential(TimeDistributed(lin), neuron)
    x = torch.rand(8, 2, 3) * 2
    model(x[:4])
    spikestack.detach(model)
    carried = neuron.state.clone()
    model(x[4:]).sum().backward()
    grad_tbptt = lin.weight.grad.clone()
    # the same window run from the carried state, which is a constant
    lin.weight.grad = None
    out, _ = neuron._run(lin(x[4:]), carried)
    out.sum().backward()
    torch.testing.assert_close(grad_tbptt, lin.weight.grad)
