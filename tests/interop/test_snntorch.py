"""from_snntorch: each snnTorch neuron and the spikestack neuron it becomes give identical
spikes and membrane traces within 1e-6 over 150 steps of random input, stepped the
snnTorch way and run on [T, B, ...] the spikestack way."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spikestack import neurons
from spikestack.interop import from_snntorch
from spikestack.layers import TimeDistributed

snn = pytest.importorskip("snntorch", reason="needs snnTorch (the peers extra)")
surrogate = pytest.importorskip("snntorch.surrogate")
utils = pytest.importorskip("snntorch.utils")

T, SHAPE = 150, (4, 6)


def peer_loop(neuron: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """snnTorch's own loop: spikes and mem per step (init_hidden=False modules)."""
    recurrent = type(neuron).__name__.startswith("R")  # forward(x, spk, *state)
    spikes, mems, state = [], [], None
    with torch.no_grad():
        for x_t in x:
            if state is None:
                out = neuron(x_t)
            else:
                out = neuron(x_t, spikes[-1], *state) if recurrent else neuron(x_t, *state)
            spk, *state = out
            spikes.append(spk)
            mems.append(state[-1].clone())
    return torch.stack(spikes), torch.stack(mems)


def our_loop(neuron: neurons.Neuron, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    spikes, mems, state = [], [], None
    with torch.no_grad():
        for x_t in x:
            s, state = neuron.step(x_t, state)
            spikes.append(s)
            mems.append(neuron.named_state(state)["v"])
    whole = neuron(x)
    assert torch.equal(whole, torch.stack(spikes)), "step loop and [T, B, ...] call differ"
    return torch.stack(spikes), torch.stack(mems)


def check(peer: nn.Module, x: torch.Tensor, cls: type, *, mem_of=lambda m, s: m) -> neurons.Neuron:
    ours = from_snntorch(peer)
    assert type(ours) is cls
    their_spikes, their_mem = peer_loop(peer, x)
    our_spikes, our_mem = our_loop(ours, x)
    assert their_spikes.sum() > 20 and (their_spikes == 0).sum() > 20, "a test with no spikes"
    assert torch.equal(our_spikes, their_spikes)
    torch.testing.assert_close(our_mem, mem_of(their_mem, their_spikes), atol=1e-6, rtol=0)
    return ours


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_leaky(reset: str) -> None:
    torch.manual_seed(0)
    x = torch.rand(T, *SHAPE) * 0.6
    peer = snn.Leaky(beta=0.85, threshold=1.2, reset_mechanism=reset)
    # Leaky's zero reset is the immediate hard reset: spikestack keeps the membrane after it
    mem_of = (lambda m, s: m * (1 - s)) if reset == "zero" else (lambda m, s: m)
    ours = check(peer, x, neurons.LIF, mem_of=mem_of)
    assert ours.reset_delay == (reset == "subtract") and ours.detach_reset


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_synaptic(reset: str) -> None:
    torch.manual_seed(1)
    x = torch.rand(T, *SHAPE) * 0.3
    check(snn.Synaptic(alpha=0.8, beta=0.7, reset_mechanism=reset), x, neurons.CUBALIF)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("all_to_all", [False, True])
def test_rleaky_one_to_one_and_all_to_all(reset: str, all_to_all: bool) -> None:
    torch.manual_seed(2)
    x = torch.rand(T, *SHAPE) * 0.6
    if all_to_all:
        peer = snn.RLeaky(beta=0.8, linear_features=SHAPE[-1], reset_mechanism=reset)
    else:
        peer = snn.RLeaky(beta=0.8, all_to_all=False, V=torch.rand(SHAPE[-1]) - 0.5,
                          reset_mechanism=reset)  # fmt: skip
    ours = check(peer, x, neurons.RLIF)
    shared = dict(ours.recurrent.named_parameters())
    for name, param in peer.recurrent.named_parameters():
        assert shared["weight" if name == "V" else name] is param  # the same weights


def test_rleaky_convolutional() -> None:
    torch.manual_seed(3)
    x = torch.rand(60, 2, 3, 5, 5) * 0.6
    peer = snn.RLeaky(beta=0.8, conv2d_channels=3, kernel_size=3)
    ours = from_snntorch(peer)
    their_spikes, their_mem = peer_loop(peer, x)
    our_spikes, our_mem = our_loop(ours, x)
    assert their_spikes.sum() > 20 and torch.equal(our_spikes, their_spikes)
    torch.testing.assert_close(our_mem, their_mem, atol=1e-6, rtol=0)


def test_rsynaptic() -> None:
    torch.manual_seed(4)
    x = torch.rand(T, *SHAPE) * 0.3
    check(snn.RSynaptic(alpha=0.8, beta=0.7, linear_features=SHAPE[-1]), x, neurons.RCUBALIF)


def test_alpha() -> None:
    torch.manual_seed(5)
    x = torch.rand(T, *SHAPE) * 0.5
    check(snn.Alpha(alpha=0.9, beta=0.8), x, neurons.Alpha)


@pytest.mark.parametrize(
    "grad",
    [
        surrogate.atan(alpha=3.0),
        surrogate.fast_sigmoid(slope=10),
        surrogate.sigmoid(slope=5),
        surrogate.straight_through_estimator(),
        surrogate.spike_rate_escape(beta=2, slope=4),
    ],
    ids=["atan", "fast_sigmoid", "sigmoid", "ste", "spike_rate_escape"],
)
def test_gradients_through_time_match(grad) -> None:
    torch.manual_seed(6)
    x = (torch.rand(40, 3, 5) * 0.8).requires_grad_()
    peer = snn.Leaky(beta=0.9, spike_grad=grad)
    spikes, mem = [], None
    for x_t in x:
        s, mem = peer(x_t) if mem is None else peer(x_t, mem)
        spikes.append(s)
    weights = torch.rand(40, 3, 5)
    (g_theirs,) = torch.autograd.grad((torch.stack(spikes) * weights).sum(), x)
    (g_ours,) = torch.autograd.grad((from_snntorch(peer)(x) * weights).sum(), x)
    torch.testing.assert_close(g_ours, g_theirs, atol=1e-5, rtol=1e-5)


def test_sequential_model_same_spikes_and_shared_weights() -> None:
    torch.manual_seed(7)
    peer = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        snn.Leaky(beta=0.9, init_hidden=True),
        nn.Flatten(),
        nn.Linear(4 * 6 * 6, 10),
        snn.Synaptic(alpha=0.8, beta=0.9, init_hidden=True),
    )
    ours = from_snntorch(peer)
    assert isinstance(ours[0], TimeDistributed) and ours[0].module is peer[0]
    x = torch.rand(30, 3, 2, 6, 6) * 2
    with torch.no_grad():
        utils.reset(peer)
        theirs = torch.stack([peer(x_t) for x_t in x])
        assert theirs.sum() > 0
        assert torch.equal(ours(x), theirs)


def test_unmapped_types_and_options_raise_naming_them() -> None:
    with pytest.raises(ValueError, match="snnTorch Lapicque: neuron type Lapicque"):
        from_snntorch(snn.Lapicque(beta=0.9))
    with pytest.raises(ValueError, match="learnable beta"):
        from_snntorch(snn.Leaky(beta=0.9, learn_beta=True))
    with pytest.raises(ValueError, match="one per neuron"):
        from_snntorch(snn.Leaky(beta=torch.rand(5)))
    with pytest.raises(ValueError, match="reset_mechanism='none'"):
        from_snntorch(snn.Leaky(beta=0.9, reset_mechanism="none"))
    with pytest.raises(ValueError, match="surrogate"):
        from_snntorch(snn.Leaky(beta=0.9, spike_grad=surrogate.triangular()))
    with pytest.raises(ValueError, match="own forward"):

        class Net(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.lif = snn.Leaky(beta=0.9)

        from_snntorch(Net())
    with pytest.raises(TypeError, match="nn.Module"):
        from_snntorch("Leaky")
