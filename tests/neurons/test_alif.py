"""ALIF: the adaptive threshold against a hand computation; streaming equals multi-step."""

from __future__ import annotations

import math
import pickle

import pytest
import torch

import spikestack
from spikestack.neurons import ALIF, create_neuron


def _hand_alif(xs: list[float], *, tau: float, tau_adapt: float, beta: float, b0: float):
    """Scalar soft-reset ALIF written out step by step."""
    rho = math.exp(-1 / tau_adapt)
    v, a = 0.0, 0.0
    spikes, thresholds = [], []
    for x in xs:
        h = v + (x - v) / tau
        theta = b0 + beta * a
        s = 1.0 if h - theta >= 0 else 0.0
        v = h - theta * s
        a = rho * a + s
        spikes.append(s)
        thresholds.append(theta)
    return spikes, thresholds


def test_alif_threshold_trace_matches_hand_computation() -> None:
    xs = [3.0, 3.0, 3.0, 0.0, 3.0, 3.0, 3.0, 3.0, 0.5, 3.0]
    kwargs = {"tau": 2.0, "tau_adapt": 5.0, "beta": 0.4}
    spikes_ref, thresholds_ref = _hand_alif(xs, b0=1.0, **kwargs)
    neuron = ALIF(**kwargs)
    x = torch.tensor(xs, dtype=torch.float64).reshape(-1, 1, 1)
    state = None
    thresholds = []
    for t in range(len(xs)):
        thresholds.append(float(neuron.threshold(state[1]) if state else 1.0))
        _, state = neuron.step(x[t], state)
    assert thresholds == pytest.approx(thresholds_ref, abs=1e-12)
    assert neuron(x).flatten().tolist() == spikes_ref
    assert max(thresholds) > 1.0  # the threshold actually adapted


def test_alif_adaptation_lowers_the_rate_against_lif() -> None:
    x = torch.full((100, 1, 8), 2.0)
    adaptive = ALIF(tau_adapt=50.0, beta=0.3)(x).sum()
    plain = ALIF(tau_adapt=50.0, beta=0.0)(x).sum()
    assert adaptive < plain


def test_alif_streaming_equals_multi_step_and_stateful_chunks() -> None:
    torch.manual_seed(0)
    neuron = ALIF(beta=0.5, v_reset=0.0)
    x = torch.rand(12, 3, 4) * 3
    full, (v, a) = neuron._run(x, None)
    state = None
    outs = []
    for t in range(12):
        s, state = neuron.step(x[t], state)
        outs.append(s)
    assert torch.equal(torch.stack(outs), full)
    assert torch.equal(state[0], v) and torch.equal(state[1], a)
    stateful = ALIF(beta=0.5, v_reset=0.0, stateful=True)
    assert torch.equal(torch.cat([stateful(x[:5]), stateful(x[5:])]), full)
    spikestack.reset(stateful)
    assert stateful.state is None


def test_alif_gradients_and_errors_and_pickle() -> None:
    x = torch.rand(6, 2, 3, requires_grad=True)
    (ALIF()(x * 3)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="tau_adapt"):
        ALIF(tau_adapt=-1.0)
    with pytest.raises(ValueError, match="beta"):
        ALIF(beta=-0.1)
    with pytest.raises(ValueError, match=r"\[T, B"):
        ALIF()(torch.rand(3))
    neuron = create_neuron("alif", beta=0.2)
    assert torch.equal(pickle.loads(pickle.dumps(neuron))(x.detach()), neuron(x.detach()))
