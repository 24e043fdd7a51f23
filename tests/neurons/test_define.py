"""define_neuron: a neuron written as its equations, run by the eager reference and by the
generated numba kernel; spikes identical, gradients (input, initial state, learnable
parameters) equal at float32 rtol 1e-5, over shapes, resets and surrogates."""

from __future__ import annotations

import pickle

import pytest
import torch
from _triton import require_device_or_interpreter

from spikestack.neurons import LIF
from spikestack.neurons.define import define_neuron, exp, maximum, minimum, relu, tanh
from spikestack.surrogates import ATan, Sigmoid, Surrogate


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SPIKESTACK_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@define_neuron
class HardLIF:
    """LIF with a hard reset to 0, declared."""

    state = ("v",)
    params = {"tau": 2.0, "v_threshold": 1.0}
    learnable = ("tau",)

    def charge(x, v, tau):
        return v + (x - v) / tau

    def fire(v, v_threshold):
        return v - v_threshold

    def reset(v, spike):
        return v * (1 - spike)


@define_neuron
class SoftLIF:
    """LIF with a soft reset, declared."""

    state = ("v",)
    params = {"tau": 2.0, "v_threshold": 1.0}
    learnable = ("v_threshold",)

    def charge(x, v, tau):
        return v + (x - v) / tau

    def fire(v, v_threshold):
        return v - v_threshold

    def reset(v, spike, v_threshold):
        return (v - v_threshold * spike,)


@define_neuron
class Adaptive:
    """An adaptive-threshold LIF (two state variables) whose leak and adaptation learn."""

    state = ("v", "a")
    params = {"tau": 3.0, "rho": 0.9, "beta": 0.2, "v_threshold": 1.0}
    learnable = ("tau", "beta")

    def charge(x, v, a, tau, rho):
        return v + (x - v) / tau, rho * a

    def fire(v, a, v_threshold, beta):
        return v - (v_threshold + beta * a)

    def reset(v, a, spike, v_threshold, beta):
        return v - (v_threshold + beta * a) * spike, a + spike


@define_neuron
class QuadraticExp:
    """A neuron that is not in the library: quadratic and exponential terms in the charge."""

    state = ("v",)
    params = {"tau": 2.5, "k": 0.2, "v_threshold": 1.0}
    learnable = ("k",)
    rest = {"v": 0.1}

    def charge(x, v, tau, k):
        return v + (x - v + k * v * v - 0.05 * exp(-v)) / tau

    def fire(v, v_threshold):
        return v - v_threshold

    def reset(v, spike):
        return v * (1 - spike) + 0.1 * spike


class Box(Surrogate):
    def derivative(self, x):
        return (x.abs() < 0.5).to(x.dtype)


def compare(cls, x, *, surrogate=None, detach_reset=False, state=None, backend="cpu", **kw):
    """Fused (float32) against the eager reference: spikes identical to the reference's in
    float32; gradients within rtol 1e-5 of the reference's, taken in float64 (a float32
    sum over many steps and neurons carries its own rounding: the fused kernel adds the
    parameters' gradients up in float64)."""
    runs = [("torch", torch.float32), (backend, torch.float32), ("torch", torch.float64)]
    results = []
    for backend, dtype in runs:
        neuron = cls(backend=backend, surrogate=surrogate, detach_reset=detach_reset, **kw).to(
            dtype
        )
        xi = x.to(dtype).requires_grad_()
        s0 = None if state is None else tuple(s.to(dtype).requires_grad_() for s in state)
        out, final = neuron._run(xi, s0 if s0 is None or len(s0) > 1 else s0[0])
        finals = final if isinstance(final, tuple) else (final,)
        weights = torch.linspace(-1, 1, out.numel(), dtype=dtype).reshape(out.shape)
        loss = (out * weights).sum() + sum((f * 0.3).sum() for f in finals)
        inputs = [xi, *(s0 or ()), *neuron.learn.values()]
        results.append((out.detach(), torch.autograd.grad(loss, inputs)))
    (a, _), (b, gb), (c, gc) = results
    if cls.emits_spikes:
        assert a.sum() > 0 and (a == 0).sum() > 0, "a comparison without spikes, or only spikes"
        assert torch.equal(a, b) and torch.equal(a, c.float())
    else:  # an analog output: float32 rounding against the float64 reference
        assert a.std() > 0, "a comparison of a constant output"
        torch.testing.assert_close(b, a, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(b, c.float(), rtol=1e-5, atol=1e-6)
    for got, want in zip(gb, gc, strict=True):
        torch.testing.assert_close(got, want.float(), rtol=1e-5, atol=1e-6)


def _triton_or_skip() -> None:
    pytest.importorskip("triton", reason="needs triton (the gpu extra)")
    require_device_or_interpreter()


@pytest.mark.parametrize("shape", [(16, 7), (12, 3, 5), (8, 2, 2, 4, 4)])
@pytest.mark.parametrize("cls", [HardLIF, SoftLIF, Adaptive, QuadraticExp])
def test_fused_equals_eager(cls, shape) -> None:
    torch.manual_seed(0)
    compare(cls, torch.rand(shape) * 2)


@pytest.mark.parametrize("cls", [HardLIF, SoftLIF, Adaptive, QuadraticExp])
@pytest.mark.parametrize("detach_reset", [False, True])
def test_generated_triton_kernel_in_the_interpreter(cls, detach_reset) -> None:
    """The Triton kernels (CPU tensors in Triton's interpreter, a GPU where there is one)."""
    _triton_or_skip()
    torch.manual_seed(5)
    state = tuple(torch.rand(3, 40) * 0.5 for _ in cls.declaration.state)
    compare(cls, torch.rand(10, 3, 40) * 2, backend="triton", detach_reset=detach_reset,
            surrogate=Sigmoid(alpha=3.0), state=state)  # fmt: skip


@pytest.mark.parametrize(
    "surrogate", [ATan(), Sigmoid(alpha=3.0), Box()], ids=["atan", "sigmoid", "custom"]
)
@pytest.mark.parametrize("detach_reset", [False, True])
def test_surrogates_resets_and_initial_state(surrogate, detach_reset) -> None:
    torch.manual_seed(1)
    x = torch.rand(20, 4, 6) * 1.5
    compare(Adaptive, x, surrogate=surrogate, detach_reset=detach_reset,
            state=(torch.rand(4, 6) * 0.5, torch.rand(4, 6)))  # fmt: skip
    compare(SoftLIF, x, surrogate=surrogate, detach_reset=detach_reset, state=(torch.rand(4, 6),))


def test_declared_lif_is_the_library_lif() -> None:
    torch.manual_seed(2)
    x = torch.rand(30, 8, 8) * 2
    for backend in ("torch", "cpu"):
        assert torch.equal(HardLIF(backend=backend)(x), LIF(2.0)(x))
        assert torch.equal(SoftLIF(backend=backend)(x), LIF(2.0, v_reset=None)(x))


def test_protocol_step_stateful_pickle() -> None:
    torch.manual_seed(3)
    x = torch.rand(10, 2, 3) * 2
    neuron = Adaptive(backend="cpu")
    whole = neuron(x)
    state, steps = None, []
    for x_t in x:
        out, state = neuron.step(x_t, state)
        steps.append(out)
    assert torch.equal(torch.stack(steps), whole)
    assert neuron.state_names == ("v", "a") and set(neuron.named_state(state)) == {"v", "a"}
    clone = pickle.loads(pickle.dumps(neuron))
    assert torch.equal(clone(x), whole)
    assert {"tau", "rho", "beta", "v_threshold", "backend"} <= Adaptive.options


def test_unsupported_code_falls_back_with_a_warning_naming_it() -> None:
    @define_neuron
    class Clamped:
        state = ("v",)
        params = {"tau": 2.0}

        def charge(x, v, tau):
            return torch.clamp(v + (x - v) / tau, min=-1.0)

        def fire(v):
            return v - 1.0

        def reset(v, spike):
            return v * (1 - spike)

    x = torch.rand(6, 3) * 2
    with pytest.warns(
        UserWarning,
        match=r"Clamped runs on the eager reference: Clamped.charge: torch.clamp \(the generator",
    ):
        out = Clamped()(x)
    assert torch.equal(out, Clamped(backend="torch")(x))
    with pytest.raises(ValueError, match="no fused numba kernel"):
        Clamped(backend="cpu")(x)


def test_declaration_errors_name_what_is_wrong() -> None:
    with pytest.raises(ValueError, match=r"Bad.charge takes \['w'\]"):

        @define_neuron
        class Bad:
            state = ("v",)

            def charge(x, w):
                return x

            def fire(v):
                return v

            def reset(v, spike):
                return v

    with pytest.raises(ValueError, match="learnable names"):

        @define_neuron
        class Bad2:
            state = ("v",)
            params = {"tau": 2.0}
            learnable = ("k",)

            def charge(x, v):
                return x

            def fire(v):
                return v

            def reset(v, spike):
                return v

    with pytest.raises(ValueError, match="does not take"):
        HardLIF(tau_mem=3.0)


def test_generated_source_is_cached_on_disk_and_reused(tmp_path, monkeypatch) -> None:
    import time

    from spikestack.neurons import codegen

    monkeypatch.setenv("SPIKESTACK_CACHE", str(tmp_path))
    monkeypatch.setattr(codegen, "_KERNELS", {})
    x = torch.rand(5, 3)
    HardLIF(backend="cpu")(x)
    files = sorted((tmp_path / "neurons").glob("*.py"))
    assert len(files) == 1 and "def backward" in files[0].read_text()
    stamp = files[0].stat().st_mtime_ns
    monkeypatch.setattr(codegen, "_KERNELS", {})  # a new process: only the disk is left
    start = time.perf_counter()
    HardLIF(backend="cpu")(x)
    assert files[0].stat().st_mtime_ns == stamp  # read, not written again
    assert time.perf_counter() - start < 30  # generous: the point is no regeneration
    HardLIF(backend="cpu")(x.double())
    assert len(list((tmp_path / "neurons").glob("*.py"))) == 2  # one module per dtype


@pytest.mark.slow  # compiles three more declarations (about 20 s)
def test_bench_custom_runs_and_reports_each_neuron(capsys) -> None:
    from spikestack.neurons.bench_custom import run_custom

    results = run_custom(steps=4, neurons=512, repeats=1, compile_eager=False)
    assert set(results) == {"LIF", "ALIF", "Izhikevich"}
    assert "hand-written fused" in results["LIF"] and "eager loop" in results["ALIF"]
    assert "the generated kernel" in capsys.readouterr().out


@define_neuron
class DeclaredAdEx:
    """The library's AdEx (no synaptic current, hard reset to 0) declared: the exponential's
    argument clamped at 80 with ``minimum``, the adaptation w charged from the pre-step v."""

    state = ("v", "w")
    params = {"tau": 10.0, "tau_w": 500.0, "a": 4.0, "b": 0.02, "delta_T": 0.5,
              "theta_rh": 1.0, "v_threshold": 1.0}  # fmt: skip

    def charge(x, v, w, tau, tau_w, a, delta_T, theta_rh):
        rise = delta_T * exp(minimum((v - theta_rh) / delta_T, 80.0))
        return v + (-v + rise + x - w) / tau, w + (a * v - w) / tau_w

    def fire(v, v_threshold):
        return v - v_threshold

    def reset(v, w, spike, b):
        return v * (1 - spike), w + b * spike


@define_neuron
class Clamped:
    """Both clamps, each with a branch taken: the membrane held in [-0.5, 1.5]."""

    state = ("v",)
    params = {"tau": 2.0, "v_threshold": 1.0}

    def charge(x, v, tau):
        return maximum(minimum(v + (x - v) / tau, 1.5), -0.5)

    def fire(v, v_threshold):
        return v - v_threshold

    def reset(v, spike):
        return v - spike


@pytest.mark.parametrize("backend", ["torch", "cpu"])
def test_declared_adex_with_its_clamp_is_the_library_adex(backend) -> None:
    from spikestack.neurons import AdEx

    torch.manual_seed(6)
    x = torch.rand(60, 5, 7) * 3.0
    ours, theirs = DeclaredAdEx(backend=backend)(x), AdEx()(x)
    assert ours.sum() > 0 and torch.equal(ours, theirs)


def test_minimum_and_maximum_fused_equal_eager() -> None:
    torch.manual_seed(7)
    x = torch.randn(16, 5, 9) * 2  # below -0.5 and above 1.5: both clamps bind
    compare(Clamped, x)
    compare(DeclaredAdEx, torch.rand(30, 4, 6) * 3.0, surrogate=Sigmoid(alpha=3.0))


def test_minimum_and_maximum_in_the_triton_kernel() -> None:
    _triton_or_skip()
    torch.manual_seed(8)
    compare(Clamped, torch.randn(10, 3, 40) * 2, backend="triton")


def test_per_neuron_parameters_fixed_and_learnable() -> None:
    """A time constant per channel and a learnable threshold per neuron (SoftLIF's): fused =
    eager (spikes, gradients of the input, the states and every value of the learnable)."""
    PerChannel = SoftLIF
    torch.manual_seed(9)
    tau = torch.tensor([1.5, 2.0, 4.0]).reshape(3, 1, 1)
    threshold = 0.8 + 0.4 * torch.rand(3, 4, 5)
    x = torch.rand(12, 2, 3, 4, 5) * 2
    compare(PerChannel, x, tau=tau, v_threshold=threshold)
    neuron = PerChannel(tau=tau, backend="cpu")
    assert neuron.per_neuron and "tau=<per neuron (3, 1, 1)>" in repr(neuron)
    assert torch.equal(neuron(x), PerChannel(tau=tau, backend="torch")(x))
    with pytest.raises(ValueError, match="tau has values that are not finite"):
        PerChannel(tau=torch.tensor([1.0, float("nan")]))
    with pytest.raises(ValueError, match="must be a finite number or a tensor"):
        PerChannel(tau="slow")


@define_neuron
class DeclaredLIAF:
    """The library's LIAF (hard reset to 0, ReLU): the membrane charges as LIF's, the spike
    drives the reset only, and the neuron emits f(v) of the charged membrane."""

    state = ("v",)
    params = {"tau": 2.0, "v_threshold": 1.0}
    learnable = ("v_threshold",)

    def charge(x, v, tau):
        return v * (1 - 1 / tau) + x

    def fire(v, v_threshold):
        return v - v_threshold

    def reset(v, spike):
        return v * (1 - spike)

    def output(v):
        return relu(v)


@define_neuron
class GatedOutput:
    """An analog output that uses the spike and a learnable gain: the gradient reaches the
    output through the state, the spike (surrogate) and the parameter."""

    state = ("v",)
    params = {"tau": 2.0, "v_threshold": 1.0, "gain": 0.7}
    learnable = ("gain", "tau")

    def charge(x, v, tau):
        return v + (x - v) / tau

    def fire(v, v_threshold):
        return v - v_threshold

    def reset(v, spike, v_threshold):
        return v - v_threshold * spike

    def output(v, spike, gain):
        return gain * tanh(v) + spike


@pytest.mark.parametrize("tau", [2.0, 4.0])
@pytest.mark.parametrize("backend", ["torch", "cpu"])
def test_declared_liaf_is_the_library_liaf(backend, tau) -> None:
    from spikestack.neurons import LIAF

    torch.manual_seed(10)
    x = torch.randn(30, 4, 9) * 1.2
    ours = DeclaredLIAF(backend=backend, tau=tau)
    assert not ours.emits_spikes and DeclaredLIAF.declaration.functions[-1] == "output"
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = ours(xa), LIAF(tau=tau)(xb)
    assert (ya > 0).any() and (ya == 0).any() and torch.equal(ya, yb)
    ya.pow(2).sum().backward()
    yb.pow(2).sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("detach_reset", [False, True])
def test_analog_outputs_fused_equal_eager(detach_reset) -> None:
    torch.manual_seed(11)
    if not detach_reset:  # detached, LIAF's threshold reaches nothing the output depends on
        compare(DeclaredLIAF, torch.randn(14, 3, 11))
    x = torch.randn(14, 3, 11) * 1.5
    # |0.7 tanh(v)| < 1: an output above 0.7 carries a spike (both paths are exercised)
    assert (GatedOutput(backend="torch")(x) > 0.7).any()
    compare(GatedOutput, x, detach_reset=detach_reset, surrogate=Sigmoid(alpha=3.0))
    compare(GatedOutput, torch.randn(9, 2, 5) * 1.5, surrogate=Box())


def test_analog_outputs_and_per_neuron_parameters_in_the_triton_kernel() -> None:
    _triton_or_skip()
    torch.manual_seed(12)
    compare(DeclaredLIAF, torch.randn(8, 3, 40), backend="triton")
    compare(GatedOutput, torch.randn(8, 3, 40) * 1.5, backend="triton", detach_reset=True)
    tau = torch.tensor([1.5, 2.0, 4.0]).reshape(3, 1)
    threshold = 0.8 + 0.4 * torch.rand(3, 40)
    compare(SoftLIF, torch.rand(10, 2, 3, 40) * 2, backend="triton", tau=tau,
            v_threshold=threshold)  # fmt: skip


def test_a_declaration_keeps_its_source_when_the_file_changes(tmp_path, monkeypatch) -> None:
    """The functions' source is read when the neuron is declared: editing the file while
    the process runs (its line numbers shift) changes neither the cache key nor the code."""
    import importlib.util
    import sys

    body = """
from spikestack.neurons.define import define_neuron


@define_neuron
class Edited:
    state = ("v",)
    params = {"tau": 2.0}

    def charge(x, v, tau):
        return v + (x - v) / tau

    def fire(v):
        return v - 1.0

    def reset(v, spike):
        return v * (1 - spike)
"""
    path = tmp_path / "edited_neuron.py"
    path.write_text(body)
    spec = importlib.util.spec_from_file_location("edited_neuron", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "edited_neuron", module)
    spec.loader.exec_module(module)
    key = module.Edited.declaration.key()
    path.write_text("# a comment\n" * 7 + body.replace("1.0", "0.5"))  # lines shift, math changes
    import linecache

    linecache.clearcache()
    assert module.Edited.declaration.key() == key
    x = torch.rand(10, 3, 4) * 2
    assert torch.equal(module.Edited(backend="cpu")(x), module.Edited(backend="torch")(x))
    assert torch.equal(module.Edited(backend="cpu")(x), HardLIF(backend="torch")(x))


@define_neuron
class PassThrough:
    """A second state variable carried unchanged (a constant input bias, say)."""

    state = ("v", "c")
    params = {"tau": 2.0}

    def charge(x, v, c, tau):
        return v + (x - v + c) / tau, c

    def fire(v):
        return v - 1.0

    def reset(v, c, spike):
        return v * (1 - spike), c


@pytest.mark.parametrize("backend", ["torch", "cpu"])
def test_a_state_carried_unchanged_is_a_real_tensor(backend) -> None:
    """From rest, the kernels read resting values as stride-0 views; what comes back as the
    state is always a tensor of its own (a stateful caller may change it in place)."""
    torch.manual_seed(13)
    neuron = PassThrough(backend=backend, stateful=True)
    neuron(torch.rand(5, 3, 4) * 2)
    v, c = neuron.state
    assert c.stride() == (4, 1) and torch.equal(c, torch.zeros(3, 4))
    c.add_(0.5)  # in place: a stride-0 view would refuse this
    out = neuron(torch.rand(5, 3, 4) * 2)
    assert out.shape == (5, 3, 4) and torch.equal(neuron.state[1], torch.full((3, 4), 0.5))
