"""IF / LIF / PLIF against hand-computed sequences, streaming, state, pickling, errors."""

import pickle

import pytest
import torch

import spikestack as ss
from spikestack import functional as F
from spikestack.neurons import IF, LIF, PLIF
from spikestack.surrogates import ATan


def seq(values):
    return torch.tensor(values, dtype=torch.float64).view(-1, 1)


@pytest.mark.parametrize(
    "kwargs, x, spikes, v_final",
    [
        # tau=2, hard reset to 0: H = 0.75, 0.625, 1.0625 (fires -> 0), 0.75
        (dict(tau=2.0), [1.5, 0.5, 1.5, 1.5], [0, 0, 1, 0], 0.75),
        # soft reset keeps the overshoot: V3 = 0.0625, H4 = 0.78125
        (dict(tau=2.0, v_reset=None), [1.5, 0.5, 1.5, 1.5], [0, 0, 1, 0], 0.78125),
        # decay_input=False: H = V/2 + X = 0.6, 0.9, 1.05 (fires)
        (dict(tau=2.0, decay_input=False), [0.6, 0.6, 0.6], [0, 0, 1], 0.0),
        (dict(tau=2.0, decay_input=False, v_reset=None), [0.6, 0.6, 0.6], [0, 0, 1], 0.05),
        # v_reset=-0.5: rest is -0.5; H1 = -0.5 + (3.5 - 0)/2 = 1.25 fires; H2 = -0.5 + (1 - 0)/2 = 0
        (dict(tau=2.0, v_reset=-0.5), [3.5, 1.0], [1, 0], 0.0),
        # decay_input=False with v_reset=-0.5: H = V - (V + 0.5)/4 + X
        (dict(tau=4.0, v_reset=-0.5, decay_input=False), [1.0, 1.0], [0, 1], -0.5),
        # exactly on threshold fires: H = 0 + (2 - 0)/2 = 1.0
        (dict(tau=2.0), [2.0], [1], 0.0),
    ],
)
def test_lif_hand_computed(kwargs, x, spikes, v_final):
    s, v = F.lif(seq(x), return_state=True, backend="torch", **kwargs)
    assert s.view(-1).tolist() == spikes
    assert v.item() == pytest.approx(v_final, abs=1e-12)
    module = LIF(**kwargs, backend="torch")
    assert module(seq(x)).view(-1).tolist() == spikes


@pytest.mark.parametrize(
    "v_reset, spikes, v_final",
    [(0.0, [0, 1, 0, 0], 0.3), (None, [0, 1, 0, 0], 0.5)],
)
def test_if_hand_computed(v_reset, spikes, v_final):
    # H = 0.6, 1.2 (fires), then from 0 (hard) or 0.2 (soft)
    s, v = F.if_(seq([0.6, 0.6, 0.6, -0.3]), v_reset=v_reset, return_state=True, backend="torch")
    assert s.view(-1).tolist() == spikes
    assert v.item() == pytest.approx(v_final, abs=1e-12)


def test_plif_matches_lif_at_its_initial_tau_and_learns_tau():
    x = torch.rand(16, 4, 8, dtype=torch.float64) * 2
    plif = PLIF(init_tau=2.0, backend="torch").double()
    assert plif.tau == pytest.approx(2.0)
    assert torch.equal(plif(x), LIF(tau=2.0, backend="torch")(x))
    assert torch.equal(
        PLIF(init_tau=2.0, decay_input=False, v_reset=None, backend="torch").double()(x),
        LIF(tau=2.0, decay_input=False, v_reset=None, backend="torch")(x),
    )
    x.requires_grad_(True)
    plif(x).sum().backward()
    assert plif.w.grad is not None and plif.w.grad.abs() > 0


def test_plif_non_default_tau_closed_form():
    # init_tau=4: decay = sigmoid(-log 3) = 1/4. H1 = 0 + (2 - 0)/4 = 0.5; H2 = 0.5 + (3 - 0.5)/4 = 1.125 fires.
    s, v = F.plif(
        seq([2.0, 3.0]), PLIF(init_tau=4.0).w.double(), return_state=True, backend="torch"
    )
    assert s.view(-1).tolist() == [0, 1]
    assert v.item() == 0.0


def _sigma(x):
    return ATan(alpha=2.0).derivative(torch.tensor(x, dtype=torch.float64)).item()


@pytest.mark.parametrize("detach_reset", [False, True])
def test_detach_reset_gradient_by_hand(detach_reset):
    # IF, hard reset to 0, T = 2, loss = S[2]; x = (0.8, 0.1): H1 = 0.8 (no spike), H2 = 0.9.
    x = torch.tensor([[0.8], [0.1]], dtype=torch.float64, requires_grad=True)
    s = F.if_(x, detach_reset=detach_reset, backend="torch")
    s[1].sum().backward()
    h1, h2 = 0.8, 0.9
    dv1_dh1 = 1.0 if detach_reset else 1.0 - h1 * _sigma(h1 - 1)
    expected = [_sigma(h2 - 1) * dv1_dh1, _sigma(h2 - 1)]
    assert x.grad.view(-1).tolist() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("op", ["if", "lif", "plif"])
@pytest.mark.parametrize("v_reset", [0.0, None, -0.3])
@pytest.mark.parametrize("decay_input", [True, False])
def test_gradcheck_membrane_path_float64(op, v_reset, decay_input):
    # With detach_reset the final membrane is a piecewise-smooth function of x, v_init (and w):
    # autograd must agree with finite differences exactly (no surrogate on this path).
    torch.manual_seed(0)
    x = (torch.rand(6, 3, dtype=torch.float64) * 1.2).requires_grad_(True)
    v0 = (torch.rand(3, dtype=torch.float64) * 0.5 - 0.2).requires_grad_(True)
    w = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    common = dict(v_reset=v_reset, detach_reset=True, return_state=True, backend="torch")

    def final_v(x, v0, w):
        if op == "if":
            return F.if_(x, v_init=v0, **common)[1]
        if op == "lif":
            return F.lif(x, v_init=v0, tau=3.0, decay_input=decay_input, **common)[1]
        return F.plif(x, w, v_init=v0, decay_input=decay_input, **common)[1]

    assert torch.autograd.gradcheck(final_v, (x, v0, w))


@pytest.mark.parametrize(
    "make", [lambda: IF(), lambda: LIF(tau=3.0, v_reset=None), lambda: PLIF(decay_input=False)]
)
def test_streaming_equals_multistep(make):
    neuron = make()
    x = torch.rand(10, 3, 5) * 1.5
    x_stream = x.clone().requires_grad_(True)
    x_multi = x.clone().requires_grad_(True)
    expected = neuron(x_multi)
    state, outs = None, []
    for x_t in x_stream:
        s_t, state = neuron.step(x_t, state)
        outs.append(s_t)
    streamed = torch.stack(outs)
    assert torch.equal(streamed, expected)
    (streamed * torch.arange(10.0).view(-1, 1, 1)).sum().backward()
    (expected * torch.arange(10.0).view(-1, 1, 1)).sum().backward()
    torch.testing.assert_close(x_stream.grad, x_multi.grad)


def test_multistep_call_keeps_no_state_and_stateful_carries_it():
    x = torch.rand(8, 2, 4) * 2
    lif = LIF()
    assert torch.equal(lif(x), lif(x))
    assert lif.state is None
    carry = LIF(stateful=True)
    first, second = carry(x[:4]), carry(x[4:])
    assert torch.equal(torch.cat([first, second]), lif(x))
    model = torch.nn.Sequential(carry)
    assert ss.reset(model) is model and carry.state is None
    assert torch.equal(carry(x[4:]), lif(x[4:]))
    with pytest.raises(ValueError, match="stateful"):
        carry(torch.rand(2, 3, 4))


@pytest.mark.parametrize(
    "module",
    [
        IF(),
        LIF(tau=3.0, v_reset=None, surrogate=ss.surrogates.Sigmoid(alpha=5.0)),
        PLIF(init_tau=3.0),
    ],
)
def test_modules_pickle(module):
    x = torch.rand(5, 2, 3) * 2
    clone = pickle.loads(pickle.dumps(module))
    assert torch.equal(clone(x), module(x))
    assert repr(clone) == repr(module)


def test_backends_agree_through_dispatch():
    x = torch.rand(6, 3, 7) * 2
    assert "torch" in ss.kernels.available_backends()
    for backend in ss.kernels.available_backends():
        assert torch.equal(LIF(backend=backend)(x), LIF(backend="torch")(x))
    with pytest.raises(ValueError, match="backend must be one of"):
        LIF(backend="cuda")


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: LIF()(torch.rand(5)), ValueError, r"\[T, B, \.\.\.\]"),
        (lambda: LIF()(torch.ones(3, 2, dtype=torch.int64)), TypeError, "floating-point"),
        (lambda: LIF()(torch.rand(0, 2)), ValueError, "T >= 1"),
        (lambda: LIF()(list([1.0])), TypeError, "torch.Tensor"),
        (lambda: LIF().step(torch.rand(2, 3), torch.zeros(3)), ValueError, "state shape"),
        (lambda: F.lif(torch.rand(3, 2), v_init=torch.zeros(5)), ValueError, "state shape"),
        (lambda: LIF(tau=1.0), ValueError, "tau must be"),
        (lambda: LIF(tau=0.5), ValueError, "tau must be"),
        (lambda: PLIF(init_tau=1.0), ValueError, "tau must be"),
        (lambda: LIF(v_threshold=-1.0), ValueError, "v_threshold"),
        (lambda: IF(v_threshold=0.0), ValueError, "v_threshold"),
        (lambda: LIF(v_reset=2.0), ValueError, "v_reset must be below"),
        (lambda: LIF(surrogate="atan"), TypeError, "surrogate must be"),
        (lambda: F.plif(torch.rand(3, 2), torch.zeros(2)), ValueError, "one-element"),
    ],
)
def test_bad_input_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_registry():
    assert {"if", "lif", "plif"} <= set(ss.neurons.list_neurons())
    lif = ss.neurons.create_neuron("lif", tau=3.0)
    assert isinstance(lif, LIF) and lif.tau == 3.0
    with pytest.raises(ValueError, match="did you mean"):
        ss.neurons.create_neuron("lift")
