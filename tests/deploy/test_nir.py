"""NIR export and import: round trips give the same spikes, conventions, and clear refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from spikestack.deploy import NIRNetwork, from_nir, read_nir, to_nir, write_nir
from spikestack.layers import Flatten, TimeDistributed
from spikestack.models import SpikingModel, create_model
from spikestack.models._attention import SpikingSelfAttention
from spikestack.models._blocks import conv_bn, neuron_spec
from spikestack.models.sew_dvs import DVSBlock
from spikestack.neurons import IF, LI, LIF, PLIF

nir = pytest.importorskip("nir")


def chain(bn: bool = False) -> nn.Sequential:
    torch.manual_seed(0)
    layers: list[nn.Module] = [TimeDistributed(nn.Conv2d(2, 4, 3, padding=1, bias=not bn))]
    if bn:
        norm = nn.BatchNorm2d(4)
        with torch.no_grad():
            norm.running_mean.uniform_(-0.2, 0.2)
            norm.running_var.uniform_(0.5, 2.0)
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.1, 0.1)
        layers.append(TimeDistributed(norm))
    layers += [
        LIF(tau=3.0, v_threshold=0.3, decay_input=False),
        TimeDistributed(nn.AvgPool2d(2)),
        TimeDistributed(nn.Conv2d(4, 4, 3, padding=1, bias=False)),
        IF(v_threshold=0.5, v_reset=0.0),
        TimeDistributed(nn.AvgPool2d(2, divisor_override=1)),  # NIR's SumPool2d
        Flatten(),
        TimeDistributed(nn.Linear(4 * 2 * 2, 8)),
        PLIF(init_tau=2.5, v_threshold=0.2),
        TimeDistributed(nn.Linear(8, 3)),
    ]
    return nn.Sequential(*layers).eval()


def run(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """The output and every neuron layer's spikes."""
    spikes: list[torch.Tensor] = []
    hooks = [
        m.register_forward_hook(lambda m, a, out: spikes.append(out))
        for m in model.modules()
        if isinstance(m, (IF, LIF, PLIF))
    ]
    with torch.no_grad():
        out = model(x)
    for h in hooks:
        h.remove()
    return [out, *spikes]


def test_round_trip_through_a_file_gives_the_same_spikes(tmp_path) -> None:
    model = chain()
    x = 2 * torch.rand(6, 3, 2, 8, 8)
    graph = to_nir(model, x)
    write_nir(tmp_path / "net.nir", graph)
    back = from_nir(tmp_path / "net.nir")
    before, after = run(model, x), run(back, x)
    assert len(before) == len(after) == 4 and all(b.sum() > 0 for b in before[1:])
    for b, a in zip(before, after, strict=True):
        assert torch.equal(b, a)
    kinds = [type(n).__name__ for n in read_nir(tmp_path / "net.nir").nodes.values()]
    assert sorted(kinds) == sorted(
        ["Input", "Conv2d", "LIF", "AvgPool2d", "Conv2d", "IF", "SumPool2d", "Flatten", "Affine",
         "LIF", "Affine", "Output"]
    )  # fmt: skip


def test_batchnorm_is_folded_into_the_conv() -> None:
    model = chain(bn=True).double()
    x = 2 * torch.rand(5, 2, 2, 8, 8, dtype=torch.float64)
    graph = to_nir(model, x)
    assert not any("BatchNorm" in type(n).__name__ for n in graph.nodes.values())
    back = from_nir(graph).double()
    before, after = run(model, x), run(back, x)
    torch.testing.assert_close(after[0], before[0], rtol=1e-9, atol=1e-9)
    for b, a in zip(before[1:], after[1:], strict=True):
        assert torch.equal(b, a)


def test_continuous_time_conventions() -> None:
    model = nn.Sequential(
        TimeDistributed(nn.Linear(3, 2)), LIF(tau=4.0, v_reset=-0.1, decay_input=True),
        TimeDistributed(nn.Linear(2, 2, bias=False)), IF(),
    )  # fmt: skip
    graph = to_nir(model, torch.zeros(1, 1, 3), dt=1e-3)
    lif, if_ = (n for n in graph.nodes.values() if isinstance(n, (nir.LIF, nir.IF)))
    assert np.allclose(lif.tau, 4e-3) and np.allclose(lif.r, 1.0)
    assert np.allclose(lif.v_leak, -0.1) and np.allclose(lif.v_reset, -0.1)
    assert np.allclose(if_.r, 1e3) and graph.metadata["dt"] == 1e-3
    assert isinstance(graph.nodes["2"], nir.Linear)
    # a graph from elsewhere (no spikestack metadata): tau / dt gives the steps
    foreign = nir.NIRGraph(
        nodes={
            "in": nir.Input(input_type={"input": np.array([2])}),
            "lif": nir.LIF(tau=np.full(2, 5e-4), r=np.full(2, 5.0), v_leak=np.zeros(2),
                           v_threshold=np.ones(2)),
            "out": nir.Output(output_type={"output": np.array([2])}),
        },
        edges=[("in", "lif"), ("lif", "out")],
    )  # fmt: skip
    (neuron,) = from_nir(foreign, dt=1e-4)
    assert isinstance(neuron, LIF) and neuron.tau == pytest.approx(5.0)
    assert neuron.decay_input is False  # r = tau / dt: snnTorch's Leaky convention


def test_what_nir_cannot_hold_is_refused_by_name() -> None:
    x = torch.rand(2, 1, 1, 8, 8)
    with pytest.raises(ValueError, match=r"body\.6 \(MaxPool2d\).*no max pooling"):
        to_nir(create_model("digits_csnn", channels=2, T=2), x)
    soft = nn.Sequential(TimeDistributed(nn.Linear(3, 2)), IF(v_reset=None))
    with pytest.raises(ValueError, match=r"1 \(IF\) resets softly"):
        to_nir(soft, torch.zeros(1, 1, 3))
    with pytest.raises(ValueError, match="must follow a conv or linear"):
        to_nir(nn.Sequential(TimeDistributed(nn.BatchNorm1d(3))), torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match=r"stem\.2 \(MaxPool2d\).*no max pooling"):
        to_nir(create_model("sew_resnet18", width=4, T=1), torch.zeros(1, 3, 8, 8))
    with pytest.raises(FileNotFoundError, match="no NIR file"):
        from_nir("/nonexistent.nir")
    graph = to_nir(nn.Sequential(TimeDistributed(nn.Linear(3, 2)), LIF()), torch.zeros(1, 1, 3))
    graph.nodes["1"].v_threshold = np.array([1.0, 2.0])
    with pytest.raises(ValueError, match="v_threshold differs between neurons"):
        from_nir(graph)


class Residual(SpikingModel):
    """SEW (ADD after the neuron) and spiking (add before it) blocks of the zoo, average
    pooling and a linear readout: what a NIR graph expresses as edges summed into a node."""

    def __init__(self, block: str = "sew", connect: str = "ADD") -> None:
        super().__init__(T=4, input_layout="sequence", mean_output=False)
        spec = neuron_spec("lif", {"v_threshold": 0.1, "tau": 2.0}, "atan", "auto")
        self.stem = nn.Sequential(conv_bn(2, 4), spec())
        self.sew = DVSBlock(4, spec, block=block, connect=connect)
        self.spiking = DVSBlock(4, spec, block="spiking", connect="ADD")
        self.head = nn.Sequential(
            TimeDistributed(nn.AdaptiveAvgPool2d(2)), Flatten(), TimeDistributed(nn.Linear(16, 3))
        )

    def forward_sequence(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.spiking(self.sew(self.stem(x))))


def randomised(model: nn.Module) -> nn.Module:
    torch.manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
    return model.eval()


def test_residual_adds_round_trip_as_summed_edges(tmp_path) -> None:
    model = randomised(Residual()).double()
    x = (torch.rand(4, 3, 2, 8, 8) < 0.5).double()
    graph = to_nir(model, x)
    into: dict[str, list[str]] = {}
    for a, b in graph.edges:
        into.setdefault(b, []).append(a)
    # SEW: the block's output (its neuron + its input) feeds both the next conv and the add
    assert sorted(into["spiking.conv1.0.module.0"]) == ["sew.sn2", "stem.1"]
    assert sorted(into["spiking.sn2"]) == ["sew.sn2", "spiking.conv2.module.0", "stem.1"]
    assert isinstance(graph.nodes["head.0"], nir.AvgPool2d)  # adaptive 8x8 -> 2x2
    assert not any("BatchNorm" in type(n).__name__ for n in graph.nodes.values())
    write_nir(tmp_path / "res.nir", graph)
    back = from_nir(tmp_path / "res.nir").double()
    assert isinstance(back, NIRNetwork)
    before, after = run(model, x), run(back, x)
    assert len(before) == len(after) == 6 and all(0 < b.mean() < 1 for b in before[1:])
    torch.testing.assert_close(after[0], before[0], rtol=1e-9, atol=1e-9)
    for b, a in zip(before[1:], after[1:], strict=True):
        assert torch.equal(b, a)


def test_products_of_spikes_and_attention_are_refused_by_name() -> None:
    x = torch.zeros(2, 1, 2, 8, 8)
    with pytest.raises(ValueError, match=r"sew \(DVSBlock\): the operation 'mul' has no NIR"):
        to_nir(Residual(connect="AND"), x)
    spec = neuron_spec("lif", None, "atan", "auto")
    attention = nn.Sequential(TimeDistributed(nn.Conv2d(2, 8, 1)), SpikingSelfAttention(8, 2, spec))
    with pytest.raises(ValueError, match=r"1 \(SpikingSelfAttention\): the operation 'reshape'"):
        to_nir(attention, torch.zeros(2, 1, 2, 4, 4))
    with pytest.raises(ValueError, match=r"did not run on the sample input of shape \(2, 1, 3\)"):
        to_nir(attention, torch.zeros(2, 1, 3))


def test_graphs_with_loops_or_loose_nodes_are_refused() -> None:
    def graph(edges: list[tuple[str, str]]) -> object:
        lif = nir.LIF(tau=np.full(2, 2e-4), r=np.ones(2), v_leak=np.zeros(2),
                      v_threshold=np.ones(2))  # fmt: skip
        return nir.NIRGraph(
            nodes={"in": nir.Input(input_type={"input": np.array([2])}), "a": lif, "b": lif,
                   "out": nir.Output(output_type={"output": np.array([2])})},
            edges=edges,
        )  # fmt: skip

    with pytest.raises(ValueError, match="loops back"):
        from_nir(graph([("in", "a"), ("a", "b"), ("b", "a"), ("b", "out")]))
    with pytest.raises(ValueError, match="2 Input nodes"):  # NIR gives a loose b its own
        from_nir(graph([("in", "a"), ("a", "out")]))
    merged = from_nir(graph([("in", "a"), ("in", "b"), ("a", "out"), ("b", "out")]))
    assert isinstance(merged, NIRNetwork)
    out = merged(torch.full((3, 1, 2), 1.5))  # each LIF charges 0.75, 1.125 (fires), 0.75
    assert out.shape == (3, 1, 2) and out[1].eq(2).all() and out.sum() == 4


def test_a_leaky_integrator_readout_round_trips() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        TimeDistributed(nn.Linear(4, 6)), LIF(tau=3.0, v_threshold=0.3),
        TimeDistributed(nn.Linear(6, 2)), LI(5.0, v_leak=0.1, decay_input=False),
    ).eval()  # fmt: skip
    x = torch.rand(8, 2, 4)
    graph = to_nir(model, x, dt=1e-3)
    li = graph.nodes["3"]
    assert isinstance(li, nir.LI) and np.allclose(li.tau, 5e-3) and np.allclose(li.r, 5.0)
    back = from_nir(graph)
    assert isinstance(back[3], LI) and back[3].v_leak == pytest.approx(0.1)
    with torch.no_grad():
        assert torch.equal(back(x), model(x)) and model(x).std() > 0
