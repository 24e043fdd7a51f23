"""Monitor: spikes, inputs, membranes, gradients and rates of chosen layers; the plots."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spikestack.analysis import Monitor, membrane_trace, plot
from spikestack.layers import TimeDistributed
from spikestack.neurons import LIF, PSN


def net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(TimeDistributed(nn.Linear(4, 6)), LIF(tau=2.0, v_threshold=0.3),
                         TimeDistributed(nn.Linear(6, 3)), LIF(tau=2.0, v_threshold=0.3))  # fmt: skip


def test_records_what_each_layer_did() -> None:
    model = net()
    x = torch.rand(8, 2, 4)
    with Monitor(model, record=("spikes", "input", "membrane", "gradient")) as mon:
        out = model(x)
        out.sum().backward()
    assert sorted(mon.records) == ["1", "3"]
    assert torch.equal(mon.get("3"), out.detach())
    hidden_in = model[0](x).detach()
    torch.testing.assert_close(mon.get("1", "input"), hidden_in)
    v = mon.get("1", "membrane")
    assert v.shape == (8, 2, 6) and torch.equal(v, membrane_trace(model[1], hidden_in))
    # a LIF membrane: after a spike it is back at the reset value 0
    assert torch.all(v[mon.get("1").bool()] == 0)
    assert mon.get("3", "gradient").shape == out.shape
    rates = mon.rates()
    assert rates["3"] == pytest.approx(float(out.detach().mean()))
    assert "layer" in mon.summary() and "3" in mon.summary()
    model(x)  # detached: nothing more is recorded
    assert mon.get("3").shape[1] == 2


def test_choices_caps_and_errors() -> None:
    model = net()
    with Monitor(model, layers=["3"]) as mon:
        model(torch.rand(4, 1, 4))
    assert list(mon.records) == ["3"]
    with Monitor(model, layers=nn.Linear, record=("spikes",)) as mon:
        model(torch.rand(4, 1, 4))
    assert sorted(mon.records) == ["0.module", "2.module"]
    with pytest.warns(UserWarning, match="keeping rates only"):
        with Monitor(model, max_bytes=200) as mon:
            model(torch.rand(50, 1, 4))
    assert mon.rates()["1"] >= 0
    with pytest.raises(ValueError, match="record takes"):
        Monitor(model, record=("voltage",))
    with pytest.raises(ValueError, match=r"no module\(s\) \['9'\]"):
        Monitor(model, layers=["9"])
    with pytest.raises(ValueError, match="no step-by-step membrane"):
        membrane_trace(PSN(T=4), torch.zeros(4, 1, 2))


def test_recordings_past_the_cap_stream_to_disk(tmp_path) -> None:
    model = net()
    xs = [torch.rand(20, 2, 4) for _ in range(4)]
    with Monitor(model, layers=["1"], record=("spikes", "input")) as everything:
        for x in xs:
            model(x)
    spill = tmp_path / "spill"
    with Monitor(
        model, layers=["1"], record=("spikes", "input"), max_bytes=1000, spill_dir=spill
    ) as mon:
        for x in xs:
            model(x)
    on_disk = sorted(spill.glob("*.pt"))
    assert on_disk and not list(spill.glob("*.tmp*"))  # written whole, atomically
    for kind in ("spikes", "input"):
        assert torch.equal(mon.get("1", kind), everything.get("1", kind))


def test_plots_draw_what_they_are_given(tmp_path) -> None:
    spikes = (torch.rand(20, 3, 10) < 0.2).float()
    fig = plot.raster(spikes, sample=1)
    assert len(fig.axes[0].collections[0].get_offsets()) == int(spikes[:, 1].sum())
    fig.savefig(tmp_path / "raster.png")
    fig = plot.membrane(torch.randn(20, 10), threshold=1.0, neurons=3)
    assert len(fig.axes[0].lines) == 4  # three traces and the threshold
    fig = plot.rate_histogram(spikes)
    assert sum(p.get_height() for p in fig.axes[0].patches) == 10
    fig = plot.layer_rates({"a": 0.1, "b": 0.3})
    assert [p.get_width() for p in fig.axes[0].patches] == [0.1, 0.3]
    assert (tmp_path / "raster.png").stat().st_size > 0
    with pytest.raises(ValueError, match="no layer rates"):
        plot.layer_rates({})
    gif = plot.animate((torch.rand(5, 2, 3, 6, 6) < 0.3).float(), tmp_path / "s.gif", sample=1)
    from PIL import Image

    with Image.open(gif) as img:
        assert img.format == "GIF" and img.n_frames == 5
    with pytest.raises(ValueError, match="animate takes"):
        plot.animate(torch.zeros(5, 6), tmp_path / "bad.gif")
