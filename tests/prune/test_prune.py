"""Grad R and LATS: their update rules by hand, density, masks, permanence and the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from spikestack.prune import (
    LATS,
    GradR,
    density,
    export_masks,
    layer_densities,
    masks,
    remove,
    soft_threshold,
)


def net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Linear(6, 3))


def loss_step(model: nn.Module, pruner, x: torch.Tensor | None = None) -> None:
    x = torch.randn(8, 4) if x is None else x
    pruner.zero_grad()
    model(x).pow(2).mean().backward()
    pruner.step()


def test_gradr_step_by_hand() -> None:
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    pruner = GradR(model, opt, target_density=0.25, prior=2.0)
    assert pruner.mu == pytest.approx(math.log(0.5) / 2.0)
    w0 = model[0].weight.detach().clone()
    s, theta = torch.where(w0 >= 0, 1.0, -1.0), w0.abs()
    x = torch.randn(8, 4)
    model(x).pow(2).mean().backward()
    grad = model[0].weight.grad.clone()
    pruner.step()
    hidden = s * theta - 0.1 * grad  # SGD on the hidden s·θ with dL/dw
    new_theta = s * hidden
    new_theta = new_theta - 2.0 * 0.1 * torch.sign(new_theta - pruner.mu)
    torch.testing.assert_close(pruner.theta["0.weight"], new_theta)
    torch.testing.assert_close(model[0].weight.detach(), s * new_theta.clamp(min=0))
    assert set(pruner.weights) == {"0.weight", "2.weight"}  # not BatchNorm, not biases


def test_gradr_prunes_and_a_pruned_synapse_regrows() -> None:
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.05)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    pruner = GradR(model, opt, target_density=0.1, prior=1.0)
    x = torch.ones(1, 1)
    for _ in range(3):  # no data pull (target 0): the prior drives θ below zero
        pruner.zero_grad()
        (model(x) - 0.0).pow(2).sum().backward()
        pruner.step()
    assert model.weight.item() == 0 and pruner.theta["weight"].item() < 0
    for _ in range(40):  # a strong pull back up: the redefined gradient reaches θ
        pruner.zero_grad()
        (model(x) - 5.0).pow(2).sum().backward()
        pruner.step()
    assert model.weight.item() > 0 and pruner.density() == 1.0


def test_lats_threshold_follows_the_accumulated_learning_rate() -> None:
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    n = 8
    cosine = lambda k: 0.5 * (1 + math.cos(math.pi * k / n))  # noqa: E731
    pruner = LATS(model, opt, total_steps=n, final_threshold=0.2, lr_at=cosine)
    total = sum(cosine(k) for k in range(n))
    for step in range(1, n + 1):
        loss_step(model, pruner)
        expected = 0.2 * sum(cosine(k) for k in range(step)) / total
        assert pruner.threshold == pytest.approx(expected)
        for name, p in pruner.weights.items():
            torch.testing.assert_close(p.detach(), soft_threshold(pruner.theta[name], expected))
    # the continuous form: the fraction of a cosine schedule spent by x is x + sin(pi x) / pi
    x = 0.5
    assert pruner.progress(4) == pytest.approx(x + math.sin(math.pi * x) / math.pi, abs=0.07)


def test_lats_target_density_is_exact_at_the_end_and_modes() -> None:
    model = net()
    pruner = LATS(
        model, torch.optim.Adam(model.parameters(), lr=1e-2), total_steps=6, target_density=0.3
    )
    assert pruner.density() == 1.0  # the threshold starts at zero
    for _ in range(6):
        loss_step(model, pruner)
    weights = sum(p.numel() for p in pruner.weights.values())
    assert abs(pruner.density() - 0.3) <= 1.5 / weights
    model = net()
    early = LATS(model, torch.optim.SGD(model.parameters(), lr=0.1), total_steps=10,
                 target_density=0.5, mode="early", prune_steps=3)  # fmt: skip
    for _ in range(3):
        loss_step(model, early)
    assert early.progress(3) == 1.0 and abs(early.density() - 0.5) < 0.05
    model = net()
    at_init = LATS(model, torch.optim.SGD(model.parameters(), lr=0.1), total_steps=10,
                   target_density=0.5, mode="init")  # fmt: skip
    assert abs(at_init.density() - 0.5) < 0.05  # pruned before any step
    start = at_init.threshold
    loss_step(model, at_init)
    assert at_init.threshold == start


def test_density_masks_and_remove_keeps_zeros_zero(tmp_path) -> None:
    model = net()
    with torch.no_grad():
        model[0].weight[:, :2] = 0
    assert layer_densities(model)["0.weight"] == 0.5
    assert density(model) == pytest.approx((12 + 18) / 42)
    assert masks(model)["0.weight"][:, :2].any().item() is False
    stored = np.load(export_masks(model, tmp_path / "masks.npz"))
    assert sorted(stored.files) == ["0.weight", "2.weight"]
    assert np.array_equal(stored["0.weight"], masks(model)["0.weight"].numpy())
    remove(model)
    opt = torch.optim.Adam(model.parameters(), lr=0.1, weight_decay=0.1)
    for _ in range(5):
        opt.zero_grad()
        model(torch.randn(8, 4)).pow(2).mean().backward()
        opt.step()
        model(torch.randn(8, 4))  # the forward re-masks whatever the step did
    assert (model[0].weight[:, :2] == 0).all()
    assert model[0].weight.grad[:, :2].eq(0).all()
    assert "_spikestack_prune_mask" not in model.state_dict()  # checkpoints load anywhere


def test_pruner_state_round_trips_and_errors_are_named() -> None:
    model = net()
    pruner = GradR(model, torch.optim.Adam(model.parameters(), lr=1e-2))
    for _ in range(3):
        loss_step(model, pruner)
    state = pruner.state_dict()
    twin = net()
    twin.load_state_dict(model.state_dict())
    again = GradR(twin, torch.optim.Adam(twin.parameters(), lr=1e-2))
    again.load_state_dict(state)
    for name in pruner.theta:
        torch.testing.assert_close(again.theta[name], pruner.theta[name])
    with pytest.raises(ValueError, match="saved without a pruner"):
        again.load_state_dict(torch.optim.Adam(twin.parameters()).state_dict())
    with pytest.raises(ValueError, match=r"target_density must be in \(0, 0.5\]"):
        GradR(model, torch.optim.SGD(model.parameters(), lr=0.1), target_density=0.7)
    with pytest.raises(ValueError, match="one of target_density and final_threshold"):
        LATS(model, torch.optim.SGD(model.parameters(), lr=0.1), total_steps=3)
    with pytest.raises(ValueError, match="mode='early' needs prune_steps"):
        LATS(model, torch.optim.SGD(model.parameters(), lr=0.1), total_steps=3,
             target_density=0.5, mode="early")  # fmt: skip
    with pytest.raises(ValueError, match="no prunable weight"):
        GradR(nn.ReLU(), torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1))
    with pytest.raises(TypeError, match="wraps a torch optimiser"):
        GradR(model, object())  # type: ignore[arg-type]


def test_training_cli_prunes_and_reports_density(tmp_path, capsys) -> None:
    from spikestack.cli import main

    out = tmp_path / "run"
    args = ["train", "--epochs", "2", "--max-samples", "200", "--no-progress", "--out", str(out),
            "--prune", "lats", "--target-density", "0.2"]  # fmt: skip
    assert main(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-2].startswith("density: ") and lines[-1].startswith("test accuracy: ")
    assert float(lines[-2].split()[1]) == pytest.approx(0.2, abs=0.01)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert all("density" in row and "layer_densities" in row for row in rows)
    final = json.loads((out / "final.json").read_text())
    assert final["density"] == pytest.approx(0.2, abs=0.01)
    assert main(["resume", str(out), "--epochs", "3"]) == 0  # the pruner state comes back
    assert "density: " in capsys.readouterr().out
