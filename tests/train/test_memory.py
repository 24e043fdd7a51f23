"""Checkpointed and truncated BPTT: same gradients as BPTT where they should be, less kept
for backward, clear errors for layers that need the whole sequence."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spikestack.layers import DelayedLinear, Flatten, TemporalAttention, TimeDistributed
from spikestack.neurons import ALIF, CUBALIF, LIF, PSN
from spikestack.train.memory import (
    TruncatedBPTT,
    carry_state,
    checkpointed_forward,
    saved_tensor_bytes,
    window_caveats,
)


def conv_snn(bn: bool = False) -> nn.Module:
    torch.manual_seed(0)
    layers = [TimeDistributed(nn.Conv2d(2, 6, 3, padding=1))]
    if bn:
        layers.append(TimeDistributed(nn.BatchNorm2d(6)))
    layers += [
        LIF(v_reset=None),
        TimeDistributed(nn.AvgPool2d(2)),
        Flatten(),
        TimeDistributed(nn.Linear(6 * 4 * 4, 16)),
        CUBALIF(),
        DelayedLinear(16, 12, max_delay=3),
        ALIF(),
        TimeDistributed(nn.Linear(12, 4)),
    ]
    return nn.Sequential(*layers)


def grads(model: nn.Module, run) -> tuple[torch.Tensor, list[torch.Tensor]]:
    model.zero_grad()
    x = (torch.rand(24, 3, 2, 8, 8) * 1.5).requires_grad_()
    torch.manual_seed(1)
    x = x.detach().requires_grad_()
    out = run(model, x)
    (out * torch.linspace(-1, 1, 4)).sum().backward()
    return out.detach(), [x.grad.clone()] + [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("steps", [1, 5, 8, 24])
def test_checkpointed_gradients_equal_plain_bptt(steps: int) -> None:
    model = conv_snn()
    torch.manual_seed(3)
    x = torch.rand(24, 3, 2, 8, 8) * 1.5
    outs = []
    for run in (lambda m, x: m(x), lambda m, x: checkpointed_forward(m, x, steps)):
        model.zero_grad()
        xi = x.clone().requires_grad_()
        out = run(model, xi)
        (out * torch.linspace(-1, 1, 4)).sum().backward()
        outs.append((out.detach(), [xi.grad] + [p.grad.clone() for p in model.parameters()]))
    assert outs[0][0].abs().sum() > 0
    assert torch.equal(outs[0][0], outs[1][0])
    for a, b in zip(outs[0][1], outs[1][1], strict=True):
        torch.testing.assert_close(b, a, atol=1e-6, rtol=1e-5)
    assert all(getattr(m, "state", None) is None for m in model.modules())  # nothing left behind


def test_checkpointing_keeps_less_for_backward_and_batchnorm_statistics_once() -> None:
    model = conv_snn(bn=True)
    x = torch.rand(32, 3, 2, 8, 8)
    _, plain = saved_tensor_bytes(lambda: model(x).sum())
    bn = model[1].module
    before = bn.running_mean.clone()
    out, kept = saved_tensor_bytes(lambda: checkpointed_forward(model, x, 4))
    after_forward = bn.running_mean.clone()
    out.sum().backward()  # the recomputation must not move the statistics again
    assert torch.equal(bn.running_mean, after_forward) and not torch.equal(before, after_forward)
    assert kept < plain / 4, (kept, plain)
    assert window_caveats(model) == ["1.module (BatchNorm: statistics per window)"]


def test_truncated_bptt_cuts_the_gradient_at_window_edges() -> None:
    torch.manual_seed(4)
    lin = nn.Linear(3, 3)
    model = nn.Sequential(TimeDistributed(lin), LIF(v_reset=None))
    x = (torch.rand(12, 2, 3) * 2).requires_grad_()
    target = torch.tensor([0, 2])
    loss_fn = lambda out, y: nn.functional.cross_entropy(out.mean(0), y)  # noqa: E731
    out, total = TruncatedBPTT(4).run(model, x, target, loss_fn, lambda loss: loss.backward())
    assert out.shape == (12, 2, 3) and total > 0
    # by hand: each window from the carried (constant) state, its loss weighted 4/12
    expected_grad, state = torch.zeros_like(lin.weight), None
    neuron = model[1]
    for chunk in x.detach().split(4):
        lin.zero_grad()
        o, state = neuron._run(lin(chunk), None if state is None else state.detach())
        (loss_fn(o, target) / 3).backward()
        expected_grad += lin.weight.grad
    lin.zero_grad()
    TruncatedBPTT(4).run(model, x.detach(), target, loss_fn, lambda loss: loss.backward())
    torch.testing.assert_close(lin.weight.grad, expected_grad)
    assert model[1].stateful is False and model[1].state is None


def test_whole_sequence_layers_are_refused_by_name() -> None:
    model = nn.Sequential(TimeDistributed(nn.Linear(3, 4)), PSN(T=8))
    with pytest.raises(ValueError, match=r"1 \(PSN\) sees the whole sequence"):
        checkpointed_forward(model, torch.rand(8, 2, 3), 2)
    with pytest.raises(ValueError, match="TemporalAttention"):
        with carry_state(nn.Sequential(TemporalAttention(8)), what="truncated BPTT"):
            pass


@pytest.mark.parametrize("flag", [["--checkpoint-steps", "2"], ["--tbptt", "2"]])
def test_training_by_windows_from_the_cli(tmp_path, flag) -> None:
    import json
    import warnings

    from spikestack.cli import main

    run = tmp_path / "run"
    args = ["train", "--epochs", "1", "--max-samples", "120", "--no-progress", "--out", str(run)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(args + flag) == 0
    assert any("statistics per window" in str(w.message) for w in caught)  # digits_csnn has BN
    final = json.loads((run / "final.json").read_text())
    assert 0.0 <= final["test_accuracy"] <= 1.0
    config = json.loads((run / "config.json").read_text())
    assert config["optim"]["checkpoint_steps" if "checkpoint" in flag[0] else "tbptt"] == 2


def test_engine_refuses_both_window_modes_and_two_view_losses() -> None:
    from spikestack.train.engine import Engine
    from spikestack.train.losses import create_loss

    model = nn.Sequential(TimeDistributed(nn.Linear(3, 2)), LIF())
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="choose one"):
        Engine(model, opt, loss=create_loss("ce"), checkpoint_steps=2, tbptt=2, progress=False)
    with pytest.raises(ValueError, match="siamese"):
        Engine(model, opt, loss=create_loss("stcl"), tbptt=2, progress=False)
