"""CUBALIF: its equations by hand, and how its immediate reset differs from snnTorch's Synaptic
(tests/interop/test_snntorch.py shows reset_delay=True equal to it)."""

from __future__ import annotations

import pytest
import torch

from spikestack.neurons import CUBALIF


def test_current_then_membrane_by_hand() -> None:
    x = torch.tensor([1.0, 0.0, 0.0, 2.0]).reshape(4, 1)
    out, (v, i) = CUBALIF(tau=2.0, tau_syn=4.0, v_threshold=1.5)._run(x, None)
    # I: 1, 0.75, 0.5625, 2.421875; V: 1, 1.25, 1.1875, 3.015625 -> fires at step 3
    assert out.flatten().tolist() == [0.0, 0.0, 0.0, 1.0]
    assert float(i[0]) == pytest.approx(0.5625 * 0.75 + 2.0)
    assert float(v[0]) == 0.0  # hard reset
    soft, (v_soft, _) = CUBALIF(tau=2.0, tau_syn=4.0, v_threshold=1.5, v_reset=None)._run(x, None)
    assert float(v_soft[0]) == pytest.approx(1.1875 / 2 + 2.421875 - 1.5)
    with pytest.raises(ValueError, match="tau_syn"):
        CUBALIF(tau_syn=1.0)


def run_synaptic(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    snn = pytest.importorskip("snntorch", reason="needs the peers extra")
    lif = snn.Synaptic(alpha=0.75, beta=0.5, threshold=1.0, reset_mechanism="zero")
    syn, mem = lif.init_synaptic()
    spikes, mems = [], []
    with torch.no_grad():
        for x_t in x:
            s, syn, mem = lif(x_t, syn, mem)
            spikes.append(s)
            mems.append(mem.clone())
    return torch.stack(spikes), torch.stack(mems)


def run_ours(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    neuron = CUBALIF(tau=2.0, tau_syn=4.0)  # beta = 1 - 1/tau, alpha = 1 - 1/tau_syn
    state, spikes, mems = None, [], []
    for x_t in x:
        s, state = neuron.step(x_t, state)
        spikes.append(s)
        mems.append(state[0])
    return torch.stack(spikes), torch.stack(mems)


def test_snntorch_synaptic_below_threshold_and_up_to_the_first_spike() -> None:
    torch.manual_seed(0)
    quiet = torch.rand(150, 4, 6) * 0.12  # never reaches threshold 1 (steady state 0.96)
    theirs, their_mem = run_synaptic(quiet)
    ours, our_mem = run_ours(quiet)
    assert theirs.sum() == 0 and ours.sum() == 0
    torch.testing.assert_close(our_mem, their_mem, atol=1e-6, rtol=0)
    # with spikes: identical up to each neuron's first spike. After it snnTorch's Synaptic
    # "zero" reset also discards the next step's charge (mem is 0 one step longer), a
    # one-step refractory period that spikestack's CUBALIF does not have
    loud = torch.rand(150, 4, 6) * 0.6
    theirs, _ = run_synaptic(loud)
    ours, _ = run_ours(loud)
    first = theirs.argmax(0)  # step of each neuron's first spike
    steps = torch.arange(150).reshape(-1, 1, 1)
    upto = steps <= first
    assert theirs.sum() > 0 and torch.equal(ours[upto], theirs[upto])
    assert not torch.equal(ours, theirs)
