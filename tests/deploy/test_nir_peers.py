"""A graph spikestack exports runs in snnTorch (through its NIR import) with the same spikes.

snnTorch's Leaky is U[t] = beta U[t-1] + I[t] with reset to zero; spikestack's LIF without
decay_input is H = V - V / tau + X, the same with beta = 1 - 1/tau, which is what the
exported NIR node says (tau = tau_steps dt, r = tau_steps). Skipped without the peers.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spikestack.deploy import to_nir
from spikestack.layers import TimeDistributed
from spikestack.neurons import LIF

pytest.importorskip("nirtorch", reason="needs the peers extra (pip install 'spikestack[peers]')")
import_nir = pytest.importorskip(
    "snntorch.import_nir", reason="needs the peers extra (pip install 'spikestack[peers]')"
)


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
