"""OTTT and e-prop: the weight gradient through presynaptic traces by hand, memory
constant in T, random feedback, errors, and training from the CLI."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from spikestack.layers import TimeDistributed
from spikestack.neurons import LIF, RLIF
from spikestack.surrogates import ATan
from spikestack.train.memory import saved_tensor_bytes
from spikestack.train.online import OnlineTraining


def test_ottt_weight_gradient_is_the_trace_by_hand() -> None:
    lin = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        lin.weight.fill_(1.5)
    model = nn.Sequential(TimeDistributed(lin), LIF(2.0, decay_input=False))
    x = torch.tensor([0.8, 0.3]).reshape(2, 1, 1)
    c = torch.tensor([1.0, -2.0])

    def loss_fn(out, y):  # out is one step [1, 1, 1]
        step = loss_fn.step
        loss_fn.step += 1
        return out.sum() * c[step]

    loss_fn.step = 0
    OnlineTraining(model, "ottt", decay=0.5).run(
        model, x, None, loss_fn, lambda loss: loss.backward()
    )
    d = ATan().derivative
    h1 = 1.5 * 0.8  # fires (1.2 >= 1), hard reset to 0
    h2 = 0.5 * 0.0 + 1.5 * 0.3
    traces = [0.8, 0.5 * 0.8 + 0.3]
    expected = sum(c[t] / 2 * d(torch.tensor(h - 1.0)) * traces[t] for t, h in enumerate([h1, h2]))
    torch.testing.assert_close(lin.weight.grad.reshape(()), expected)


def conv_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        TimeDistributed(nn.Conv2d(2, 8, 3, padding=1)), LIF(),
        TimeDistributed(nn.Flatten()), TimeDistributed(nn.Linear(8 * 8 * 8, 32)), LIF(),
        TimeDistributed(nn.Linear(32, 4)),
    )  # fmt: skip


def peak(model: nn.Module, steps: int, method: str | None) -> int:
    x = torch.rand(steps, 4, 2, 8, 8) * 2
    y = torch.randint(0, 4, (4,))
    ce = lambda out, y: nn.functional.cross_entropy(out.mean(0), y)  # noqa: E731
    if method is None:
        return saved_tensor_bytes(lambda: ce(model(x), y).backward())[1]
    trainer = OnlineTraining(model, method)
    return saved_tensor_bytes(lambda: trainer.run(model, x, y, ce, lambda loss: loss.backward()))[1]


def test_memory_is_constant_in_t_where_bptt_grows() -> None:
    model = conv_net()
    assert peak(model, 32, "ottt") == peak(model, 8, "ottt")
    assert peak(model, 32, "eprop") == peak(model, 8, "eprop")
    assert peak(model, 32, None) > 2.5 * peak(model, 8, None)  # activations grow with T
    assert peak(model, 32, "ottt") < peak(model, 32, None) / 5


def test_random_feedback_changes_only_the_hidden_gradients() -> None:
    torch.manual_seed(1)
    x = torch.rand(6, 5, 3) * 2
    y = torch.randint(0, 2, (5,))
    ce = lambda out, y: nn.functional.cross_entropy(out.mean(0), y)  # noqa: E731
    grads = {}
    for feedback in ("symmetric", "random"):
        model = nn.Sequential(
            TimeDistributed(nn.Linear(3, 16)),
            RLIF(connection="linear", features=16),
            TimeDistributed(nn.Linear(16, 2)),
        )
        torch.manual_seed(2)
        for p in model.parameters():
            nn.init.normal_(p, std=0.5)
        OnlineTraining(model, "eprop", feedback=feedback).run(
            model, x, y, ce, lambda loss: loss.backward()
        )
        grads[feedback] = {n: p.grad.clone() for n, p in model.named_parameters()}
    same, other = grads["symmetric"], grads["random"]
    torch.testing.assert_close(same["2.module.weight"], other["2.module.weight"])  # output layer
    assert not torch.allclose(same["0.module.weight"], other["0.module.weight"])
    assert same["1.recurrent.weight"].abs().sum() > 0  # the recurrent weights learn too


def test_bad_options() -> None:
    model = conv_net()
    with pytest.raises(ValueError, match="ottt, eprop"):
        OnlineTraining(model, "rtrl")
    with pytest.raises(ValueError, match="random feedback is e-prop's"):
        OnlineTraining(model, "ottt", feedback="random")
    with pytest.raises(ValueError, match=r"decay .* \[0, 1\)"):
        OnlineTraining(model, "ottt", decay=1.0)


@pytest.mark.parametrize(
    "flags", [["--online", "ottt"], ["--online", "eprop", "--eprop-feedback", "random"]]
)
def test_online_training_from_the_cli(tmp_path, flags) -> None:
    from spikestack.cli import main

    run = tmp_path / "run"
    args = ["train", "--epochs", "3", "--max-samples", "600", "--no-progress", "--out", str(run)]
    assert main(args + flags) == 0
    final = json.loads((run / "final.json").read_text())
    assert final["test_accuracy"] > 0.5  # far above the chance of 10 classes
    assert math.isfinite(final["test_loss"])
