"""Energy and synaptic operations: the published arithmetic, and exact counts by hand."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spikestack.deploy import E_AC, E_MAC, energy_from_counts, estimate_energy
from spikestack.layers import Flatten, TimeDistributed
from spikestack.models import create_model


def test_spikingformer_published_counts_give_its_energy() -> None:
    # Spikingformer-8-512 on ImageNet: 0.347 G MAC (encoding) and 6.518 G AC -> 7.46 mJ
    joules = energy_from_counts(mac=0.347e9, ac=6.518e9)
    assert round(joules * 1e3, 2) == 7.46
    assert energy_from_counts(mac=1, ac=0) == E_MAC and energy_from_counts(mac=0, ac=1) == E_AC
    assert energy_from_counts(mac=10, ac=10, e_mac=1.0, e_ac=2.0) == 30.0
    with pytest.raises(ValueError, match="mac must be a count"):
        energy_from_counts(mac=-1, ac=0)
    with pytest.raises(ValueError, match="e_ac"):
        energy_from_counts(mac=1, ac=1, e_ac=0)


def test_conv_synaptic_operations_match_a_hand_count() -> None:
    conv = nn.Conv2d(1, 4, 3, padding=1, bias=False)
    model = nn.Sequential(TimeDistributed(conv))
    x = torch.zeros(2, 1, 1, 5, 5)  # [T, B, C, H, W]
    x[0, 0, 0, 2, 2] = 1  # centre: reaches 3x3 outputs in each of 4 channels = 36
    x[1, 0, 0, 0, 0] = 1  # corner: only 2x2 outputs = 16
    report = estimate_energy(model, [x], steps_per_sample=2)
    (layer,) = report.layers
    assert layer.spiking and layer.sop == 36 + 16 and layer.mac == 0
    assert layer.dense == 2 * 4 * 25 * 9  # outputs x fan-in, both steps
    assert layer.rate == pytest.approx(2 / 50)
    assert report.totals["energy_j"] == pytest.approx(52 * E_AC)
    # scaled spikes (0 or one value c: c folds into the weights) are still spikes
    assert estimate_energy(model, [x * 0.5], steps_per_sample=2).totals["sop"] == 52
    # the same input made analog: every dense MAC is done
    report = estimate_energy(
        model, [x * torch.linspace(0.1, 0.9, x.numel()).reshape(x.shape)], steps_per_sample=2
    )
    assert not report.layers[0].spiking and report.totals["mac"] == 1800
    assert report.totals["sop"] == 0


def test_linear_counts_each_spike_once_per_output() -> None:
    model = nn.Sequential(Flatten(), TimeDistributed(nn.Linear(6, 3)))
    x = torch.tensor([[[1.0, 0, 0, 1, 1, 0]], [[0.0, 0, 0, 0, 0, 1]]]).unsqueeze(1)  # [2,1,1,6]
    report = estimate_energy(model, [(x, torch.zeros(1))], steps_per_sample=2)
    assert report.layers[0].sop == 4 * 3 and report.samples == 1
    assert "total per sample (1 samples)" in report.table()


def test_a_zoo_model_on_direct_encoded_input() -> None:
    torch.manual_seed(0)
    model = create_model("digits_csnn", channels=4, T=3)
    x = 4 * torch.rand(3, 5, 1, 8, 8)  # direct encoding: an analog image at every step
    report = estimate_energy(model, [x, x])
    first, *rest = report.layers
    assert report.samples == 10 and not first.spiking and first.sop == 0
    assert first.mac / 10 == pytest.approx(first.dense / 10)
    assert all(layer.spiking and layer.mac == 0 for layer in rest)
    assert all(0 <= layer.sop <= layer.dense for layer in rest) and rest[0].sop > 0
    assert report.totals["energy_j"] < report.totals["dense_energy_j"]
    assert model.training  # left as it was


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ValueError, match="no Conv1d, Conv2d or Linear layer and ran no matrix"):
        estimate_energy(nn.ReLU(), [torch.zeros(1)])
    model = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="no batch"):
        estimate_energy(model, [])
    with pytest.raises(TypeError, match="data must yield tensors"):
        estimate_energy(model, [("x", 1)])


class Products(nn.Module):
    """Matrix products of activations: spikes x spikes twice, then analog ones."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x[..., :3, :2], x[..., :2, :4]  # spikes [T, B, 3, 2] and [T, B, 2, 4]
        ab = a @ b  # integer counts: analog for what follows
        w = torch.linspace(0.1, 0.8, 8).reshape(4, 2)  # analog: values that differ
        return (ab @ w).sum() + torch.matmul(0.3 * w.T, ab.transpose(-1, -2)).sum() + (a @ b).sum()


def test_products_of_activations_are_counted_by_operand_type() -> None:
    x = torch.tensor([[1.0, 0, 1, 1], [0, 1, 1, 0], [1, 1, 0, 0]])  # 3 x 4 spikes
    report = estimate_energy(Products(), [x[None, None]], steps_per_sample=1)
    assert report.layers == []
    rows = {p.name: p for p in report.products}
    assert sorted(rows) == ["analog×analog", "spikes×spikes"]  # the model itself: no module name
    a, b = x[:3, :2], x[:2, :4]
    hand = sum(int(a[i, k] * b[k, j]) for i in range(3) for k in range(2) for j in range(4))
    assert hand == 10 and rows["spikes×spikes"].sop == 2 * hand
    assert rows["spikes×spikes"].mac == 0 and rows["spikes×spikes"].dense == 2 * 3 * 2 * 4
    assert rows["analog×analog"].mac == 3 * 4 * 2 + 2 * 4 * 3
    assert rows["analog×analog"].sop == 0
    assert report.totals["sop"] == 20 and report.totals["mac"] == 48
    assert "A @ B" in report.table() and "spikes×spikes" in report.table()
    spikes_times_weights = nn.Sequential(TimeDistributed(nn.Linear(4, 4)), Products())
    with torch.no_grad():
        spikes_times_weights[0].module.weight.copy_(torch.eye(4))
        spikes_times_weights[0].module.bias.zero_()
    report = estimate_energy(spikes_times_weights, [x[None, None]], steps_per_sample=1)
    assert {p.name for p in report.products} == {"1 spikes×spikes", "1 analog×analog"}


def test_spiking_self_attention_products_are_accumulates() -> None:
    torch.manual_seed(0)
    model = create_model(
        "spikformer_2_256", embed_dim=32, num_heads=2, depth=1, img_size=32, T=2, num_classes=4,
        neuron_kwargs={"v_threshold": 0.2},
    )  # fmt: skip
    x = (torch.rand(2, 2, 2, 32, 32) < 0.3).float()
    report = estimate_energy(model, [x])
    rows = {p.name: p for p in report.products}
    # K^T V of spikes, then Q times those (integer) sums: accumulates only, no MAC
    assert set(rows) == {"blocks.0.attn spikes×spikes", "blocks.0.attn spikes×analog"}
    assert all(p.mac == 0 and 0 < p.sop <= p.dense for p in rows.values())
