"""Event-driven inference: equal to the dense layers, counts the synaptic operations the
energy estimate counts, and falls back to dense wherever it cannot or should not run."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spikestack.deploy.energy import estimate_energy
from spikestack.layers import TimeDistributed
from spikestack.layers.event_driven import EventDriven, event_driven, sparse_summary
from spikestack.neurons import LIF
from spikestack.neurons.base import reset

LAYERS = {
    "linear": lambda: nn.Linear(300, 77),
    "linear, no bias": lambda: nn.Linear(64, 5, bias=False),
    "linear, full blocks and a rest": lambda: nn.Linear(40, 600),  # 4 blocks of 128 + 88
    "conv 3x3": lambda: nn.Conv2d(8, 12, 3, padding=1),
    "conv stride 2": lambda: nn.Conv2d(8, 12, 3, stride=2),
    "conv 5x5 dilated": lambda: nn.Conv2d(8, 12, 5, stride=2, padding=2, dilation=2),
    "conv grouped": lambda: nn.Conv2d(8, 12, 3, padding=1, groups=4),
    "conv depthwise": lambda: nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False),
    "conv 1x1": lambda: nn.Conv2d(8, 12, 1),
    "conv valid": lambda: nn.Conv2d(8, 4, (2, 3), padding="valid"),
    "conv1d": lambda: nn.Conv1d(4, 6, 3, padding=1, stride=2),
}


def spikes_for(layer: nn.Module, rate: float, dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    shape = {nn.Linear: (6, 5, layer.in_features) if isinstance(layer, nn.Linear) else None,
             nn.Conv2d: (7, 8, 13, 11), nn.Conv1d: (5, 4, 20)}[type(layer)]  # fmt: skip
    return (torch.rand(shape, generator=g) < rate).to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_equal_to_the_dense_layer_and_counts_its_sops(name, dtype) -> None:
    torch.manual_seed(0)
    layer = LAYERS[name]().to(dtype)
    wrapped = EventDriven(layer, mode="sparse")
    for rate, scale in ((0.05, 1.0), (0.3, 1.0), (0.2, 0.37), (0.0, 1.0)):
        x = spikes_for(layer, rate, dtype) * scale
        with torch.no_grad():
            got, want = wrapped(x), layer(x)
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert wrapped.calls == {"event-driven": 4, "dense": 0} and wrapped.macs == 0
    # the accumulates done equal the energy estimate's SOPs for the same inputs
    wrapped.reset_counts()
    x = spikes_for(layer, 0.1, dtype, seed=1)
    with torch.no_grad():
        wrapped(x)
    report = estimate_energy(layer, [x])
    assert wrapped.sops == round(report.totals["sop"] * report.samples)


def test_integer_weights_give_exactly_the_dense_result() -> None:
    conv = nn.Conv2d(8, 12, 3, padding=1)
    with torch.no_grad():
        conv.weight.copy_(torch.randint(-4, 5, conv.weight.shape))
        conv.bias.zero_()
        x = spikes_for(conv, 0.2, torch.float32)
        assert torch.equal(EventDriven(conv, "sparse")(x), conv(x))


def test_sparse_values_are_weighted_and_counted_as_macs() -> None:
    """Input that is sparse but not spikes (event counts, signed values, an analog image)
    runs the same kernels, each non-zero times its weights: equal output, MACs counted."""
    conv = nn.Conv2d(2, 6, 3, padding=1)
    wrapped = EventDriven(conv, mode="sparse")
    g = torch.Generator().manual_seed(0)
    counts = torch.poisson(torch.full((4, 2, 9, 9), 0.3), generator=g)  # 0, 1, 2, ...
    signed = (torch.rand(4, 2, 9, 9, generator=g) < 0.2).float() - (
        torch.rand(4, 2, 9, 9, generator=g) < 0.2
    ).float()
    with torch.no_grad():
        for x in (counts, signed, torch.randn(4, 2, 9, 9)):
            torch.testing.assert_close(wrapped(x), conv(x), rtol=1e-5, atol=1e-5)
    assert wrapped.calls == {"event-driven": 3, "dense": 0} and wrapped.spike_calls == 0
    assert wrapped.sops == 0 and wrapped.macs > 0
    wrapped.reset_counts()
    with torch.no_grad():
        wrapped(counts)
    layer = nn.Linear(18, 3)
    flat = EventDriven(layer, mode="sparse")
    rows = counts.permute(0, 2, 3, 1).reshape(-1, 18)[:40]
    with torch.no_grad():
        torch.testing.assert_close(flat(rows), layer(rows), rtol=1e-5, atol=1e-5)
    assert flat.macs == int((rows != 0).sum()) * 3 and flat.sops == 0


@pytest.mark.parametrize("bounds", [(0, 23), (0, 1, 9, 23), (0, 0, 5, 23, 23)])
def test_linear_kernel_cut_into_row_parts(bounds) -> None:
    """The linear kernel's tasks are column blocks times row parts (more parts when there
    are fewer blocks than threads): every cut, empty parts included, gives the dense
    result, for spikes of value c and for other values."""
    import numpy as np

    from spikestack.kernels import sparse, sparse_kernels

    layer = nn.Linear(50, 300)
    weight_b = sparse.linear_weight(layer.weight)  # 300 outputs: 3 blocks, the last partial
    assert weight_b.shape == (-(-300 // sparse_kernels.BLOCK), 50, sparse_kernels.BLOCK)
    bias = layer.bias.detach().numpy()
    cut = np.array(bounds, dtype=np.int64)
    g = torch.Generator().manual_seed(0)
    spikes = (torch.rand(23, 50, generator=g) < 0.2).float() * 0.5
    values = torch.randn(23, 50, generator=g) * (torch.rand(23, 50, generator=g) < 0.3)
    for x, are_spikes in ((spikes, True), (values, False)):
        found = sparse.scan(x)
        assert found.spikes == are_spikes
        starts, columns, values = found.lists
        cuts, rows, placed = sparse_kernels.by_column(starts, columns, values, 50, cut)
        assert cuts.shape == (len(bounds), 50) and (np.diff(cuts, axis=0) >= 0).all()
        out = np.empty((23, 300), dtype=np.float32)
        scale = np.float32(values[0] if found.spikes else 1)
        sparse_kernels.linear(cuts, rows, placed, cut, weight_b, bias, out, found.spikes, scale)
        torch.testing.assert_close(torch.from_numpy(out), layer(x).detach(), rtol=1e-5, atol=1e-5)


def test_scan_lists_the_non_zeros_of_each_row() -> None:
    """The row lists equal numpy's non-zeros, for empty rows, full rows, -0.0 (a zero),
    negative and mixed values; spikes only when every non-zero is one value c > 0."""
    import numpy as np

    from spikestack.kernels import sparse

    x = torch.zeros(6, 9)
    x[1, [0, 4, 8]] = 0.5
    x[2] = 0.5  # a full row
    x[3, 2] = -0.0
    x[4, [1, 3]] = 0.5
    found = sparse.scan(x)
    starts, columns, values = found.lists
    rows, cols = np.nonzero(x.numpy())
    assert (
        starts.tolist() == np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=6))]).tolist()
    )
    assert columns.tolist() == cols.tolist() and (values == 0.5).all()
    assert found.spikes and found.rate == len(cols) / x.numel()
    for other in (-0.5, 0.25):
        y = x.clone()
        y[4, 3] = other
        assert not sparse.scan(y).spikes
    assert not sparse.scan(-x).spikes
    empty = sparse.scan(torch.zeros(3, 4))
    assert empty.rate == 0 and empty.lists[1].size == 0 and empty.lists[0].tolist() == [0] * 4


def test_linear_refuses_weights_blocked_for_another_width() -> None:
    from spikestack.kernels import sparse

    found = sparse.scan(torch.ones(2, 3))
    weight_b = sparse.linear_weight(torch.ones(300, 3))
    with pytest.raises(ValueError, match="do not hold 700 output features"):
        sparse.linear(found, 2, weight_b, None, torch.float32, 700)


def test_what_it_cannot_take_runs_dense() -> None:
    layer = nn.Linear(32, 4)
    wrapped = EventDriven(layer, mode="sparse")
    with torch.no_grad():
        half = EventDriven(nn.Linear(32, 4).to(torch.bfloat16), "sparse")
        half(spikes_for(layer, 0.2, torch.bfloat16))  # a dtype the kernels do not take
        assert half.calls == {"event-driven": 0, "dense": 1}
    x = spikes_for(layer, 0.2, torch.float32)
    out = wrapped(x)  # a gradient to keep: dense, and it flows
    out.sum().backward()
    assert layer.weight.grad is not None
    assert wrapped.calls == {"event-driven": 0, "dense": 1}
    assert (
        EventDriven(nn.Conv2d(2, 2, 3, padding=1, padding_mode="reflect"), "sparse").geometry
        is None
    )


def test_a_changed_weight_is_laid_out_again() -> None:
    layer = nn.Linear(40, 6)
    wrapped = EventDriven(layer, mode="sparse")
    x = spikes_for(layer, 0.3, torch.float32)
    with torch.no_grad():
        wrapped(x)
        layer.weight.mul_(-2.0)
        torch.testing.assert_close(wrapped(x), layer(x))


def test_auto_takes_the_path_its_measured_crossover_says() -> None:
    layer = nn.Linear(256, 128)
    wrapped = EventDriven(layer, mode="auto")
    with torch.no_grad():
        for rate in (0.01, 0.6):
            x = spikes_for(layer, rate, torch.float32, seed=int(rate * 100))
            before = dict(wrapped.calls)
            torch.testing.assert_close(wrapped(x), layer(x))
            crossover = wrapped.crossovers[wrapped.shape_key(x)]
            assert 0.0 <= crossover.rate <= 1.0 and crossover.dense_s > 0
            assert len(crossover.sparse_s) == 2  # timed at the input's rate and a probe's
            assert sum(wrapped.calls.values()) == sum(before.values()) + 1
            if crossover.rate == 0.0:  # event-driven never pays: never taken
                assert wrapped.calls["dense"] == before["dense"] + 1


def test_a_fixed_crossover_decides_without_measuring() -> None:
    layer = nn.Linear(64, 8)
    wrapped = EventDriven(layer, mode="auto", crossover=0.2)
    with torch.no_grad():
        for rate, path in ((0.05, "event-driven"), (0.5, "dense")):
            x = spikes_for(layer, rate, torch.float32)
            before = wrapped.calls[path]
            torch.testing.assert_close(wrapped(x), layer(x))
            assert wrapped.calls[path] == before + 1
    assert wrapped.crossovers[wrapped.shape_key(x)].sparse_s == ()  # nothing was timed
    with pytest.raises(ValueError, match="crossover must be an input rate"):
        EventDriven(layer, crossover=1.5)


def test_event_driven_copy_of_a_network() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(
        TimeDistributed(nn.Conv2d(2, 8, 3, padding=1)), LIF(v_threshold=0.3),
        TimeDistributed(nn.Conv2d(8, 8, 3, stride=2, padding=1)), LIF(v_threshold=0.3),
        nn.Flatten(2), TimeDistributed(nn.Linear(8 * 8 * 8, 10)),
    ).eval()  # fmt: skip
    x = (torch.rand(4, 3, 2, 16, 16) < 0.1).float()
    fast = event_driven(net, mode="sparse")
    assert not any(isinstance(m, EventDriven) for m in net.modules())  # the original is kept
    with torch.no_grad():
        want = net(x)
        reset(net)
        got = fast(x)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    rows = sparse_summary(fast)
    assert [r["type"] for r in rows] == ["Conv2d", "Conv2d", "Linear"]
    assert all(r["event_driven_calls"] == 1 and r["spike_calls"] == 1 for r in rows)
    assert rows[0]["sops"] > 0 and 0.05 < rows[0]["input_rate"] < 0.15


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="EventDriven wraps nn.Linear"):
        EventDriven(nn.ReLU())
    with pytest.raises(ValueError, match="mode must be one of"):
        EventDriven(nn.Linear(2, 2), mode="fast")
    with pytest.raises(ValueError, match="mode must be one of"):
        event_driven(nn.Linear(2, 2), mode="fast")


def test_bench_sparse_prints_both_layers_and_their_crossover(capsys) -> None:
    from spikestack.cli import main

    assert main(["bench", "sparse", "--quick", "--rates", "2", "30", "--rows", "16"]) == 0
    out = capsys.readouterr().out
    assert "linear 512 -> 512" in out and "conv 3x3, 64 -> 64 channels" in out
    assert out.count("crossover: ") == 2 and "faster" in out
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [r[0] for r in rows] == ["2%", "30%", "2%", "30%"]
    assert all(r[-1] in ("event-driven", "dense") and float(r[3]) > 0 for r in rows)
    if not torch.cuda.is_available():
        assert main(["bench", "sparse", "--device", "cuda"]) == 2  # one line: no CUDA device


def test_the_sample_auto_decides_on() -> None:
    """64 runs of 256 values of the input's memory, any dense layout; small or strided
    inputs are counted whole."""
    from spikestack.layers.event_driven import _sampled_rate

    g = torch.Generator().manual_seed(0)
    x = (torch.rand(8, 64, 32, 32, generator=g) < 0.05).float()
    for t in (x, x.contiguous(memory_format=torch.channels_last), x[2:]):
        assert abs(_sampled_rate(t) - 0.05) < 0.01
    small = torch.zeros(10, 10)
    small[0, :3] = 1
    assert _sampled_rate(small) == 0.03
    strided = x[:, ::2]  # not dense: counted whole
    assert _sampled_rate(strided) == float((strided != 0).float().mean())
