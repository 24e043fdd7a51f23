"""The neuron protocol, swept over every registered neuron: one base, declared options and
state, rest by default, streaming where the math allows, resets, pickles, monitors see it."""

from __future__ import annotations

import inspect
import pickle

import pytest
import torch
from torch import nn

import spikestack
from spikestack.analysis import FiringRateMonitor
from spikestack.layers import TimeDistributed
from spikestack.models import create_model
from spikestack.models._blocks import NeuronSpec
from spikestack.neurons import Neuron, create_neuron, list_neurons, neuron_class

T = 6
# the options a neuron cannot be built without (everything else has a default)
REQUIRED = {"psn": {"T": T}, "masked_psn": {"k": 2, "T": T}, "sliding_psn": {"k": 3}}


def build(name: str, **kwargs: object) -> Neuron:
    return create_neuron(name, **{**REQUIRED.get(name, {}), **kwargs})


def every_neuron() -> list[str]:
    names = list_neurons()
    assert {"if", "lif", "plif", "alif", "liaf", "ttfs", "psn", "masked_psn", "sliding_psn"} <= set(
        names
    )
    return names


@pytest.mark.parametrize("name", every_neuron())
def test_declared_options_are_the_constructor_keywords(name: str) -> None:
    cls = neuron_class(name)
    assert issubclass(cls, Neuron)
    params = inspect.signature(cls.__init__).parameters
    taken = {n for n, p in params.items() if n != "self" and p.kind is not p.VAR_KEYWORD}
    assert not any(p.kind is p.VAR_KEYWORD for p in params.values()), "options must be explicit"
    assert cls.options == taken
    assert ("stateful" in cls.options) == cls.streaming
    assert "surrogate" in cls.options


@pytest.mark.parametrize("name", every_neuron())
def test_an_option_the_neuron_does_not_take_raises(name: str) -> None:
    with pytest.raises(ValueError, match=f"neuron '{name}' does not take option.*'tau_mem'"):
        build(name, tau_mem=3.0)
    if "backend" not in neuron_class(name).options:
        with pytest.raises(ValueError, match="'backend'"):
            build(name, backend="auto")
        with pytest.raises(ValueError, match="takes no backend"):
            NeuronSpec(name, dict(REQUIRED.get(name, {})), backend="cpu")


@pytest.mark.parametrize("name", every_neuron())
def test_rest_streaming_state_reset_and_pickle(name: str) -> None:
    torch.manual_seed(0)
    neuron = build(name)
    x = torch.rand(T, 2, 3) * 2
    y = neuron(x)
    assert y.shape == x.shape
    assert torch.equal(neuron(x), y), "a multi-step call must start from rest"
    assert torch.allclose(pickle.loads(pickle.dumps(neuron))(x), y, atol=1e-6)
    if neuron.emits_spikes:
        assert set(y.unique().tolist()) <= {0.0, 1.0}
    if not neuron.streaming:
        assert neuron.state_names == ()
        with pytest.raises(TypeError, match="no step-by-step form"):
            neuron.step(x[0])
        with pytest.raises(ValueError, match="does not take option.*'stateful'"):
            build(name, stateful=True)
        return
    rest = neuron.init_state(x[0])
    named = neuron.named_state(rest)
    assert tuple(named) == neuron.state_names
    assert neuron.state_step_shape(rest) == tuple(x.shape[1:])
    state, outs = None, []
    for t in range(T):
        out, state = neuron.step(x[t], state)
        outs.append(out)
    assert torch.allclose(torch.stack(outs), y, atol=1e-6), "streaming must equal one call"
    # the explicit resting state is the same as starting from None
    out0, _ = neuron.step(x[0], rest)
    assert torch.allclose(out0, y[0], atol=1e-6)
    carry = build(name, stateful=True)
    carry.load_state_dict(neuron.state_dict())
    chunks = torch.cat([carry(x[:2]), carry(x[2:])])
    assert torch.allclose(chunks, y, atol=1e-6), "stateful chunks must equal one call"
    assert carry.state is not None
    carry.detach_state()
    assert all(not t.requires_grad for t in carry.named_state(carry.state).values())
    assert pickle.loads(pickle.dumps(carry)).state is None  # state is runtime data
    with pytest.raises(ValueError, match="spikestack.reset"):
        carry(torch.rand(T, 4, 3))
    assert spikestack.reset(nn.Sequential(carry)) is not None and carry.state is None
    assert torch.allclose(carry(x), y, atol=1e-6)


@pytest.mark.parametrize("name", every_neuron())
def test_the_firing_rate_monitor_records_every_neuron_layer(name: str) -> None:
    """Monitors trust the type: PSN layers are recorded like LIF ones; analog outputs are not
    spikes and are left out."""
    spec = NeuronSpec(name, {"k": 2} if name in ("masked_psn", "sliding_psn") else {}, T=T)
    model = nn.Sequential(
        TimeDistributed(nn.Linear(3, 4)), spec(), TimeDistributed(nn.Linear(4, 4)), spec()
    )
    x = torch.rand(T, 2, 3) * 3
    with FiringRateMonitor(model) as monitor, torch.no_grad():
        y = model(x)
    expected = {"1", "3"} if neuron_class(name).emits_spikes else set()
    assert set(monitor.rates()) == expected
    if expected:
        total = sum(monitor.spike_counts().values())
        with torch.no_grad():
            assert total == float(model[1](model[0](x)).sum() + y.sum())


def test_sew_resnet_with_psn_logs_every_neuron_layer() -> None:
    """The bug this protocol fixes: a PSN model logged 0 layers and a firing rate of 0."""
    model = create_model("sew_resnet_dvsgesture", neuron="psn", T=4)
    neurons = [m for m in model.modules() if isinstance(m, Neuron)]
    with FiringRateMonitor(model) as monitor:
        model(torch.rand(4, 1, 2, 128, 128))
    assert len(neurons) == 15 and len(monitor.rates()) == 15
    assert monitor.mean_rate() > 0
