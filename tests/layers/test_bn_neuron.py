"""BatchNorm applied inside the neuron after it (training, CPU): the same values as the
two layers run one after the other, names and objects kept, and every input the fused
kernel cannot take normalised by the BatchNorm's own code instead."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import spikestack as ss
from spikestack.kernels._plan import make_plan
from spikestack.kernels.batchnorm_neuron import batchnorm_neuron
from spikestack.layers import TimeDistributed
from spikestack.layers.bn_neuron import (
    BatchNormLIF,
    DeferredBatchNorm2d,
    fusable,
    fuse_batchnorm_neurons,
)
from spikestack.layers.norm import fast_batchnorm
from spikestack.neurons import IF, LIF, PLIF
from spikestack.surrogates import ATan

NEURONS = {
    "IF": lambda: IF(),
    "LIF": lambda: LIF(tau=2.0),
    "LIF, no decay_input, reset 0.1": lambda: LIF(tau=3.0, decay_input=False, v_reset=0.1),
    "LIF, soft reset": lambda: LIF(tau=2.0, v_reset=None, detach_reset=True),
    "PLIF, no decay_input": lambda: PLIF(decay_input=False),
    "PLIF, decay_input (Form.A: normalised first)": lambda: PLIF(decay_input=True),
}


def _conv_net(neuron: nn.Module, bn: nn.Module | None = None) -> nn.Module:
    return nn.Sequential(
        TimeDistributed(nn.Sequential(nn.Conv2d(2, 6, 3, padding=1), bn or nn.BatchNorm2d(6))),
        neuron,
        TimeDistributed(nn.Sequential(nn.Flatten(), nn.Linear(6 * 7 * 5, 12), nn.BatchNorm1d(12))),
        copy.deepcopy(neuron),
        TimeDistributed(nn.Linear(12, 3)),
    )


def _input(dtype: torch.dtype = torch.float32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(5, 4, 2, 7, 5, generator=g) < 0.4).to(dtype) * 2.0


def _train_steps(model: nn.Module, inputs: list[torch.Tensor]) -> list[tuple]:
    """Outputs, parameter gradients and buffers after each of a few SGD steps."""
    optimiser = torch.optim.SGD(model.parameters(), lr=0.5)
    seen = []
    for x in inputs:
        optimiser.zero_grad()
        out = model(x)
        (out * torch.arange(3, dtype=out.dtype)).sum().backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        buffers = {n: b.clone() for n, b in model.named_buffers()}
        seen.append((out.detach(), grads, buffers))
        optimiser.step()
    return seen


def _assert_same(got: list[tuple], want: list[tuple]) -> None:
    for (out, grads, buffers), (out_w, grads_w, buffers_w) in zip(got, want, strict=True):
        assert torch.equal(out, out_w)
        assert grads.keys() == grads_w.keys() and buffers.keys() == buffers_w.keys()
        for name in grads:
            torch.testing.assert_close(grads[name], grads_w[name], rtol=1e-12, atol=0, msg=name)
        for name in buffers:
            assert torch.equal(buffers[name], buffers_w[name]), name


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", sorted(NEURONS))
def test_fused_equals_batchnorm_then_neuron(kind, dtype, monkeypatch) -> None:
    """Channels-last conv activations (BatchNorm2d) and [T, B, C] ones (BatchNorm1d):
    outputs, gradients, running statistics and batch counts equal to FastBatchNorm + the
    neuron over three training steps; the fused kernel ran for both pairs of every step
    (but PLIF's Form.A, normalised first)."""
    from spikestack.kernels import batchnorm_neuron as module

    calls = []
    real = module.batchnorm_neuron
    monkeypatch.setattr(module, "batchnorm_neuron", lambda *a: calls.append(1) or real(*a))
    torch.manual_seed(0)
    plain = _conv_net(NEURONS[kind]()).to(dtype).to(memory_format=torch.channels_last)
    fast_batchnorm(plain)
    fused = copy.deepcopy(plain)
    assert fuse_batchnorm_neurons(fused) == 2
    inputs = [_input(dtype, seed) for seed in range(3)]
    _assert_same(_train_steps(fused, inputs), _train_steps(plain, inputs))
    assert len(calls) == (0 if "Form.A" in kind else 6)


def test_names_objects_and_eval_mode_unchanged() -> None:
    torch.manual_seed(0)
    model = _conv_net(LIF()).to(memory_format=torch.channels_last)
    keys = list(model.state_dict())
    params = dict(model.named_parameters())
    reference = copy.deepcopy(model)
    fuse_batchnorm_neurons(model)
    assert isinstance(model[1], BatchNormLIF) and isinstance(
        model[0].module[1], DeferredBatchNorm2d
    )
    assert list(model.state_dict()) == keys
    assert all(p is params[n] for n, p in model.named_parameters())
    x = _input()
    with torch.no_grad():
        model(x), reference(x)  # one training batch: running statistics move alike
        model.eval(), reference.eval()
        assert torch.equal(model(x), reference(x))
    twin = copy.deepcopy(model.train())  # a copy is fused to its own BatchNorm
    assert twin[1].__dict__["_batchnorm"] is twin[0].module[1]
    assert not fusable(model)  # already fused: nothing left to fuse


@pytest.mark.parametrize(
    "case",
    ["contiguous NCHW", "BatchNorm1d on [T, B, C, L]", "momentum None", "no running stats",
     "no affine", "step by step"],
)  # fmt: skip
def test_other_inputs_and_options_give_the_same_results(case) -> None:
    torch.manual_seed(0)
    bn = {
        "momentum None": nn.BatchNorm2d(6, momentum=None),
        "no running stats": nn.BatchNorm2d(6, track_running_stats=False),
        "no affine": nn.BatchNorm2d(6, affine=False),
    }.get(case)
    plain = _conv_net(LIF(), bn)
    inputs = [_input(seed=s) for s in range(2)]
    if case == "BatchNorm1d on [T, B, C, L]":
        plain = nn.Sequential(
            TimeDistributed(nn.Sequential(nn.Conv1d(2, 6, 3), nn.BatchNorm1d(6))), LIF(),
            TimeDistributed(nn.Sequential(nn.Flatten(), nn.Linear(6 * 33, 3))),
        )  # fmt: skip
        inputs = [x.flatten(3) for x in inputs]
    elif case != "contiguous NCHW":
        plain = plain.to(memory_format=torch.channels_last)
    fast_batchnorm(plain)  # what the fused path computes with (and torch's where it must)
    fused = copy.deepcopy(plain)
    assert fuse_batchnorm_neurons(fused) >= 1
    if case == "step by step":
        neuron, bn_layer = fused[1], fused[0]
        x = inputs[0]
        conv_out = bn_layer(x)  # deferred: the conv's output
        steps = []
        state = None
        for t in range(x.shape[0]):
            out, state = neuron.step(conv_out[t], state)
            steps.append(out)
        plain_steps = []
        state = None
        y = plain[0].module[0](x.flatten(0, 1)).unflatten(0, x.shape[:2])
        for t in range(x.shape[0]):
            out, state = plain[1].step(plain[0].module[1](y[t]), state)
            plain_steps.append(out)
        assert torch.equal(torch.stack(steps), torch.stack(plain_steps))
        return
    _assert_same(_train_steps(fused, inputs), _train_steps(plain, inputs))


def test_what_is_left_unfused() -> None:
    def pair(neuron: nn.Module, block: nn.Module | None = None) -> nn.Sequential:
        return nn.Sequential(block or TimeDistributed(nn.BatchNorm2d(4)), neuron)

    class MyTimeDistributed(TimeDistributed):
        pass

    assert fuse_batchnorm_neurons(pair(LIF(backend="torch"))) == 0
    assert fuse_batchnorm_neurons(pair(LIF(reset_delay=True))) == 0
    assert fuse_batchnorm_neurons(pair(LIF(), MyTimeDistributed(nn.BatchNorm2d(4)))) == 0
    assert fuse_batchnorm_neurons(pair(LIF(), TimeDistributed(nn.Conv2d(4, 4, 1)))) == 0
    assert fuse_batchnorm_neurons(nn.Sequential(LIF(), TimeDistributed(nn.BatchNorm2d(4)))) == 0
    assert fuse_batchnorm_neurons(pair(LIF())) == 1
    wrong = pair(LIF())  # a BatchNorm2d given [T, B, C]: refused as the layer refuses it
    fuse_batchnorm_neurons(wrong)
    with pytest.raises(ValueError, match="expected 4D input"):
        wrong(torch.rand(3, 2, 4))


def test_kernel_refuses_what_it_cannot_take() -> None:
    plan = make_plan(
        kind="lif", tau=2.0, v_threshold=1.0, v_reset=0.0, detach_reset=False, surrogate=ATan()
    )
    x = torch.randn(3, 2, 4, 5, 5)  # contiguous: channels not innermost
    v0 = torch.zeros(1).expand(2, 4, 5, 5)
    with pytest.raises(ValueError, match="channels innermost.*strides"):
        batchnorm_neuron(x, None, None, 1e-5, v0, None, plan)
    cl = x.flatten(0, 1).contiguous(memory_format=torch.channels_last).unflatten(0, (3, 2))
    spikes, v, mean, var = batchnorm_neuron(cl, None, None, 1e-5, v0, None, plan)
    torch.testing.assert_close(mean, x.mean(dim=(0, 1, 3, 4)).double().float())
    torch.testing.assert_close(var, x.var(dim=(0, 1, 3, 4), unbiased=False))
    assert spikes.shape == x.shape and v.shape == v0.shape


def test_optimize_offers_and_checks_it() -> None:
    torch.manual_seed(0)
    x = _input()
    model = _conv_net(LIF())
    opt = ss.optimize(model, x, channels_last=True, fast_kernels=True, bn_in_neuron=True)
    report = opt.optimize_report
    assert report.chosen == "channels-last + fast kernels + BN in neuron"
    assert report.max_difference is not None and report.max_difference <= 1e-6
    assert isinstance(opt[1], BatchNormLIF)
    with pytest.raises(ValueError, match="bn_in_neuron"):
        ss.optimize(model, x, bn_in_neuron="yes")
