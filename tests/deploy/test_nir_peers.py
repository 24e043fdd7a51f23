"""spikestack, snnTorch and Norse exchange NIR graphs both ways and agree where their
neurons do.

snnTorch's Leaky is U[t] = beta U[t-1] + I[t]; spikestack's LIF without decay_input is
H = V - V / tau + X, the same with beta = 1 - 1/tau, which is what NIR says either way
(tau = tau_steps dt, r = tau_steps). Resets: snnTorch's "zero" (with its default
reset_delay) zeroes U before the next step's leak, as spikestack's hard reset; its default
"subtract" removes the threshold after the leak, which NIR cannot say (its LIF resets to
v_reset) and snnTorch exports as a reset to zero. Norse's LIFBoxCell is spikestack's LIF
with decay_input (r = 1). Skipped without the peers.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from spikestack.deploy import from_nir, to_nir
from spikestack.layers import TimeDistributed
from spikestack.neurons import LIF

pytest.importorskip("nirtorch", reason="needs the peers extra (pip install 'spikestack[peers]')")
import_nir = pytest.importorskip(
    "snntorch.import_nir", reason="needs the peers extra (pip install 'spikestack[peers]')"
)
snn = pytest.importorskip("snntorch")
nir = pytest.importorskip("nir")
from snntorch.export_nir import export_to_nir  # noqa: E402  (after the skip)


def test_snntorch_runs_our_graph_with_the_same_spikes() -> None:
    torch.manual_seed(0)
    ours = nn.Sequential(
        TimeDistributed(nn.Linear(6, 5)), LIF(tau=4.0, decay_input=False),
        TimeDistributed(nn.Linear(5, 4)), LIF(tau=2.0, decay_input=False),
    ).eval()  # fmt: skip
    with torch.no_grad():  # positive weights: both layers spike
        for layer in (ours[0].module, ours[2].module):
            layer.weight.uniform_(0.0, 0.6)
            layer.bias.zero_()
    x = torch.rand(20, 3, 6)
    graph = to_nir(ours, x)
    theirs = import_nir.import_from_nir(graph)
    leaky = [m for m in theirs.modules() if type(m).__name__ == "Leaky"]
    assert [float(m.beta.flatten()[0]) for m in leaky] == [0.75, 0.5]
    with torch.no_grad():
        expected = []
        spikes = x
        for module in ours:
            spikes = module(spikes)
            if isinstance(module, LIF):
                expected.append(spikes)
        state = None
        outputs = []
        for t in range(x.shape[0]):
            out, state = theirs(x[t], state)
            outputs.append(out)
    got = torch.stack(outputs)
    assert 0 < expected[-1].mean() < 1 and 0 < expected[0].mean() < 1
    assert torch.equal(got, expected[-1])


def snntorch_net(reset: str) -> nn.Sequential:
    """Two Leaky layers (beta 0.75 and 0.5, per neuron: snnTorch exports scalar betas with a
    shape NIR's type check rejects) over positive weights, so both layers spike."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(6, 5),
        snn.Leaky(beta=torch.full((5,), 0.75), threshold=torch.ones(5), init_hidden=True,
                  reset_mechanism=reset),
        nn.Linear(5, 4),
        snn.Leaky(beta=torch.full((4,), 0.5), threshold=torch.ones(4), init_hidden=True,
                  output=True, reset_mechanism=reset),
    )  # fmt: skip
    with torch.no_grad():
        for layer in (net[0], net[2]):
            layer.weight.uniform_(0.0, 0.6)
            layer.bias.zero_()
    return net


def run_snntorch(net: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    from snntorch import utils

    utils.reset(net)
    with torch.no_grad():
        return torch.stack([net(x_t)[0] for x_t in x])


def test_a_graph_snntorch_exports_runs_in_spikestack_with_the_same_spikes() -> None:
    net = snntorch_net("zero")
    ours = from_nir(export_to_nir(net, torch.zeros(1, 6), ignore_dims=[0]))
    neurons = [m for m in ours if isinstance(m, LIF)]
    assert [m.tau for m in neurons] == [pytest.approx(4.0), pytest.approx(2.0)]
    assert not any(m.decay_input for m in neurons)
    x = torch.rand(25, 3, 6)
    theirs, mine = run_snntorch(net, x), ours(x)
    assert 0 < theirs.mean() < 1
    assert torch.equal(mine, theirs)


def test_snntorch_subtract_reset_differs_exactly_by_the_reset() -> None:
    net = snntorch_net("subtract")  # snnTorch's default
    graph = export_to_nir(net, torch.zeros(1, 6), ignore_dims=[0])
    assert all(np.all(n.v_reset == 0) for n in graph.nodes.values() if isinstance(n, nir.LIF))
    first = nn.Sequential(net[0], net[1])  # one layer: its input is the same in both
    x = torch.rand(25, 3, 6)
    theirs = run_snntorch(nn.Sequential(*first, _Output()), x)
    ours = from_nir(export_to_nir(first, torch.zeros(1, 6), ignore_dims=[0]))(x)
    assert not torch.equal(ours, theirs)  # spikestack imports a reset to zero
    # snnTorch's rule U = beta U + I - s thr (threshold removed after the leak) gives its
    # spikes; the same loop resetting U to zero gives ours
    current = net[0](x).detach()
    for rule, expected in (("subtract", theirs), ("zero", ours)):
        u, spikes = torch.zeros(3, 5), []
        s = torch.zeros(3, 5)
        for i_t in current:
            u = 0.75 * u * (1 - s) + i_t if rule == "zero" else 0.75 * u + i_t - s
            s = (u > 1.0).float()
            spikes.append(s)
        assert torch.equal(torch.stack(spikes), expected), rule


class _Output(nn.Module):
    """Gives run_snntorch the (spikes, ...) tuple of an output layer."""

    def forward(self, spikes: torch.Tensor) -> tuple[torch.Tensor, None]:
        return spikes, None


def norse_net() -> tuple[object, nn.Module]:
    """Norse's LIFBoxCell (1/tau_mem_inv = 4 and 2 steps of 1e-4 s) after Linear layers;
    per-neuron v_leak, which its exporter needs for NIR's shape check."""
    nt = pytest.importorskip("norse.torch", reason="needs Norse (pip install --no-deps norse)")
    torch.manual_seed(0)
    cells = [
        nt.LIFBoxCell(
            nt.LIFBoxParameters(tau_mem_inv=torch.full((n,), inv), v_th=torch.ones(n),
                                v_leak=torch.zeros(n)),
            dt=1e-4,
        )
        for n, inv in ((5, 2500.0), (4, 5000.0))
    ]  # fmt: skip
    net = nt.SequentialState(nn.Linear(6, 5), cells[0], nn.Linear(5, 4), cells[1])
    with torch.no_grad():
        for layer in (net[0], net[2]):
            layer.weight.uniform_(0.0, 1.2)
            layer.bias.zero_()
    return nt, net


def run_norse(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    state, out = None, []
    with torch.no_grad():
        for x_t in x:
            z, state = net(x_t, state)
            out.append(z)
    return torch.stack(out)


def test_norse_runs_our_graph_with_the_same_spikes() -> None:
    nt, _ = norse_net()
    torch.manual_seed(1)
    ours = nn.Sequential(
        TimeDistributed(nn.Linear(6, 5)), LIF(tau=4.0), TimeDistributed(nn.Linear(5, 4)),
        LIF(tau=2.0),
    ).eval()  # fmt: skip
    with torch.no_grad():
        for layer in (ours[0].module, ours[2].module):
            layer.weight.uniform_(0.0, 1.2)
            layer.bias.zero_()
    x = torch.rand(30, 3, 6)
    # Norse's LIFBoxCell: v += dt tau_mem_inv (v_leak - v + i), our LIF with decay_input
    theirs = nt.from_nir(to_nir(ours, x), dt=1e-4)
    expected = ours(x)
    assert 0 < expected.mean() < 1
    assert torch.equal(run_norse(theirs, x), expected)


def test_a_graph_norse_exports_runs_in_spikestack_with_the_same_spikes() -> None:
    nt, net = norse_net()
    graph = nt.to_nir(net, torch.zeros(1, 6), dt=1e-4)
    # Norse 1.1 writes tau = dt / tau_mem_inv: 4e-8 s, not the 4e-4 s it simulates
    (lif, *_) = (n for n in graph.nodes.values() if isinstance(n, nir.LIF))
    assert np.allclose(lif.tau, 1e-4 / 2500.0)
    with pytest.raises(ValueError, match="is 0.0004 steps of dt = 0.0001 s"):
        from_nir(graph, dt=1e-4)
    # so its steps are tau / dt²: read with dt = 1e-8 the graph is Norse's network exactly
    ours = from_nir(graph, dt=1e-8)
    x = torch.rand(30, 3, 6)
    theirs = run_norse(net, x)
    assert 0 < theirs.mean() < 1
    assert torch.equal(ours(x), theirs)
