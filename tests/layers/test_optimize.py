"""spikestack.optimize: equivalent results (float64), names kept in training, BatchNorm
folded at inference, choices reported; fold_batchnorms on its own; bad arguments."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import spikestack as ss
from spikestack.layers import (
    FastBatchNorm2d,
    FastMaxPool2d,
    OptimizeReport,
    TimeDistributed,
    fold_batchnorms,
)
from spikestack.neurons import LIF


def _net(backend: str = "torch") -> nn.Module:
    return nn.Sequential(
        TimeDistributed(nn.Sequential(nn.Conv2d(2, 8, 3, padding=1), nn.BatchNorm2d(8))),
        LIF(tau=2.0, backend=backend),
        TimeDistributed(nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(8, 8, 3, padding=1, bias=False))),
        TimeDistributed(nn.BatchNorm2d(8)),
        LIF(tau=2.0, backend=backend),
        TimeDistributed(nn.Sequential(nn.Flatten(), nn.Linear(8 * 4 * 4, 16), nn.BatchNorm1d(16))),
        LIF(tau=2.0, backend=backend),
        TimeDistributed(nn.Linear(16, 3)),
    )


def _input() -> torch.Tensor:
    torch.manual_seed(0)
    return (torch.rand(4, 6, 2, 8, 8) < 0.3).float()


def _trained_statistics(net: nn.Module, x: torch.Tensor) -> nn.Module:
    with torch.no_grad():
        for _ in range(3):
            net(x * 2.0)  # running statistics away from their initial values
    return net


@pytest.mark.parametrize("channels_last", [True, False, "auto"])
def test_training_mode_same_results_names_and_parameter_objects(channels_last) -> None:
    torch.manual_seed(0)
    x = _input()
    net = _net()
    params = dict(net.named_parameters())
    keys = list(net.state_dict())
    reference = copy.deepcopy(net)
    opt = ss.optimize(net, x, channels_last=channels_last, inplace=True)
    assert opt is net and opt.training
    assert list(opt.state_dict()) == keys
    assert all(p is params[n] for n, p in opt.named_parameters())
    report = opt.optimize_report
    assert isinstance(report, OptimizeReport) and report.mode == "training"
    assert report.max_difference is not None and report.max_difference <= 1e-6
    assert all(m.backend == "auto" for m in opt.modules() if isinstance(m, LIF))
    if channels_last is True:
        assert "channels-last" in report.chosen
        assert opt[0].module[0].weight.is_contiguous(memory_format=torch.channels_last)
    if "fast kernels" in report.chosen:
        assert isinstance(opt[0].module[1], FastBatchNorm2d)
    # and in float32, as it will train: the same outputs and parameter gradients
    ref_out = reference(x)
    out = opt(x)
    torch.testing.assert_close(out, ref_out, rtol=1e-4, atol=1e-4)
    out.sum().backward(), ref_out.sum().backward()
    if "channels-last" not in report.chosen:  # (max-pool ties: see test below)
        for (name, p), (_, q) in zip(
            opt.named_parameters(), reference.named_parameters(), strict=True
        ):
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-3, atol=1e-4, msg=name)


def test_forced_choices_and_report_text() -> None:
    x = _input()
    opt = ss.optimize(_net(), x, channels_last=True, fast_kernels=True, bn_in_neuron=False)
    assert opt.optimize_report.chosen == "channels-last + fast kernels"
    assert opt.optimize_report.timings_ms == {}  # one candidate left: nothing timed
    text = str(opt.optimize_report)
    assert "float64 check" in text and "max pooling" not in text  # FastMaxPool2d: torch's ties
    assert isinstance(opt[2].module[0], FastMaxPool2d)
    torch_pool = ss.optimize(_net(), x, channels_last=True, fast_kernels=False)
    assert "max pooling of spikes has ties" in str(torch_pool.optimize_report)
    none = ss.optimize(_net(), x, channels_last=False, fast_kernels=False)
    assert none.optimize_report.chosen == "as given"
    assert none.optimize_report.timings_ms == {}  # nothing to choose between


def test_copy_by_default_leaves_the_model_alone() -> None:
    x = _input()
    net = _net()
    before = copy.deepcopy(net.state_dict())
    opt = ss.optimize(net, x, channels_last=True)
    assert opt is not net
    assert all(m.backend == "torch" for m in net.modules() if isinstance(m, LIF))
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, before[k])
        assert v.is_contiguous()


def test_inference_folds_batchnorm_and_keeps_outputs() -> None:
    x = _input()
    net = _trained_statistics(_net(), x).eval()
    ref = net(x)
    opt = ss.optimize(net, x)
    assert not opt.training
    n_bn = sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in opt.modules())
    assert n_bn == 0  # all three folded (bare pair, TimeDistributed pair, Linear + BN1d)
    assert "3 BatchNorm layer(s) folded" in str(opt.optimize_report)
    torch.testing.assert_close(opt(x), ref, rtol=1e-4, atol=1e-4)
    assert opt.optimize_report.max_difference <= 1e-6
    # training=True on an eval model optimises for training: nothing folded
    trained = ss.optimize(net, x, training=True, check=False)
    assert trained.training
    assert sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in trained.modules()) == 3


def test_fold_batchnorms_exact_in_float64() -> None:
    torch.manual_seed(0)
    x = torch.randn(5, 3, 6, 6, dtype=torch.float64)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Conv2d(4, 4, 1, bias=False),
        nn.BatchNorm2d(4, affine=False),
        nn.Flatten(),
        nn.Linear(64, 7),
        nn.BatchNorm1d(7),
        nn.BatchNorm1d(7),  # a BN after a BN is not folded
    ).double()
    with torch.no_grad():
        for _ in range(4):
            model(x * 3 + 1)
    model.eval()
    ref = model(x)
    assert fold_batchnorms(model) == 3
    assert isinstance(model[1], nn.Identity) and isinstance(model[8], nn.BatchNorm1d)
    torch.testing.assert_close(model(x), ref, rtol=1e-12, atol=1e-12)
    train_bn = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))  # training mode: untouched
    assert fold_batchnorms(train_bn) == 0


def test_a_model_without_convolutions_or_batchnorm() -> None:
    x = torch.rand(5, 4, 10)
    net = nn.Sequential(TimeDistributed(nn.Linear(10, 6)), LIF(backend="torch"))
    opt = ss.optimize(net, x)
    assert opt.optimize_report.chosen == "as given"
    torch.testing.assert_close(opt(x), net(x))


def test_bad_arguments_are_named() -> None:
    x = _input()
    with pytest.raises(TypeError, match="nn.Module"):
        ss.optimize(lambda t: t, x)
    with pytest.raises(TypeError, match="example input tensor"):
        ss.optimize(_net(), [x])
    with pytest.raises(ValueError, match="channels_last must be True, False or 'auto'"):
        ss.optimize(_net(), x, channels_last="yes")
    with pytest.raises(ValueError, match="repeats must be a positive int"):
        ss.optimize(_net(), x, repeats=0)
    if hasattr(torch, "float16"):
        with pytest.raises(ValueError, match="the model is on cpu but example_input on meta"):
            ss.optimize(_net(), x.to("meta"))


@pytest.mark.slow
def test_compile_candidate_runs_and_keeps_names() -> None:
    x = _input()
    net = _net()
    keys = list(net.state_dict())
    opt = ss.optimize(net, x, compile=True, channels_last=False, fast_kernels=False)
    report = opt.optimize_report
    assert "as given + torch.compile" in report.timings_ms or any(
        "torch.compile failed" in c for c in report.changes
    )
    assert list(opt.state_dict()) == keys
    torch.testing.assert_close(opt(x), net(x), rtol=1e-4, atol=1e-4)


def test_dropout_and_a_residual_zoo_model() -> None:
    """Random layers see the same draws in both float64 runs (seeded alike); a residual
    network from the zoo keeps its names and results."""
    from spikestack.models import create_model

    x = _input()
    net = _net()
    net.insert(6, TimeDistributed(nn.Dropout(0.5)))
    opt = ss.optimize(net, x, channels_last=True)
    assert opt.optimize_report.max_difference <= 1e-6
    torch.manual_seed(0)
    model = create_model("sew_resnet18", T=2, num_classes=5)
    keys = list(model.state_dict())
    image = torch.rand(2, 3, 32, 32)
    opt = ss.optimize(model, image, channels_last=True, repeats=1)
    assert list(opt.state_dict()) == keys
    assert opt.optimize_report.max_difference <= 1e-6


def test_inference_can_go_event_driven() -> None:
    from spikestack.layers import EventDriven

    x = _input()
    net = _trained_statistics(_net(), x).eval()
    opt = ss.optimize(net, x, event_driven=True, channels_last=False)
    assert opt.optimize_report.chosen == "event-driven"
    wrapped = [m for m in opt.modules() if isinstance(m, EventDriven)]
    assert len(wrapped) == 4  # two convolutions, two linear layers
    with torch.no_grad():
        torch.testing.assert_close(opt(x), net(x), rtol=1e-4, atol=1e-4)
    assert opt.optimize_report.max_difference <= 1e-6
    # never in training (the kernels have no backward) and never when told not to
    trained = ss.optimize(_net(), x, event_driven=True, check=False)
    assert not any(isinstance(m, EventDriven) for m in trained.modules())
    plain = ss.optimize(net, x, event_driven=False, channels_last=False)
    assert plain.optimize_report.chosen == "as given"


class _Slow(nn.Module):
    """A step that takes 30 ms longer, counting its calls (shared between deep copies)."""

    def __init__(self, calls: list) -> None:
        super().__init__()
        self.calls = calls

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        import time

        self.calls.append(1)
        time.sleep(0.03)
        return x


def test_a_much_slower_candidate_is_dropped_after_two_rounds(monkeypatch) -> None:
    import importlib

    module = importlib.import_module("spikestack.layers.optimize")

    calls: list = []

    def slow(model: nn.Module) -> nn.Module:
        model.insert(0, _Slow(calls))
        return model

    monkeypatch.setattr(module, "_options", lambda *a: {"as given": [], "slow": [slow]})
    opt = ss.optimize(_net(), _input(), repeats=5)
    report = opt.optimize_report
    assert report.chosen == "as given" and set(report.timings_ms) == {"as given", "slow"}
    assert report.timings_ms["slow"] > 30
    assert len(calls) == 3  # its warm-up and two timed rounds, not five


def test_the_float64_check_runs_on_check_input() -> None:
    x = _input()
    seen: list = []
    net = _net()
    net[0].register_forward_pre_hook(lambda m, args: seen.append((args[0].dtype, args[0].shape)))
    ss.optimize(net, x, check_input=x[:, :2], channels_last=False)
    checked = {shape for dtype, shape in seen if dtype == torch.float64}
    timed = {shape for dtype, shape in seen if dtype == torch.float32}
    assert checked == {x[:, :2].shape} and timed == {x.shape}
    with pytest.raises(TypeError, match="check_input must be a tensor"):
        ss.optimize(_net(), x, check_input=[x])
