"""PSN family: closed form, causality of the masked PSN, sliding PSN streaming and Toeplitz equivalence."""

from __future__ import annotations

import math
import pickle

import pytest
import torch

import spikestack
from spikestack.functional import psn as P
from spikestack.neurons import (
    PSN,
    MaskedPSN,
    ProgressiveMasking,
    SlidingPSN,
    create_neuron,
    masking_factor_at,
)
from spikestack.surrogates import Sigmoid


def test_psn_equals_closed_form() -> None:
    torch.manual_seed(0)
    T, B, N = 6, 3, 5
    neuron = PSN(T)
    x = torch.randn(T, B, N, dtype=torch.float64)
    s = neuron(x)
    w, b = neuron.weight.detach().double(), neuron.bias.detach().double()
    expected = torch.zeros(T, B, N, dtype=torch.float64)
    for t in range(T):
        h = sum(w[t, j] * x[j] for j in range(T)) + b[t]
        expected[t] = (h >= 0).double()
    assert torch.equal(s, expected)


def test_psn_paper_init() -> None:
    neuron = PSN(16)
    bound = 1 / math.sqrt(16)
    assert neuron.weight.abs().max() <= bound
    assert torch.all(neuron.bias == -1.0)


def test_psn_gradients_reach_weight_and_bias() -> None:
    neuron = PSN(4, surrogate=Sigmoid())
    x = torch.randn(4, 2, 3, requires_grad=True)
    neuron(x).sum().backward()
    assert neuron.weight.grad is not None and neuron.weight.grad.abs().sum() > 0
    assert neuron.bias.grad is not None and neuron.bias.grad.abs().sum() > 0
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_psn_wrong_length_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="T=4"):
        PSN(4)(torch.randn(5, 2, 3))
    with pytest.raises(ValueError, match=r"\[T, B"):
        PSN(4)(torch.randn(4))
    with pytest.raises(ValueError, match="T must be an int"):
        PSN(0)


def test_masked_psn_lambda1_is_causal_with_k_window() -> None:
    torch.manual_seed(1)
    T, k = 8, 3
    neuron = MaskedPSN(k, T, masking_factor=1.0)
    x = torch.randn(T, 4, 6)
    s = neuron(x)
    for t in range(T - 1):
        y = x.clone()
        y[t + 1 :] = torch.randn_like(y[t + 1 :]) * 10
        assert torch.equal(neuron(y)[: t + 1], s[: t + 1])
    # the window: inputs older than k steps do not matter either
    y = x.clone()
    y[0] = 100.0
    assert torch.equal(neuron(y)[k:], s[k:])


def test_masked_psn_lambda_blends_mask() -> None:
    neuron = MaskedPSN(2, 4, masking_factor=0.25)
    w = neuron.weight.detach()
    expected = w * (0.25 * P.band_mask(4, 2) + 0.75)
    assert torch.allclose(neuron.masked_weight(), expected)
    neuron.set_masking_factor(0.0)
    assert torch.equal(neuron.masked_weight(), w)
    with pytest.raises(ValueError, match="lambda"):
        neuron.set_masking_factor(1.5)


def test_progressive_masking_schedule() -> None:
    model = torch.nn.Sequential(MaskedPSN(2, 4), torch.nn.Identity(), MaskedPSN(3, 4))
    schedule = ProgressiveMasking(model, warmup_steps=4)
    values = [schedule.step() for _ in range(6)]
    assert values == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert float(model[0].masking_factor) == 1.0 and float(model[2].masking_factor) == 1.0
    assert masking_factor_at(2, warmup_steps=8) == 0.25
    with pytest.raises(ValueError, match="no MaskedPSN"):
        ProgressiveMasking(torch.nn.Linear(2, 2), warmup_steps=3)


def test_sliding_psn_streaming_equals_batch_and_chunks() -> None:
    torch.manual_seed(2)
    neuron = SlidingPSN(3, exp_init=False)
    x = torch.randn(10, 2, 4) * 2
    full = neuron(x)
    state = None
    outs = []
    for t in range(10):
        s_t, state = neuron.step(x[t], state)
        outs.append(s_t)
    assert torch.equal(torch.stack(outs), full)
    stateful = SlidingPSN(3, exp_init=False, stateful=True)
    stateful.load_state_dict(neuron.state_dict())
    chunks = torch.cat([stateful(x[:4]), stateful(x[4:])])
    assert torch.equal(chunks, full)
    spikestack.reset(stateful)
    assert stateful.state is None
    assert torch.equal(stateful(x[4:]), neuron(x[4:]))


def test_sliding_psn_equals_masked_psn_with_toeplitz_weights() -> None:
    torch.manual_seed(3)
    T, k = 9, 4
    sliding = SlidingPSN(k, exp_init=False)
    masked = MaskedPSN(k, T, masking_factor=1.0)
    w, b = sliding.toeplitz(T)
    with torch.no_grad():
        masked.weight.copy_(w)
        masked.bias.copy_(b)
    x = torch.randn(T, 3, 5, dtype=torch.float64)
    h_sliding = P.sliding_psn(x, sliding.weight, sliding.bias, surrogate=Sigmoid())[0]
    assert torch.equal(sliding(x), masked(x))
    # Toeplitz entries: W[i, j] = w[k-1-(i-j)] within the band
    assert w[5, 5] == sliding.weight[k - 1] and w[5, 2] == sliding.weight[0] and w[5, 1] == 0
    assert h_sliding.shape == x.shape


def test_sliding_psn_exp_init_and_any_length() -> None:
    neuron = SlidingPSN(4)
    assert torch.allclose(neuron.weight, torch.tensor([0.125, 0.25, 0.5, 1.0]))
    for T in (1, 3, 50):
        assert neuron(torch.rand(T, 2, 3)).shape == (T, 2, 3)
    with pytest.raises(ValueError, match="history"):
        neuron.step(torch.rand(2, 3), torch.zeros(2, 2, 3))


def test_psn_family_pickles_and_registers() -> None:
    for name, kwargs in [
        ("psn", {"T": 4}),
        ("masked_psn", {"k": 2, "T": 4}),
        ("sliding_psn", {"k": 2}),
    ]:
        neuron = create_neuron(name, **kwargs)
        clone = pickle.loads(pickle.dumps(neuron))
        x = torch.randn(4, 2, 3)
        assert torch.equal(clone(x), neuron(x))
