"""LI, the leaky-integrator readout: its two charge forms by hand, and the peers' integrators."""

from __future__ import annotations

import pytest
import torch

from spikestack.neurons import LI


def test_both_forms_by_hand() -> None:
    x = torch.tensor([1.0, 0.0, 2.0, -1.0]).reshape(4, 1)
    v, expected = 0.5, []
    for x_t in x.flatten().tolist():  # decay_input: V += (X - (V - v_leak)) / tau
        v = v + (x_t - (v - 0.5)) / 4.0
        expected.append(v)
    out = LI(4.0, v_leak=0.5)(x)
    torch.testing.assert_close(out.flatten(), torch.tensor(expected), rtol=0, atol=1e-7)
    v, expected = 0.0, []
    for x_t in x.flatten().tolist():  # without: V += -V / tau + X
        v = v - v / 4.0 + x_t
        expected.append(v)
    out = LI(4.0, decay_input=False)(x)
    torch.testing.assert_close(out.flatten(), torch.tensor(expected), rtol=0, atol=1e-7)
    assert not LI.emits_spikes
    with pytest.raises(ValueError, match="tau must be a finite number > 1"):
        LI(1.0)
    with pytest.raises(ValueError, match="v_leak must be a finite number"):
        LI(2.0, v_leak=float("nan"))


def test_snntorch_leaky_membrane_below_threshold() -> None:
    snn = pytest.importorskip("snntorch", reason="needs the peers extra")
    torch.manual_seed(0)
    x = torch.randn(120, 3, 5)
    leaky = snn.Leaky(beta=0.75, threshold=1e9)  # never fires: the membrane integrates
    mem, trace = leaky.init_leaky(), []
    with torch.no_grad():
        for x_t in x:
            _, mem = leaky(x_t, mem)
            trace.append(mem)
    ours = LI(4.0, decay_input=False)(x)  # beta = 1 - 1/tau
    torch.testing.assert_close(ours, torch.stack(trace), rtol=0, atol=1e-6)


def test_norse_leaky_integrator_box() -> None:
    nt = pytest.importorskip("norse.torch", reason="needs Norse (pip install --no-deps norse)")
    torch.manual_seed(0)
    x = torch.randn(120, 3, 5)
    cell = nt.LIBoxCell(nt.LIBoxParameters(tau_mem_inv=torch.tensor(2500.0)), dt=1e-4)
    state, trace = None, []
    with torch.no_grad():
        for x_t in x:
            v, state = cell(x_t, state)
            trace.append(v)
    ours = LI(4.0)(x)  # tau = 1 / (dt tau_mem_inv)
    torch.testing.assert_close(ours, torch.stack(trace), rtol=0, atol=1e-6)
