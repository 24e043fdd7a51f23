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
    ids = {surrogates.get(n).kernel_spec()[0] for n in surrogates.list_surrogates()}
    assert len(ids) == len(surrogates.list_surrogates())

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
