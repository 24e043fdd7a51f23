"""Alpha, RLIF/RCUBALIF, LIF's delayed reset, Izhikevich, AdEx, EIF, QIF: equations by
hand, textbook firing patterns, SpikingJelly's QIF/EIF step by step, errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from spikestack.neurons import EIF, KLIF, LIF, QIF, RCUBALIF, RLIF, AdEx, Alpha, Izhikevich


def test_alpha_impulse_response_is_a_difference_of_exponentials() -> None:
    a, b = 1 - 1 / 10, 1 - 1 / 5
    c = math.log(a) / (math.log(b) - math.log(a)) + 1
    x = torch.zeros(30, 1)
    x[0] = 1.0
    out, _ = Alpha(10.0, 5.0, v_threshold=10.0)._run(x, None)
    neuron = Alpha(10.0, 5.0, v_threshold=10.0)
    state, trace = None, []
    for x_t in x:
        _, state = neuron.step(x_t, state)
        trace.append(float(state[0]))
    expected = [c * (a**t - b**t) for t in range(30)]
    assert trace == pytest.approx(expected, rel=1e-5, abs=1e-7)
    assert out.sum() == 0 and max(trace) > 0  # rises from 0, then decays
    assert trace.index(max(trace)) not in (0, 29)


def test_alpha_resets_every_trace_now_or_on_the_next_step() -> None:
    # V starts at 0 (the two traces cancel) and reaches c * 0.3 = 0.568 at step 1
    x = torch.tensor([3.0, 0.0, 1.0]).reshape(3, 1)
    now, (v, e, n) = Alpha(10.0, 5.0, v_threshold=0.5)._run(x[:2], None)
    assert now.flatten().tolist() == [0.0, 1.0]
    assert float(v) == float(e) == float(n) == 0.0  # reset at once
    later, state = Alpha(10.0, 5.0, v_threshold=0.5, reset_delay=True)._run(x[:2], None)
    assert later.flatten().tolist() == [0.0, 1.0] and float(state[0]) == pytest.approx(
        0.5683, abs=1e-4
    )
    later, state = Alpha(10.0, 5.0, v_threshold=0.5, reset_delay=True)._run(x, None)
    assert all(float(s) == 0 for s in state)  # step 2's input discarded by the reset
    with pytest.raises(ValueError, match="tau_decay .* must exceed tau_rise"):
        Alpha(5.0, 10.0)


def test_rlif_one_to_one_by_hand_and_connections() -> None:
    neuron = RLIF(2.0, weight=0.75, decay_input=False, v_reset=None)
    x = torch.tensor([1.2, 0.0, 0.0]).reshape(3, 1)
    out, (v, s) = neuron._run(x, None)
    # step 0 fires (1.2), keeps 0.2; step 1: 0.1 + 0.75 from its own spike = 0.85
    assert out.flatten().tolist() == [1.0, 0.0, 0.0]
    assert float(v.detach()) == pytest.approx(0.85 / 2)
    assert isinstance(RLIF(connection="linear", features=5).recurrent, nn.Linear)
    conv = RLIF(connection="conv", features=3, kernel_size=5).recurrent
    assert isinstance(conv, nn.Conv2d) and conv.padding == (2, 2)
    custom = nn.Linear(4, 4, bias=False)
    assert RLIF(recurrent=custom).recurrent is custom
    assert not any(p.requires_grad for p in RLIF(learn_recurrent=False).parameters())
    with pytest.raises(ValueError, match="needs features"):
        RLIF(connection="linear")
    with pytest.raises(ValueError, match="'one_to_one', 'linear' or 'conv'"):
        RLIF(connection="dense")
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        RLIF(connection="conv", features=2, kernel_size=2)


def test_rcubalif_current_integrates_the_recurrence_and_gradients_reach_it() -> None:
    neuron = RCUBALIF(2.0, 4.0, weight=0.5)
    x = torch.tensor([2.0, 0.0]).reshape(2, 1)
    out, (v, i, s) = neuron._run(x, None)
    assert out[0, 0] == 1 and float(i.detach()) == pytest.approx(2.0 * 0.75 + 0.5)
    torch.manual_seed(0)
    lin = RCUBALIF(connection="linear", features=4)
    lin(torch.rand(20, 3, 4) * 2).sum().backward()
    assert lin.recurrent.weight.grad is not None and lin.recurrent.weight.grad.abs().sum() > 0


def test_lif_reset_delay_runs_on_the_torch_loop_only() -> None:
    x = torch.tensor([1.5, 0.0, 0.0]).reshape(3, 1)
    out, v = LIF(2.0, v_reset=None, decay_input=False, reset_delay=True)._run(x, None)
    # fires at 0 keeping 1.5 as its membrane; step 1: 0.75 - 1 (the reset lands now)
    assert out.flatten().tolist() == [1.0, 0.0, 0.0]
    assert float(v) == pytest.approx(-0.25 / 2)
    with pytest.raises(ValueError, match="backend='cpu' has no delayed reset"):
        LIF(reset_delay=True, backend="cpu")


def test_reset_delay_has_no_nir_form() -> None:
    pytest.importorskip("nir")
    from spikestack.deploy import to_nir
    from spikestack.layers import TimeDistributed

    model = nn.Sequential(TimeDistributed(nn.Linear(3, 2)), LIF(reset_delay=True, v_reset=0.0))
    with pytest.raises(ValueError, match="reset_delay=True"):
        to_nir(model, torch.rand(4, 1, 3))


def spike_times_ms(neuron: Izhikevich, current: float, ms: float = 1000.0) -> torch.Tensor:
    x = torch.full((int(ms / neuron.dt), 1), current)
    return neuron(x)[:, 0].nonzero().flatten().double() * neuron.dt


def test_izhikevich_regular_spiking_adapts() -> None:
    isi = spike_times_ms(Izhikevich("regular_spiking"), 10.0).diff()
    assert len(isi) > 10
    assert isi[-1] > 1.5 * isi[0]  # spike-frequency adaptation
    assert (isi[1:] >= isi[:-1] - 1e-9).all()  # intervals only lengthen


def test_izhikevich_fast_spiking_fires_fast_without_adapting() -> None:
    fs = spike_times_ms(Izhikevich("fast_spiking"), 10.0)
    rs = spike_times_ms(Izhikevich("regular_spiking"), 10.0)
    assert len(fs) > 4 * len(rs)
    isi = fs.diff()[5:]
    assert isi.max() < 1.2 * isi.min()  # tonic: a steady rate


def test_izhikevich_chattering_and_intrinsic_bursting() -> None:
    ch = spike_times_ms(Izhikevich("chattering"), 10.0).diff()
    long = ch > 20.0
    assert long.sum() >= 5 and (~long).sum() >= 3 * long.sum()  # bursts, repeated
    ib = spike_times_ms(Izhikevich("intrinsically_bursting"), 10.0).diff()
    assert ib[0] < 10 and ib[1] < 10  # an initial burst...
    assert (ib[3:] > 20).all()  # ...then tonic spikes
    with pytest.raises(ValueError, match="unknown Izhikevich preset 'bursty'"):
        Izhikevich("bursty")
    assert Izhikevich("fast_spiking", d=4.0).d == 4.0


def test_adex_adapts_and_eif_does_not() -> None:
    x = torch.full((3000, 1), 1.5)
    isi = AdEx()(x)[:, 0].nonzero().flatten().diff()
    assert isi[-1] > 1.5 * isi[0]
    eif = EIF()(torch.full((300, 1), 0.5))[:, 0].nonzero().flatten().diff()
    assert len(eif) > 10 and (eif == eif[0]).all()


def test_exponential_argument_cannot_overflow() -> None:
    x = torch.full((3, 2), 1e4, requires_grad=True)
    out = AdEx()(x)
    out.sum().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("kind", ["qif", "eif"])
@pytest.mark.parametrize("v_reset", [-0.1, None])
def test_qif_and_eif_match_spikingjelly(kind: str, v_reset: float | None) -> None:
    sj = pytest.importorskip("spikingjelly.activation_based.neuron", reason="needs SpikingJelly")
    torch.manual_seed(0)
    x = torch.rand(150, 4, 6) * 0.8
    if kind == "qif":
        theirs = sj.QIFNode(tau=3.0, v_c=0.7, a0=1.2, v_reset=v_reset, step_mode="m")
        ours = QIF(3.0, v_c=0.7, a0=1.2, v_reset=v_reset)
    else:
        theirs = sj.EIFNode(tau=3.0, delta_T=0.8, theta_rh=0.7, v_reset=v_reset, step_mode="m")
        ours = EIF(3.0, delta_T=0.8, theta_rh=0.7, v_reset=v_reset)
    theirs.store_v_seq = True
    with torch.no_grad():
        their_spikes = theirs(x)
        their_v = theirs.v_seq
    # SpikingJelly starts a hard-reset neuron at v_reset, a soft-reset one at 0
    state = None
    if v_reset is not None:
        state = ours.init_state(x[0])
        _as_tuple(state)[0].fill_(v_reset)
    spikes, mems = [], []
    with torch.no_grad():
        for x_t in x:
            s, state = ours.step(x_t, state)
            spikes.append(s)
            mems.append(ours.named_state(state)["v"] if isinstance(state, tuple) else state)
    assert their_spikes.sum() > 20 and torch.equal(torch.stack(spikes), their_spikes)
    torch.testing.assert_close(torch.stack(mems), their_v, atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    "neuron",
    [Alpha(), RLIF(), RCUBALIF(), Izhikevich(), AdEx(tau_syn=3.0), EIF(), QIF()],
    ids=lambda n: type(n).__name__,
)
def test_gradients_reach_input_and_initial_state(neuron) -> None:
    torch.manual_seed(1)
    scale = 10.0 if isinstance(neuron, Izhikevich) else 1.0
    x = (torch.rand(12, 3, 4, dtype=torch.float64) * 2 * scale).requires_grad_()
    state = tuple(s.requires_grad_() for s in _as_tuple(neuron.init_state(x[0])))
    out, _ = neuron.double()._run(x, state if len(state) > 1 else state[0])
    (out * torch.rand_like(out)).sum().backward()
    assert x.grad.abs().sum() > 0 and torch.isfinite(x.grad).all()
    assert any(s.grad is not None and s.grad.abs().sum() > 0 for s in state)


def _as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.slow
@pytest.mark.parametrize(
    "make",
    [
        Alpha,
        lambda: RLIF(connection="linear", features=5),
        RCUBALIF,
        lambda: LIF(reset_delay=True, v_reset=None),
        Izhikevich,
        AdEx,
        EIF,
        QIF,
        KLIF,
    ],
    ids=[
        "Alpha",
        "RLIF",
        "RCUBALIF",
        "LIF-reset_delay",
        "Izhikevich",
        "AdEx",
        "EIF",
        "QIF",
        "KLIF",
    ],
)
def test_compiles_whole_graph_with_equal_outputs_and_gradients(make) -> None:
    torch._dynamo.reset()
    neuron = make()
    scale = 10.0 if isinstance(neuron, Izhikevich) else 2.0
    x = (torch.rand(8, 4, 5) * scale).requires_grad_()
    eager = neuron(x)
    (g_eager,) = torch.autograd.grad((eager * torch.arange(5.0)).sum(), x)
    compiled = torch.compile(neuron, fullgraph=True)(x)
    (g_compiled,) = torch.autograd.grad((compiled * torch.arange(5.0)).sum(), x)
    assert torch.equal(compiled, eager)
    torch.testing.assert_close(g_compiled, g_eager, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("scale_reset", [False, True])
@pytest.mark.parametrize("v_reset", [0.0, None])
def test_klif_matches_spikingjelly_with_gradients(scale_reset: bool, v_reset) -> None:
    from spikestack.surrogates import Sigmoid

    sj = pytest.importorskip("spikingjelly.activation_based.neuron", reason="needs SpikingJelly")
    torch.manual_seed(2)
    x = (torch.rand(100, 4, 6) * 1.5).requires_grad_()
    theirs = sj.KLIFNode(scale_reset=scale_reset, tau=3.0, v_reset=v_reset, step_mode="m")
    ours = KLIF(3.0, scale_reset=scale_reset, v_reset=v_reset, surrogate=Sigmoid(alpha=4.0))
    with torch.no_grad():
        theirs.k.fill_(1.3)
        ours.k.fill_(1.3)
    a, b = theirs(x), ours(x)
    assert a.sum() > 20 and torch.equal(a, b)
    w = torch.rand_like(a)
    g_theirs = torch.autograd.grad((a * w).sum(), [x, theirs.k])
    g_ours = torch.autograd.grad((b * w).sum(), [x, ours.k])
    for g1, g2 in zip(g_ours, g_theirs, strict=True):
        torch.testing.assert_close(g1, g2, rtol=1e-5, atol=1e-6)
