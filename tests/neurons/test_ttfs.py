"""TTFS: at most one spike per neuron per sample; balanced init; decoder; average pooling."""

from __future__ import annotations

import pickle

import pytest
import torch
from torch import nn

import spikestack
from spikestack.layers import (
    TemporalWeightingDecoder,
    TimeDistributed,
    check_ttfs_pooling,
    ttfs_avg_pool2d,
)
from spikestack.neurons import TTFS, create_neuron, ttfs_init_
from spikestack.surrogates import Sigmoid


def _single_spike_input(T: int, B: int, N: int, rate: float = 0.5) -> torch.Tensor:
    fire = torch.rand(B, N) < rate
    times = torch.randint(0, T, (B, N))
    x = torch.zeros(T, B, N)
    x[times, torch.arange(B)[:, None], torch.arange(N)[None]] = fire.float()
    return x


def test_at_most_one_spike_per_neuron_and_first_crossing_time() -> None:
    torch.manual_seed(0)
    x = torch.rand(20, 8, 16) * 0.6  # strong drive: a LIF/IF would fire many times
    s = TTFS()(x)
    assert s.sum(0).max() == 1
    assert torch.all((s == 0) | (s == 1))
    v = x.cumsum(0)
    first = (v >= 1.0).float().argmax(0)
    crossed = (v >= 1.0).any(0)
    assert torch.equal(s.sum(0).bool(), crossed)
    assert torch.equal(s.argmax(0)[crossed], first[crossed])


def test_streaming_equals_multi_step_and_refractory_across_chunks() -> None:
    torch.manual_seed(1)
    neuron = TTFS(stateful=True)
    x = torch.rand(10, 4, 5)
    full = TTFS()(x)
    state, outs = None, []
    for t in range(10):
        s, state = neuron.step(x[t], state)
        outs.append(s)
    assert torch.equal(torch.stack(outs), full)
    chunks = torch.cat([neuron(x[:4]), neuron(x[4:])])
    assert torch.equal(chunks, full)
    assert neuron(x).sum() == 0  # still the same sample: every neuron that could fire has fired
    spikestack.reset(neuron)
    assert torch.equal(neuron(x), full)


def test_ttfs_init_keeps_deep_layers_firing() -> None:
    torch.manual_seed(2)
    layers: list[nn.Module] = []
    for _ in range(6):
        layers += [TimeDistributed(nn.Linear(128, 128)), TTFS()]
    model = nn.Sequential(*layers)
    x = _single_spike_input(8, 32, 128)
    with torch.no_grad():
        silent = model(x).sum(0).mean()  # default init: information diminishes to nothing
        ttfs_init_(model)
        rate = model(x).sum(0).mean()
    assert silent < 0.05
    assert 0.25 < rate < 0.9
    with pytest.raises(ValueError, match="no Linear or Conv"):
        ttfs_init_(nn.ReLU())


def test_decoder_weights_receive_gradients_and_favour_early_spikes() -> None:
    torch.manual_seed(3)
    T = 6
    fc = TimeDistributed(nn.Linear(10, 3))
    neuron = TTFS(surrogate=Sigmoid())
    decoder = TemporalWeightingDecoder(T)
    x = torch.rand(T, 4, 10)
    logits = decoder(neuron(fc(x) * 2))
    assert logits.shape == (4, 3)
    nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 0])).backward()
    assert decoder.weight.grad is not None and decoder.weight.grad.abs().sum() > 0
    assert fc.module.weight.grad is not None and fc.module.weight.grad.abs().sum() > 0
    early, late = torch.zeros(T, 1, 1), torch.zeros(T, 1, 1)
    early[1], late[4] = 1, 1
    assert decoder(early) > decoder(late)
    assert torch.allclose(TemporalWeightingDecoder(T, init="uniform")(x), x.mean(0))
    with pytest.raises(ValueError, match="T=6"):
        decoder(torch.rand(5, 2))


def test_average_pooling_keeps_single_spike_max_pooling_does_not() -> None:
    x = torch.zeros(4, 1, 1, 2, 2)
    for t, (i, j) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        x[t, 0, 0, i, j] = 1  # four inputs of one window, each firing once at a different time
    avg = ttfs_avg_pool2d(2)(x)
    mx = TimeDistributed(nn.MaxPool2d(2))(x)
    assert avg.sum(0).max() <= 1
    assert mx.sum(0).max() == 4
    check_ttfs_pooling(nn.Sequential(ttfs_avg_pool2d(2)))
    with pytest.raises(ValueError, match="average pooling"):
        check_ttfs_pooling(nn.Sequential(TimeDistributed(nn.MaxPool2d(2))))


def test_pickle_registry_and_errors() -> None:
    neuron = create_neuron("ttfs", v_threshold=0.5)
    x = torch.rand(5, 2, 3)
    assert torch.equal(pickle.loads(pickle.dumps(neuron))(x), neuron(x))
    with pytest.raises(ValueError, match="v_threshold"):
        TTFS(v_threshold=0.0)
    with pytest.raises(ValueError, match=r"\[T, B"):
        neuron(torch.rand(3))
