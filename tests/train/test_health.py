"""Training health: silent and saturated layers, exploding and vanishing values and
gradients, non-finite losses; warnings once, in metrics.jsonl and final.json; strict mode."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from spikestack.layers import TimeDistributed
from spikestack.neurons import LIF
from spikestack.train.engine import Engine
from spikestack.train.health import TrainingHealth, TrainingHealthError
from spikestack.train.losses import create_loss


def net(scale: float) -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(
        TimeDistributed(nn.Linear(4, 8)), LIF(), TimeDistributed(nn.Linear(8, 3)), LIF()
    )
    with torch.no_grad():
        model[0].module.weight.mul_(scale)
        model[0].module.bias.fill_(0.0)
    return model


def batches(n: int = 3, *, value: float = 1.0):
    g = torch.Generator().manual_seed(1)
    return [
        (torch.rand(5, 6, 4, generator=g) * value, torch.randint(0, 3, (6,), generator=g))
        for _ in range(n)
    ]


def engine(model: nn.Module, tmp_path, **kwargs) -> Engine:
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    return Engine(model, opt, loss=create_loss("ce"), progress=False, run_dir=tmp_path, **kwargs)


def test_silent_layer_and_vanishing_gradient_reported_once(tmp_path) -> None:
    model = net(scale=0.0)  # the first layer's current is 0: nothing ever fires
    eng = engine(model, tmp_path)
    logged: list[str] = []
    eng.fit(batches(), batches(1), epochs=2, log=logged.append)
    problems = eng.health.problems
    assert "silent: layer 1 fired no spike in epoch 1" in problems
    # nothing reaches the second linear layer, so its weight gets no gradient
    assert any(p.startswith("vanishing gradient: 2.module.weight") for p in problems)
    assert len(problems) == len(set(problems))  # once each, not once per epoch
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["health"] and "health" not in rows[1]
    assert any(line.startswith("  health: silent") for line in logged)


def test_vanishing_input_current() -> None:
    model = net(scale=0.0)
    health = TrainingHealth(model)
    with health:
        for x, _ in batches():
            model(x)
    problems = health.end_epoch({}, 1)
    assert problems == [
        "vanishing input: the input current of layer 1 stayed below 1e-06 (max |x| = 0) in epoch 1"
    ]


def test_saturated_layer_and_exploding_input(tmp_path) -> None:
    model = net(scale=1e5)
    with torch.no_grad():
        model[0].module.weight.abs_()  # every neuron driven hard: it fires at every step
    eng = engine(model, tmp_path)
    eng.train_epoch(batches(value=1.0))
    assert any(p.startswith("saturated: layer 1 fired at") for p in eng.health.problems)
    assert any(
        p.startswith("exploding input: the input current of layer 1") for p in eng.health.problems
    )


def test_healthy_network_reports_nothing(tmp_path) -> None:
    model = net(scale=5.0)
    with torch.no_grad():
        model[2].module.weight.mul_(10.0)
        model[2].module.bias.fill_(0.5)
    eng = engine(model, tmp_path)
    eng.train_epoch(batches(value=1.0))
    assert eng.health.problems == []


def test_non_finite_loss_skips_the_update_or_stops_when_strict(tmp_path) -> None:
    model = net(scale=3.0)
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def nan_loss(output, target):
        return output.sum() * float("nan")

    eng = Engine(model, opt, loss=nan_loss, progress=False)
    result = eng.train_epoch(batches(2))
    assert result["health"][0].startswith("non-finite loss: the loss became nan in epoch 1")
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))
    strict = Engine(model, opt, loss=nan_loss, progress=False, strict_health=True)
    with pytest.raises(TrainingHealthError, match="non-finite loss"):
        strict.train_epoch(batches(1))
    with pytest.raises(TrainingHealthError, match="silent"):
        engine(net(scale=0.0), tmp_path, strict_health=True).train_epoch(batches())


def test_exploding_gradient_named() -> None:
    model = net(scale=3.0)
    health = TrainingHealth(model)
    with health:
        model[2].module.weight.grad = torch.full_like(model[2].module.weight, 1e6)
        health.after_backward()
    problems = health.end_epoch({}, 1)
    assert any(
        p.startswith("exploding gradient: the gradient norm of 2.module.weight was")
        for p in problems
    )


def test_cli_strict_health_flag_and_summary(tmp_path) -> None:
    from spikestack.cli import main

    run = tmp_path / "run"
    args = ["train", "--epochs", "1", "--max-samples", "80", "--no-progress", "--out", str(run)]
    assert main(args) == 0
    final = json.loads((run / "final.json").read_text())
    assert isinstance(final["health"], list)
    config = json.loads((run / "config.json").read_text())
    assert config["run"]["strict_health"] is False
