"""from_norse: each Norse neuron and the spikestack neuron it becomes give identical spikes
and membrane traces within 1e-6 (relative for the mV-scale Izhikevich) over 150 steps."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spikestack import neurons
from spikestack.interop import from_norse
from spikestack.layers import TimeDistributed

nt = pytest.importorskip("norse.torch", reason="needs Norse (pip install --no-deps norse)")

T, SHAPE = 150, (4, 6)


def peer_loop(cell: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    spikes, mems, state = [], [], None
    with torch.no_grad():
        for x_t in x:
            out, state = cell(x_t, state)
            spikes.append(out)
            mems.append(state.v.expand_as(out).clone())
    return torch.stack(spikes), torch.stack(mems)


def our_loop(neuron: neurons.Neuron, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    outs, mems, state = [], [], None
    with torch.no_grad():
        for x_t in x:
            out, state = neuron.step(x_t, state)
            outs.append(out)
            mems.append(neuron.named_state(state)["v"])
        assert torch.equal(neuron(x), torch.stack(outs))
    return torch.stack(outs), torch.stack(mems)


def check(cell: nn.Module, x: torch.Tensor, cls: type, *, atol=1e-6, rtol=0.0, spiking=True):
    ours = from_norse(cell)
    assert type(ours) is cls
    theirs, their_mem = peer_loop(cell, x)
    out, our_mem = our_loop(ours, x)
    if spiking:
        assert theirs.sum() > 20 and (theirs == 0).sum() > 20, "a test with no spikes"
        assert torch.equal(out, theirs)
    torch.testing.assert_close(our_mem, their_mem, atol=atol, rtol=rtol)
    return ours


def test_lif_box() -> None:
    torch.manual_seed(0)
    x = torch.rand(T, *SHAPE) * 3
    check(nt.LIFBoxCell(nt.LIFBoxParameters(tau_mem_inv=torch.tensor(200.0))), x, neurons.LIF)


def test_lif_with_synaptic_current() -> None:
    torch.manual_seed(1)
    x = torch.rand(T, *SHAPE) * 0.6
    check(nt.LIFCell(), x, neurons.CUBALIF)


def test_li_box_readout() -> None:
    torch.manual_seed(2)
    x = torch.randn(T, *SHAPE)
    cell = nt.LIBoxCell(
        nt.LIBoxParameters(tau_mem_inv=torch.tensor(50.0), v_leak=torch.tensor(0.2))
    )
    ours = from_norse(cell)
    their_v = torch.stack([s for s in _li_box_trace(cell, x)])
    torch.testing.assert_close(ours(x), their_v, atol=1e-6, rtol=0)


def _li_box_trace(cell: nn.Module, x: torch.Tensor):
    state = None
    with torch.no_grad():
        for x_t in x:
            v, state = cell(x_t, state)
            yield v


def test_lif_ex_is_eif_with_a_current() -> None:
    torch.manual_seed(3)
    x = torch.rand(T, *SHAPE) * 0.5
    check(nt.LIFExCell(), x, neurons.EIF)


def test_lif_adex_is_adex() -> None:
    torch.manual_seed(4)
    x = torch.rand(T, *SHAPE) * 0.8
    ours = check(nt.LIFAdExCell(), x, neurons.AdEx)
    assert ours.tau == pytest.approx(10.0) and ours.tau_w == pytest.approx(500.0)


def test_izhikevich_tonic_spiking() -> None:
    from norse.torch.functional.izhikevich import tonic_spiking

    torch.manual_seed(5)
    x = 4 + torch.rand(400, *SHAPE) * 8
    ours = check(nt.IzhikevichCell(tonic_spiking), x, neurons.Izhikevich, atol=0.0, rtol=1e-6)
    assert (ours.a, ours.b, ours.c, ours.d, ours.v_init) == (0.02, 0.2, -65.0, 6.0, -70.0)


def test_sequential_with_lift_and_sequence_modules() -> None:
    torch.manual_seed(6)
    peer = nt.SequentialState(nt.Lift(nn.Linear(5, 8)), nt.LIF(), nn.Linear(8, 3), nt.LIF())
    ours = from_norse(peer)
    assert isinstance(ours[0], TimeDistributed) and ours[0].module is peer[0].lifted_module
    x = torch.rand(60, 2, 5) * 4
    with torch.no_grad():
        theirs, _ = peer(x)
        assert theirs.sum() > 0 and torch.equal(ours(x), theirs)


def test_unmapped_raise_naming_them() -> None:
    with pytest.raises(ValueError, match="Norse LIFRefracCell: neuron type LIFRefracCell"):
        from_norse(nt.LIFRefracCell())
    with pytest.raises(ValueError, match="threshold method 'tanh'"):
        from_norse(nt.LIFBoxCell(nt.LIFBoxParameters(method="tanh")))
    with pytest.raises(ValueError, match="v_leak=0.5 != v_reset=0.0"):
        from_norse(nt.LIFBoxCell(nt.LIFBoxParameters(v_leak=torch.tensor(0.5))))
    with pytest.raises(ValueError, match="one per neuron"):
        from_norse(nt.LIFBoxCell(nt.LIFBoxParameters(tau_mem_inv=torch.full((3,), 100.0))))


def test_li_with_synaptic_current_is_cubali() -> None:
    torch.manual_seed(8)
    x = torch.randn(T, *SHAPE)
    cell = nt.LICell(nt.LIParameters(tau_mem_inv=torch.tensor(50.0), v_leak=torch.tensor(0.1)))
    ours = from_norse(cell)
    assert type(ours) is neurons.CUBALI
    theirs = torch.stack(list(_li_box_trace(cell, x)))
    torch.testing.assert_close(ours(x), theirs, atol=1e-6, rtol=0)
    sequence = nt.LI(nt.LIParameters(tau_mem_inv=torch.tensor(50.0)))
    with torch.no_grad():
        their_seq, _ = sequence(x)
    torch.testing.assert_close(from_norse(sequence)(x), their_seq, atol=1e-6, rtol=0)
