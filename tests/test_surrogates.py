import dataclasses
import math
import pickle

import pytest
import torch

from spikestack import surrogates
from spikestack.surrogates import ATan, Surrogate, SurrogateId

ALL = [surrogates.get(name) for name in surrogates.list_surrogates()]


def test_registry_lists_every_builtin():
    assert surrogates.list_surrogates() == sorted(
        [
            "atan",
            "sigmoid",
            "fast_sigmoid",
            "piecewise_quadratic",
            "rectangle",
            "triangle",
            "erf",
            "gaussian",
            "soft_sign",
            "piecewise_exp",
            "leaky_k_relu",
            "straight_through",
            "s2nn",
            "q_pseudo_spike",
            "spike_rate_escape",
        ]
    )


def test_get_with_parameters_and_errors():
    assert surrogates.get("atan", alpha=3.0) == ATan(alpha=3.0)
    assert surrogates.get("ATan") == ATan()
    with pytest.raises(ValueError, match="did you mean atan"):
        surrogates.get("atn")
    with pytest.raises(TypeError):
        surrogates.get("atan", beta=1.0)
    with pytest.raises(ValueError, match="alpha must be a finite number > 0"):
        ATan(alpha=-1.0)


def test_registry_rejects_duplicate_names():
    with pytest.raises(ValueError, match="already registered"):

        @surrogates.register("atan")
        class Again(Surrogate):
            def derivative(self, x):
                return torch.ones_like(x)


@pytest.mark.parametrize("surrogate", ALL, ids=lambda s: type(s).__name__)
def test_forward_is_heaviside_firing_at_zero(surrogate):
    x = torch.tensor([-1.0, -1e-7, 0.0, 1e-7, 2.0])
    assert surrogate(x).tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize("surrogate", ALL, ids=lambda s: type(s).__name__)
def test_backward_multiplies_by_derivative(surrogate):
    x = torch.linspace(-2, 2, 41, dtype=torch.float64, requires_grad=True)
    g = torch.rand(41, dtype=torch.float64)
    surrogate(x).backward(g)
    torch.testing.assert_close(x.grad, g * surrogate.derivative(x.detach()))


@pytest.mark.parametrize("surrogate", ALL, ids=lambda s: type(s).__name__)
def test_pickle_round_trip_and_frozen(surrogate):
    clone = pickle.loads(pickle.dumps(surrogate))
    assert clone == surrogate and type(clone) is type(surrogate)
    with pytest.raises(dataclasses.FrozenInstanceError):
        surrogate.alpha = 5.0


UNIT_AREA = [
    "atan",
    "sigmoid",
    "piecewise_quadratic",
    "rectangle",
    "erf",
    "gaussian",
    "soft_sign",
    "piecewise_exp",
]


@pytest.mark.parametrize("name", UNIT_AREA)
def test_derivative_integrates_to_one(name):
    # Each of these is the derivative of a smooth step going from 0 to 1.
    x = torch.linspace(-400, 400, 2_000_001, dtype=torch.float64)
    area = torch.trapezoid(surrogates.get(name).derivative(x), x)
    assert abs(float(area) - 1.0) < 2e-3


def test_closed_forms_at_points():
    x = torch.tensor([0.0, 0.5], dtype=torch.float64)
    torch.testing.assert_close(
        ATan(alpha=2.0).derivative(x),
        torch.tensor([1.0, 1 / (1 + (math.pi / 2) ** 2)], dtype=torch.float64),
    )
    torch.testing.assert_close(
        surrogates.FastSigmoid(alpha=25.0).derivative(x),
        torch.tensor([1.0, 1 / 13.5**2], dtype=torch.float64),
    )
    torch.testing.assert_close(
        surrogates.Rectangle(alpha=1.0).derivative(x), torch.tensor([1.0, 0.0], dtype=torch.float64)
    )
    torch.testing.assert_close(
        surrogates.Triangle(alpha=1.0, gamma=0.3).derivative(x),
        torch.tensor([0.3, 0.15], dtype=torch.float64),
    )
    torch.testing.assert_close(
        surrogates.LeakyKReLU(k=2.0, leak=0.1).derivative(torch.tensor([-1.0, 1.0])),
        torch.tensor([0.1, 2.0]),
    )


def test_kernel_spec_only_for_unmodified_builtins():
    assert ATan(alpha=3.0).kernel_spec() == (SurrogateId.ATAN, 3.0, 0.0)
    assert surrogates.Triangle(alpha=2.0, gamma=0.5).kernel_spec()[1:] == (2.0, 0.5)
    specs = [surrogates.get(n).kernel_spec() for n in surrogates.list_surrogates()]
    ids = {spec[0] for spec in specs if spec is not None}
    assert len(ids) == len(SurrogateId) - 1  # every built-in id once; CUSTOM is no surrogate
    assert surrogates.S2NN().kernel_spec() is None  # no kernel formula: derivative as a tensor

    class Steeper(ATan):  # overrides the math: must not be treated as the built-in
        def derivative(self, x):
            return 2 * super().derivative(x)

    class Mine(Surrogate):
        def derivative(self, x):
            return torch.exp(-x.abs())

    assert Steeper().kernel_spec() is None
    assert Mine().kernel_spec() is None


def test_every_surrogate_id_is_one_builtin_with_a_kernel_formula():
    from spikestack.kernels._plan import surrogate_constants

    builtin = [sid for sid in SurrogateId if sid is not SurrogateId.CUSTOM]
    assert {sid.name.lower() for sid in builtin} <= set(surrogates.list_surrogates())
    for sid in builtin:
        surrogate = surrogates.get(sid.name.lower())
        assert type(surrogate).kernel_id is sid
        assert surrogate_constants(surrogate)[0] is sid
    assert surrogate_constants(Box())[0] is SurrogateId.CUSTOM


class Box(Surrogate):
    """A user-defined surrogate: only ``derivative`` is written."""

    def derivative(self, x):
        return (x.abs() < 1).to(x.dtype) * 0.5


def test_user_subclass_defining_only_derivative_works():
    x = torch.tensor([-2.0, -0.5, 0.5, 2.0], requires_grad=True)
    y = Box()(x)
    assert y.tolist() == [0.0, 0.0, 1.0, 1.0]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.5, 0.5, 0.0]
    assert pickle.loads(pickle.dumps(Box())) == Box()


def test_new_surrogates_closed_forms():
    x = torch.tensor([-1.0, 0.0, 1.0, 3.0], dtype=torch.float64)
    assert surrogates.StraightThrough().derivative(x).tolist() == [1.0] * 4
    sg = torch.sigmoid(torch.tensor(-4.0, dtype=torch.float64))
    torch.testing.assert_close(
        surrogates.S2NN(alpha=4.0, beta=1.0).derivative(x),
        torch.stack([4 * sg * (1 - sg), *torch.tensor([1.0, 0.5, 0.25], dtype=torch.float64)]),
    )
    assert torch.isfinite(surrogates.S2NN().derivative(torch.tensor([-1.0, -5.0]))).all()
    torch.testing.assert_close(
        surrogates.QPseudoSpike(alpha=3.0).derivative(x),
        torch.tensor([2.0**-3, 1.0, 2.0**-3, 4.0**-3], dtype=torch.float64),
    )
    torch.testing.assert_close(
        surrogates.SpikeRateEscape(beta=2.0, slope=10.0, shift=1.0).derivative(x),
        10 * torch.exp(-2 * (x - 1).abs()),
    )
    with pytest.raises(ValueError, match="alpha must be a number > 1"):
        surrogates.QPseudoSpike(alpha=1.0)
    with pytest.raises(ValueError, match="S2NN.beta"):
        surrogates.S2NN(beta=0.0)


def test_new_surrogates_match_spikingjelly_and_snntorch_gradients():
    x = torch.linspace(-3, 3, 61, requires_grad=True)
    checked = 0
    try:
        from spikingjelly.activation_based import surrogate as sj
    except ImportError:
        sj = None
    if sj is not None:
        for theirs, ours in (
            (sj.S2NN(alpha=4.0, beta=1.0), surrogates.S2NN(alpha=4.0, beta=1.0)),
            (sj.QPseudoSpike(alpha=2.5), surrogates.QPseudoSpike(alpha=2.5)),
        ):
            (g_theirs,) = torch.autograd.grad(theirs(x).sum(), x)
            (g_ours,) = torch.autograd.grad(ours(x).sum(), x)
            torch.testing.assert_close(g_ours, g_theirs)
            checked += 1
    try:
        from snntorch import surrogate as st
    except ImportError:
        st = None
    if st is not None:
        for theirs, ours in (
            (st.straight_through_estimator(), surrogates.StraightThrough()),
            (st.spike_rate_escape(beta=2, slope=5), surrogates.SpikeRateEscape(2.0, 5.0, 1.0)),
        ):
            (g_theirs,) = torch.autograd.grad(theirs(x).sum(), x)
            (g_ours,) = torch.autograd.grad(ours(x).sum(), x)
            torch.testing.assert_close(g_ours, g_theirs)
            checked += 1
    if not checked:
        pytest.skip("needs spikingjelly or snntorch (the peers extra)")


@pytest.mark.parametrize(
    "surrogate",
    [
        surrogates.StraightThrough(),
        surrogates.S2NN(),
        surrogates.QPseudoSpike(),
        surrogates.SpikeRateEscape(),
    ],
    ids=lambda s: type(s).__name__,
)
def test_new_surrogates_in_the_fused_cpu_kernel(surrogate):
    from spikestack.functional import lif

    torch.manual_seed(0)
    x = (torch.rand(6, 3, 5) * 1.5).requires_grad_()
    grads = []
    for backend in ("torch", "cpu"):
        out = lif(x, surrogate=surrogate, backend=backend, v_reset=None)
        (g,) = torch.autograd.grad((out * torch.arange(5.0)).sum(), x)
        grads.append((out.detach(), g))
    assert torch.equal(grads[0][0], grads[1][0])
    torch.testing.assert_close(grads[1][1], grads[0][1], rtol=1e-5, atol=1e-6)
