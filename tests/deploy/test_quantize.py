"""Fixed-point quantization: the fake-quantized network is exactly its integer twin."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from spikestack.deploy import IntegerNetwork, QuantConfig, QuantLIF, export_integer, quantize
from spikestack.layers import Flatten, TimeDistributed
from spikestack.models import create_model
from spikestack.neurons import IF, LIF, PLIF


def chain() -> nn.Sequential:
    torch.manual_seed(0)
    bn = nn.BatchNorm2d(4)
    with torch.no_grad():
        bn.running_mean.uniform_(-0.2, 0.2)
        bn.running_var.uniform_(0.5, 2.0)
    return nn.Sequential(
        TimeDistributed(nn.Conv2d(2, 4, 3, padding=1, bias=False)), TimeDistributed(bn),
        LIF(tau=2.0, v_threshold=0.5), TimeDistributed(nn.MaxPool2d(2)),
        TimeDistributed(nn.Conv2d(4, 4, 3, padding=1)),
        PLIF(init_tau=3.0, v_threshold=0.4, decay_input=False), Flatten(),
        TimeDistributed(nn.Linear(4 * 4 * 4, 6)), IF(v_threshold=0.3, v_reset=None),
        TimeDistributed(nn.Linear(6, 3)),
    ).eval()  # fmt: skip


def spike_trace(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    found: list[torch.Tensor] = []
    hooks = [
        m.register_forward_hook(lambda m, a, o: found.append(o))
        for m in model.modules()
        if isinstance(m, QuantLIF)
    ]
    with torch.no_grad():
        out = model(x)
    for h in hooks:
        h.remove()
    return [out, *found]


@pytest.mark.parametrize("spec", ["w8v16", "w4v8.4", "w2v16.10"])
def test_the_integer_twin_gives_the_same_spikes_and_outputs(spec: str) -> None:
    config = QuantConfig.parse(spec)
    qmodel = quantize(chain(), config).eval()
    x = 2 * torch.rand(5, 3, 2, 8, 8)
    out, *spikes = spike_trace(qmodel, x)
    assert all(0 < s.mean() < 1 for s in spikes[:2])
    integer = IntegerNetwork(qmodel)(x)
    assert integer.dtype == torch.int64
    assert torch.equal(integer.double(), out * 2.0**config.v_frac_bits)


def test_quantized_values_lie_on_their_grids() -> None:
    qmodel = quantize(chain(), "w4v8.4")
    syn = qmodel[0].module
    q, e = syn.integer_weight()
    assert q.abs().max() <= 7 and (e <= 4).all()
    neuron = qmodel[2]
    assert isinstance(neuron, QuantLIF) and neuron.leak_multiplier == 2**15  # tau 2: a shift
    assert neuron.v_threshold_units == 8 and neuron.v_limits == (-128, 127)
    assert isinstance(qmodel[1], nn.Identity)  # BatchNorm folded into the conv


def test_gradients_flow_straight_through() -> None:
    qmodel = quantize(chain(), "w8v16").train()
    x = 2 * torch.rand(4, 2, 2, 8, 8)
    qmodel(x).sum().backward()
    grads = [p.grad for p in qmodel.parameters()]
    assert all(g is not None for g in grads) and all(torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads[:1])


def test_a_zoo_model_trains_quantized_and_the_original_is_untouched() -> None:
    model = create_model("digits_csnn", channels=4, T=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    qmodel = quantize(model, "w8v16")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    x = torch.rand(2, 3, 1, 8, 8)
    assert qmodel(x).shape == (3, 10)


def test_export_writes_the_integers(tmp_path) -> None:
    qmodel = quantize(chain(), "w8v16")
    path = export_integer(qmodel, tmp_path / "net.npz")
    with np.load(path) as data:
        manifest = json.loads(str(data["manifest"]))
        assert manifest["config"]["weight_bits"] == 8
        kinds = [layer["kind"] for layer in manifest["layers"]]
        assert kinds[:3] == ["QuantSynapse", "Identity", "QuantLIF"]
        assert data["0.weight"].dtype == np.int64 and np.abs(data["0.weight"]).max() <= 127


def test_bad_specs_and_layers_are_named() -> None:
    with pytest.raises(ValueError, match="must look like w8v16"):
        QuantConfig.parse("int8")
    with pytest.raises(ValueError, match="v_frac_bits .* must be below v_bits"):
        QuantConfig(v_bits=8, v_frac_bits=8)
    uneven = nn.Sequential(
        TimeDistributed(nn.AvgPool2d(3)), Flatten(), TimeDistributed(nn.Linear(4, 2))
    )
    uneven = quantize(uneven, "w8v16")
    with pytest.raises(ValueError, match="over 9 values has no exact integer form"):
        IntegerNetwork(uneven)(torch.ones(1, 1, 1, 6, 6))  # 3x3 windows
    with pytest.raises(ValueError, match="ALIF"):
        quantize(nn.Sequential(create_neuron_alif()), "w8v16")
    with pytest.raises(ValueError, match="rounds to 0 units"):
        quantize(nn.Sequential(LIF(v_threshold=0.001)), "w8v8.2")


def test_average_pooling_over_a_power_of_two_window_is_exact() -> None:
    torch.manual_seed(0)
    model = create_model(  # ends in an adaptive average pooling (identity windows at 32x32)
        "event_csnn", channels=4, T=3, mean_output=False, neuron_kwargs={"v_threshold": 0.1}
    )
    qmodel = quantize(model, "w8v16").eval()
    x = (torch.rand(3, 2, 2, 32, 32) < 0.5).float()
    with torch.no_grad():
        expected = qmodel(x) * 2.0**8
    assert expected.std(1).max() > 0  # the samples differ: spikes got through
    assert torch.equal(IntegerNetwork(qmodel)(x).double(), expected.double())
    pooled = quantize(nn.Sequential(TimeDistributed(nn.Conv2d(1, 2, 3)), LIF(v_threshold=0.2),
                                    TimeDistributed(nn.AvgPool2d(2)), Flatten(),
                                    TimeDistributed(nn.Linear(2 * 3 * 3, 2))), "w8v16").eval()  # fmt: skip
    x = torch.rand(4, 2, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(IntegerNetwork(pooled)(x).double(), pooled(x) * 2.0**8)


def create_neuron_alif() -> nn.Module:
    from spikestack.neurons import ALIF

    return ALIF()


def test_spikestack_train_quantize_then_eval_and_the_integer_twin(tmp_path, capsys) -> None:
    from spikestack.cli import main
    from spikestack.train.run import load_run

    out = tmp_path / "run"
    args = ["train", "--quantize", "w4v8.4", "--model-kwargs", '{"channels": 4}', "--epochs", "1"]
    assert main([*args, "--max-samples", "100", "--no-progress", "--out", str(out)]) == 0
    trained = float(capsys.readouterr().out.strip().splitlines()[-1].split(": ")[1])
    assert main(["eval", str(out)]) == 0  # the run's config rebuilds the quantized network
    assert float(capsys.readouterr().out.strip().splitlines()[-1].split(": ")[1]) == trained
    run = load_run(out)
    model = run.engine.model.eval()
    x, _ = next(iter(run.eval_loader()))
    inputs = run.engine.input_transform(x, None)
    with torch.no_grad():
        expected = model(inputs) * 2.0**4
    assert torch.equal(IntegerNetwork(model)(inputs).double(), expected)
    assert main(["train", "--quantize", "8bit", "--out", str(tmp_path / "bad")]) == 2
    assert "must look like w8v16" in capsys.readouterr().err


def test_a_quantized_network_round_trips_through_nir_with_its_integers(tmp_path) -> None:
    from spikestack.deploy import from_nir, read_nir, to_nir, write_nir

    torch.manual_seed(0)
    model = nn.Sequential(
        TimeDistributed(nn.Conv2d(2, 4, 3, padding=1, bias=False)), TimeDistributed(nn.BatchNorm2d(4)),
        LIF(tau=2.0, v_threshold=0.5), TimeDistributed(nn.AvgPool2d(2)),
        TimeDistributed(nn.Conv2d(4, 4, 3, padding=1)), PLIF(init_tau=3.0, v_threshold=0.4),
        Flatten(), TimeDistributed(nn.Linear(4 * 4 * 4, 6)), IF(v_threshold=0.3),
        TimeDistributed(nn.Linear(6, 3)),
    ).eval()  # fmt: skip
    qmodel = quantize(model, "w4v16.8").eval()
    x = 2 * torch.rand(5, 3, 2, 8, 8)
    write_nir(tmp_path / "q.nir", to_nir(qmodel, x))
    graph = read_nir(tmp_path / "q.nir")
    assert graph.metadata["quantization"]["weight_bits"] == 4
    conv = graph.nodes["0"]
    q = conv.weight * 2.0 ** conv.metadata["weight_exponent"].reshape(-1, 1, 1, 1)
    assert np.array_equal(q, np.round(q)) and np.abs(q).max() <= 7  # 4-bit integers, exact
    lif = graph.nodes["2"]
    assert lif.metadata["v_threshold_units"] == 128 and lif.metadata["leak_multiplier"] == 2**15
    back = from_nir(graph)
    assert any(isinstance(m, QuantLIF) for m in back.modules())
    expected = IntegerNetwork(qmodel)(x)
    assert expected.abs().sum() > 0 and torch.equal(IntegerNetwork(back)(x), expected)
