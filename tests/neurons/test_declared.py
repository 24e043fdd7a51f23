"""The library's ALIF, CUBALIF, LIAF, EIF, AdEx, QIF and Izhikevich run kernels generated from
their declarations (spikestack.neurons.declared): every option gives the torch loop's
spikes and states bit for bit (EIF/AdEx: within exp's rounding), gradients within float32
rounding, in numba and in Triton's interpreter."""

from __future__ import annotations

import pytest
import torch
from _triton import require_device_or_interpreter

from spikestack.neurons import ALIF, CUBALIF, EIF, LIAF, QIF, AdEx, Izhikevich
from spikestack.surrogates import ATan, Sigmoid


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SPIKESTACK_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def both(make, x, state=None, backend="auto"):
    """(outputs, final states, input gradient) of the generated kernels and the torch loop."""
    results = []
    for chosen in (backend, "torch"):
        neuron = make(chosen)
        xi = x.clone().requires_grad_()
        out, final = neuron._run(xi, state)
        finals = final if isinstance(final, tuple) else (final,)
        weights = torch.linspace(-1, 1, out.numel()).reshape(out.shape)
        loss = (out * weights).sum() + sum((f * 0.3).sum() for f in finals)
        loss.backward()
        results.append((out.detach(), tuple(f.detach() for f in finals), xi.grad))
    return results


def check(results, *, exact_output=True, exact_states=True) -> None:
    (a, fa, ga), (b, fb, gb) = results
    if exact_output:
        assert torch.equal(a, b)
    else:  # an analog output through exp: a unit in the last place apart
        torch.testing.assert_close(a, b, rtol=3e-7, atol=3e-7)
    for u, v in zip(fa, fb, strict=True):
        if exact_states:
            assert torch.equal(u, v)
        else:  # a membrane through exp (numba's and torch's round differently)
            torch.testing.assert_close(u, v, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(ga, gb, rtol=1e-5, atol=1e-5 * float(gb.abs().max()))


ALIF_OPTIONS = [
    {},
    {"tau": 3.0},
    {"v_reset": 0.0},
    {"v_reset": -0.2, "decay_input": False, "tau": 3.0},
    {"decay_input": False, "tau": 3.0},
    {"decay_input": False, "v_reset": 0.1, "beta": 0.5, "tau_adapt": 5.0},
]


@pytest.mark.parametrize("options", ALIF_OPTIONS, ids=str)
def test_alif_every_charge_and_reset(options) -> None:
    torch.manual_seed(0)
    x = torch.rand(30, 4, 33) * 1.5
    results = both(lambda b: ALIF(backend=b, **options), x)
    assert results[0][0].sum() > 0
    check(results)
    state = (torch.rand(4, 33) * 0.5, torch.rand(4, 33))
    check(both(lambda b: ALIF(backend=b, surrogate=Sigmoid(3.0), **options), x, state))


def test_alif_detach_reset_and_streaming() -> None:
    torch.manual_seed(1)
    x = torch.rand(20, 3, 10) * 1.5
    # the torch loop keeps the adaptation's gradient: auto runs it there, cpu refuses
    detached = ALIF(detach_reset=True)
    assert torch.equal(detached(x), ALIF(detach_reset=True, backend="torch")(x))
    with pytest.raises(ValueError, match="detach_reset=True.*torch loop"):
        ALIF(detach_reset=True, backend="cpu")
    streaming = ALIF(stateful=True, backend="cpu")
    chunks = torch.cat([streaming(part) for part in x.split(7)])
    assert torch.equal(chunks, ALIF(backend="torch")(x))


# one generated module per activation (about 12 s of numba compiling each): ReLU, LIAF's
# default, in the default suite, the others with -m slow
@pytest.mark.parametrize(
    "activation",
    ["relu", *(pytest.param(a, marks=pytest.mark.slow) for a in ("sigmoid", "tanh", "identity"))],
)
@pytest.mark.parametrize("options", [{}, {"tau": 3.0, "v_reset": 0.2}], ids=str)
def test_liaf_every_activation(activation, options) -> None:
    torch.manual_seed(2)
    x = torch.randn(25, 3, 40)
    x[:, :, :4] = 0.0  # membranes at exactly 0: ReLU's gradient there is 0, as torch's
    results = both(lambda b: LIAF(activation=activation, backend=b, **options), x)
    check(results, exact_output=activation in ("relu", "identity"))
    assert (results[0][0] == 0).any() if activation == "relu" else True


def test_liaf_callable_activation_runs_the_torch_loop() -> None:
    x = torch.randn(5, 2, 3)
    square = torch.square
    assert torch.equal(LIAF(activation=square)(x), LIAF(activation=square, backend="torch")(x))
    with pytest.raises(ValueError, match="callable activation runs on the torch loop"):
        LIAF(activation=square, backend="cpu")


CUBALIF_OPTIONS = [
    {},
    {"tau": 3.0, "tau_syn": 5.0, "detach_reset": True},
    {"v_reset": None},
    {"decay_input": True, "tau": 3.0},
    {"v_reset": 0.2, "tau": 3.0},
]


@pytest.mark.parametrize("options", CUBALIF_OPTIONS, ids=str)
def test_cubalif_every_charge_and_reset(options) -> None:
    torch.manual_seed(5)
    x = torch.rand(30, 4, 33) * 0.8
    results = both(lambda b: CUBALIF(backend=b, **options), x)
    assert results[0][0].sum() > 0
    check(results)
    state = (torch.rand(4, 33) * 0.5, torch.rand(4, 33) * 0.3)
    check(both(lambda b: CUBALIF(backend=b, **options), x, state))


def test_cubalif_delayed_reset_runs_the_torch_loop() -> None:
    x = torch.rand(10, 2, 5)
    delayed = CUBALIF(reset_delay=True)
    assert torch.equal(delayed(x), CUBALIF(reset_delay=True, backend="torch")(x))
    with pytest.raises(ValueError, match="reset_delay=True.*torch loop"):
        CUBALIF(reset_delay=True, backend="cpu")


@pytest.mark.parametrize(
    ("cls", "options"),
    [(EIF, {}), (EIF, {"tau_syn": 3.0, "v_reset": None}), (AdEx, {}),
     (AdEx, {"tau_syn": 2.0, "detach_reset": True}), (AdEx, {"v_reset": None, "a": 1.0, "b": 0.5})],
    ids=str,
)  # fmt: skip
def test_eif_and_adex(cls, options) -> None:
    """Spikes equal; the membranes within float32 rounding of exp (numba's math.exp and
    torch's vectorised exp may differ by a unit in the last place)."""
    torch.manual_seed(6)
    results = both(lambda b: cls(backend=b, **options), torch.rand(60, 3, 20) * 3.0)
    assert results[0][0].sum() > 0
    check(results, exact_states=False)


@pytest.mark.parametrize("options", [{}, {"v_reset": None}, {"tau": 3.0, "a0": 0.5}], ids=str)
def test_qif(options) -> None:
    torch.manual_seed(7)
    results = both(lambda b: QIF(backend=b, **options), torch.rand(40, 3, 30) * 1.5)
    assert results[0][0].sum() > 0
    check(results)


@pytest.mark.parametrize("preset", ["regular_spiking", "chattering", "fast_spiking"])
def test_izhikevich_presets(preset) -> None:
    x = torch.full((1500, 3), 10.0) + torch.linspace(0, 2, 3)
    out, ref = Izhikevich(preset)(x), Izhikevich(preset, backend="torch")(x)
    assert out.sum() > 3 and torch.equal(out, ref)
    torch.manual_seed(3)
    results = both(lambda b: Izhikevich(preset, dt=0.1, backend=b, surrogate=ATan(0.5)),
                   torch.rand(120, 2, 5) * 20)  # fmt: skip
    check(results)


def test_other_dtypes_run_the_torch_loop() -> None:
    x = torch.rand(6, 2, 4, dtype=torch.bfloat16) * 2
    assert torch.equal(ALIF()(x), ALIF(backend="torch")(x))
    with pytest.raises(ValueError, match="ALIF: no fused numba kernel"):
        ALIF(backend="cpu")(x)


@pytest.mark.slow  # another module to compile (float64)
def test_float64() -> None:
    x64 = torch.rand(6, 2, 4, dtype=torch.float64) * 2
    check(both(lambda b: ALIF(backend=b), x64))


def test_the_triton_kernels_in_the_interpreter() -> None:
    pytest.importorskip("triton", reason="needs triton (the gpu extra)")
    require_device_or_interpreter()
    torch.manual_seed(4)
    check(both(lambda b: ALIF(backend=b, tau=3.0), torch.rand(12, 2, 30) * 1.5, backend="triton"))
    check(both(lambda b: LIAF(backend=b), torch.randn(12, 2, 30), backend="triton"))
    x = torch.rand(80, 2, 3) * 20
    check(both(lambda b: Izhikevich(dt=0.1, backend=b), x, backend="triton"))
    check(both(lambda b: CUBALIF(backend=b, v_reset=None), torch.rand(12, 2, 30), backend="triton"))
