"""The fused CPU (numba) neurons against the plain-torch reference: values and gradients."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
import torch
from torch import Tensor

from spikestack import functional as F
from spikestack import surrogates as S
from spikestack.functional import reference
from spikestack.kernels import cpu as cpu_backend
from spikestack.kernels import get_op, resolve_backend
from spikestack.kernels._buffers import BufferPool
from spikestack.neurons import IF, LIF, PLIF

pytestmark = pytest.mark.skipif(not cpu_backend.is_available(), reason="numba is not installed")

TOL = {
    torch.float32: {"rtol": 1e-5, "atol": 1e-6},
    torch.float64: {"rtol": 1e-10, "atol": 1e-12},
}
# dL/dw of PLIF is a sum over all neurons and steps; the reference sums in float32
# (w is a float32 parameter whatever the input's dtype).
W_TOL = {"rtol": 1e-5, "atol": 1e-6}
RESETS = (0.0, -0.3, None)


def _inputs(shape: tuple[int, ...], dtype: torch.dtype, seed: int) -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=gen, dtype=torch.float64) * 0.8 + 0.45
    v0 = torch.rand(shape[1:], generator=gen, dtype=torch.float64) * 0.6
    return x.to(dtype), v0.to(dtype)


def _options(kind: str, **kw: object) -> dict[str, object]:
    opts = {"v_threshold": 1.0, "v_reset": 0.0, "detach_reset": False, "surrogate": S.ATan()}
    if kind != "if_":
        opts["decay_input"] = True
    if kind == "lif":
        opts["tau"] = 3.3
    opts.update(kw)
    return opts


def _run(module: object, kind: str, x: Tensor, v0: Tensor, opts: dict[str, object], seed: int = 1):
    """(spikes, v_final, grads) with grads of sum(S*gS) + sum(V*gV) for x, v_init (and w)."""
    x = x.detach().requires_grad_()  # keeps the strides of a non-contiguous input
    v0 = v0.detach().requires_grad_()
    inputs = [x, v0]
    args: list[Tensor] = [x, v0]
    if kind == "plif":
        w = torch.tensor(0.4, requires_grad=True)
        inputs.append(w)
        args.append(w)
    spikes, v = getattr(module, kind)(*args, **opts)
    gen = torch.Generator().manual_seed(seed)
    gs = torch.randn(spikes.shape, generator=gen, dtype=torch.float64).to(spikes.dtype)
    gv = torch.randn(v.shape, generator=gen, dtype=torch.float64).to(v.dtype)
    grads = torch.autograd.grad((spikes * gs).sum() + (v * gv).sum(), inputs)
    return spikes.detach(), v.detach(), grads


def _assert_matches(kind: str, x: Tensor, v0: Tensor, opts: dict[str, object]) -> None:
    s_ref, v_ref, g_ref = _run(reference, kind, x, v0, opts)
    s_cpu, v_cpu, g_cpu = _run(cpu_backend, kind, x, v0, opts)
    assert s_cpu.shape == s_ref.shape and s_cpu.dtype == s_ref.dtype
    assert torch.equal(s_cpu, s_ref), "spikes differ from the reference"
    torch.testing.assert_close(v_cpu, v_ref, **TOL[x.dtype])
    names = ("x", "v_init", "w")
    assert len(g_cpu) == len(g_ref)
    for name, got, want in zip(names, g_cpu, g_ref, strict=False):
        tol = W_TOL if name == "w" else TOL[x.dtype]
        torch.testing.assert_close(got, want, **tol, msg=lambda m, n=name: f"d/d{n}: {m}")


CASES = [
    (kind, v_reset, decay_input, detach, dtype)
    for kind in ("if_", "lif", "plif")
    for v_reset, detach, dtype in itertools.product(RESETS, (False, True), TOL)
    for decay_input in ((None,) if kind == "if_" else (True, False))
]


@pytest.mark.parametrize(("kind", "v_reset", "decay_input", "detach", "dtype"), CASES)
def test_matches_reference(
    kind: str, v_reset, decay_input, detach: bool, dtype: torch.dtype
) -> None:
    x, v0 = _inputs((7, 3, 19), dtype, seed=len(kind))
    opts = _options(kind, v_reset=v_reset, detach_reset=detach)
    if decay_input is not None:
        opts["decay_input"] = decay_input
    _assert_matches(kind, x, v0, opts)


@pytest.mark.parametrize("tau", [2.0, 8.0, 2.0**40, 3.0])
@pytest.mark.parametrize("dtype", list(TOL))
def test_power_of_two_tau(tau: float, dtype: torch.dtype) -> None:
    """tau = 2^n runs as a multiply by 2^-n, which must give the reference's bits."""
    from spikestack.kernels._plan import make_plan

    plan = make_plan(
        kind="lif", tau=tau, v_threshold=1.0, v_reset=0.0, decay_input=True,
        detach_reset=False, surrogate=S.ATan(),
    )  # fmt: skip
    assert plan.use_div == (tau == 3.0)
    if plan.use_div:
        assert plan.tau == 3.0
    else:
        assert plan.decay_factor == 1.0 / tau
    x, v0 = _inputs((9, 4, 33), dtype, seed=21)
    x = x * tau if tau > 8 else x  # large tau: inputs on the scale that reaches threshold
    for v_reset, decay_input in itertools.product(RESETS, (True, False)):
        opts = _options("lif", tau=tau, v_reset=v_reset, decay_input=decay_input)
        _assert_matches("lif", x, v0, opts)


@pytest.mark.parametrize(
    "shape", [(1, 1), (1, 4, 3), (6, 1), (5, 1, 1, 1), (9, 2, 3, 5), (3, 2, 1000), (2, 0, 3)]
)
@pytest.mark.parametrize("kind", ["if_", "lif", "plif"])
def test_shapes(kind: str, shape: tuple[int, ...]) -> None:
    x, v0 = _inputs(shape, torch.float32, seed=3)
    _assert_matches(kind, x, v0, _options(kind, v_reset=None if kind == "if_" else 0.0))


@pytest.mark.parametrize("kind", ["if_", "lif", "plif"])
def test_non_contiguous_inputs(kind: str) -> None:
    x_base, v_base = _inputs((5, 3, 8, 6), torch.float64, seed=4)
    x = x_base.transpose(2, 3)  # [5, 3, 6, 8], not contiguous
    v0 = v_base.transpose(1, 2)
    assert not x.is_contiguous() and not v0.is_contiguous()
    _assert_matches(kind, x, v0, _options(kind, v_reset=-0.2))
    x_stepped = _inputs((10, 2, 7), torch.float32, seed=5)[0][::2]  # strided in time
    _assert_matches(kind, x_stepped, torch.zeros(2, 7), _options(kind))


@pytest.mark.parametrize("kind", ["if_", "lif", "plif"])
def test_channels_last_runs_in_place(kind: str) -> None:
    """A dense input in another memory order ([T, B, C, H, W] stored channels-last) is
    read as it lies: spikes, dX, V_final and dV_init come back in the input's layout,
    equal to the reference, whatever the layout of v_init."""
    x_nhwc, _ = _inputs((4, 2, 5, 3, 6), torch.float32, seed=9)  # [T, B, H, W, C]
    x = x_nhwc.permute(0, 1, 4, 2, 3)  # [T, B, C, H, W], channels-last strides
    assert not x.is_contiguous()
    for v0 in (torch.rand(2, 6, 5, 3) * 0.6, (torch.rand(2, 5, 3, 6) * 0.6).permute(0, 3, 1, 2)):
        opts = _options(kind, v_reset=-0.2)
        _assert_matches(kind, x, v0, opts)
        xg = x.detach().requires_grad_()
        v0g = v0.detach().requires_grad_()
        args = [xg, v0g] + ([torch.tensor(0.4)] if kind == "plif" else [])
        spikes, v = getattr(cpu_backend, kind)(*args, **opts)
        assert spikes.stride() == x.stride() and v.stride() == x.stride()[1:]
        gx, gv0 = torch.autograd.grad((spikes * xg.detach()).sum() + v.sum(), [xg, v0g])
        assert gx.stride() == x.stride() and gv0.stride() == x.stride()[1:]


@pytest.mark.parametrize("kind", ["if_", "lif", "plif"])
def test_one_value_states(kind: str) -> None:
    """A stride-0 v_init (one value for all neurons) is read as a scalar by the kernel;
    its gradient, and an expanded dL/dV_final, must still match the reference."""
    x, _ = _inputs((6, 4, 9), torch.float32, seed=8)
    opts = _options(kind, v_reset=-0.1)
    results = []
    for module in (reference, cpu_backend):
        xr = x.detach().requires_grad_()
        rest = torch.tensor(0.35, requires_grad=True)
        args = [xr, rest.expand(4, 9)]
        if kind == "plif":
            args.append(torch.tensor(0.4))
        spikes, v = getattr(module, kind)(*args, **opts)
        # v.sum() gives an expanded (stride-0) dL/dV_final
        grads = torch.autograd.grad(spikes.sum() * 0.5 + v.sum(), [xr, rest])
        results.append((spikes.detach(), v.detach(), grads))
    (s_ref, v_ref, g_ref), (s_cpu, v_cpu, g_cpu) = results
    assert torch.equal(s_cpu, s_ref)
    torch.testing.assert_close(v_cpu, v_ref, **TOL[torch.float32])
    for got, want in zip(g_cpu, g_ref, strict=True):
        torch.testing.assert_close(got, want, **TOL[torch.float32])


def test_resting_state_is_not_materialised() -> None:
    """F.lif from rest hands the backends a stride-0 state and skips dL/dV_init."""
    x = torch.randn(5, 3, 7, requires_grad=True)
    ref = F.lif(x, backend="torch")
    out = F.lif(x, backend="cpu")
    assert torch.equal(out, ref)
    (g_ref,) = torch.autograd.grad(ref.sum(), x)
    (g_cpu,) = torch.autograd.grad(out.sum(), x)
    torch.testing.assert_close(g_cpu, g_ref, **TOL[torch.float32])
    assert cpu_backend.per_neuron(None, torch.float32).tolist() == [0.0]
    rest = torch.full((), -0.2).expand(3, 7)
    assert cpu_backend.per_neuron(rest, torch.float64).tolist() == [pytest.approx(-0.2)]
    assert cpu_backend.per_neuron(torch.ones(3, 7), torch.float32).shape == (21,)


def _builtin_surrogates() -> list[S.Surrogate]:
    out = []
    for name in S.list_surrogates():
        cls = S._REGISTRY.get(name)
        if cls.kernel_id is not None:
            out.append(cls())
    return out + [
        S.ATan(alpha=3.5),
        S.Triangle(alpha=2.0, gamma=0.7),
        S.LeakyKReLU(k=0.9, leak=0.01),
    ]


@pytest.mark.parametrize("surrogate", _builtin_surrogates(), ids=repr)
@pytest.mark.parametrize("dtype", list(TOL))
def test_every_builtin_surrogate(surrogate: S.Surrogate, dtype: torch.dtype) -> None:
    assert surrogate.kernel_spec() is not None
    x, v0 = _inputs((6, 4, 33), dtype, seed=6)
    _assert_matches("lif", x, v0, _options("lif", surrogate=surrogate))
    _assert_matches("plif", x, v0, _options("plif", surrogate=surrogate, v_reset=None))


@dataclass(frozen=True)
class Cubic(S.Surrogate):
    """A user-defined surrogate: only ``derivative`` is defined."""

    width: float = 0.7

    def derivative(self, x: Tensor) -> Tensor:
        return (1 - (x / self.width).square()).clamp_min(0) ** 2 / self.width


@dataclass(frozen=True)
class WiderATan(S.ATan):
    """A subclass of a built-in that changes ``derivative`` must not run as the built-in."""

    def derivative(self, x: Tensor) -> Tensor:
        return super().derivative(x / 2) / 2


@pytest.mark.parametrize("surrogate", [Cubic(), WiderATan()], ids=repr)
@pytest.mark.parametrize("kind", ["if_", "lif", "plif"])
def test_custom_surrogate_matches_reference(kind: str, surrogate: S.Surrogate) -> None:
    assert surrogate.kernel_spec() is None
    x, v0 = _inputs((6, 3, 21), torch.float32, seed=7)
    _assert_matches(kind, x, v0, _options(kind, surrogate=surrogate))


def test_custom_surrogate_gradient_reaches_the_input() -> None:
    x, v0 = _inputs((8, 4, 50), torch.float32, seed=8)
    _, _, (gx, _) = _run(cpu_backend, "lif", x, v0, _options("lif", surrogate=Cubic()))
    _, _, (gx_atan, _) = _run(cpu_backend, "lif", x, v0, _options("lif"))
    assert gx.abs().sum() > 0
    assert not torch.allclose(gx, gx_atan), "the custom derivative was ignored"


def test_streaming_equals_one_call() -> None:
    """Gradients flow through v_init, so chunked (TBPTT-style) calls equal one call."""
    x, v0 = _inputs((8, 3, 11), torch.float64, seed=9)
    opts = _options("lif", v_reset=None)
    whole = _run(cpu_backend, "lif", x, v0, opts)
    xg = x.clone().requires_grad_()
    vg = v0.clone().requires_grad_()
    s1, v1 = cpu_backend.lif(xg[:3], vg, **opts)
    s2, v2 = cpu_backend.lif(xg[3:], v1, **opts)
    spikes = torch.cat([s1, s2])
    gen = torch.Generator().manual_seed(1)
    gs = torch.randn(spikes.shape, generator=gen, dtype=torch.float64)
    gv = torch.randn(v2.shape, generator=gen, dtype=torch.float64)
    grads = torch.autograd.grad((spikes * gs).sum() + (v2 * gv).sum(), [xg, vg])
    assert torch.equal(spikes.detach(), whole[0])
    torch.testing.assert_close(v2.detach(), whole[1], **TOL[torch.float64])
    for got, want in zip(grads, whole[2], strict=True):
        torch.testing.assert_close(got, want, **TOL[torch.float64])


def test_auto_dispatch() -> None:
    for dtype in (torch.float32, torch.float64):
        assert resolve_backend("auto", torch.zeros(2, 2, dtype=dtype)) == "cpu"
    for dtype in (torch.float16, torch.bfloat16):
        assert resolve_backend("auto", torch.zeros(2, 2, dtype=dtype)) == "torch"
    with pytest.raises(ValueError, match="does not support"):
        get_op("lif", "cpu", torch.zeros(2, 2, dtype=torch.bfloat16))
    with pytest.raises(ValueError, match="cpu backend"):
        cpu_backend.lif(torch.zeros(2, 2, dtype=torch.float16), torch.zeros(2), **_options("lif"))


def test_autocast_bfloat16_falls_back_to_torch() -> None:
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(2, 4, 3, padding=1)
    x = torch.randn(3, 2, 2, 6, 6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = conv(x.flatten(0, 1)).unflatten(0, (3, 2))
        assert y.dtype == torch.bfloat16
        spikes = F.lif(y)  # auto: bfloat16 runs on the torch reference
        spikes_ref = F.lif(y, backend="torch")
        spikes_f32 = F.lif(x * 2, backend="auto")  # float32 input still runs fused
    assert spikes.dtype == torch.bfloat16
    assert torch.equal(spikes, spikes_ref)
    assert torch.equal(spikes_f32, F.lif(x * 2, backend="torch"))


def test_no_grad_call_and_outputs() -> None:
    x, v0 = _inputs((4, 2, 9), torch.float32, seed=10)
    with torch.no_grad():
        spikes, v = cpu_backend.lif(x, v0, **_options("lif"))
    want_s, want_v = reference.lif(x, v0, **_options("lif"))
    assert not spikes.requires_grad
    assert torch.equal(spikes, want_s) and torch.equal(v, want_v)
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("cls", [IF, LIF, PLIF])
def test_modules_with_cpu_backend(cls: type) -> None:
    x, _ = _inputs((6, 2, 3, 4), torch.float32, seed=11)
    fused, plain = cls(backend="cpu"), cls(backend="torch")
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    sa, sb = fused(xa), plain(xb)
    assert torch.equal(sa, sb)
    sa.sum().backward()
    sb.sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad, **TOL[torch.float32])
    if cls is PLIF:
        torch.testing.assert_close(fused.w.grad, plain.w.grad, **W_TOL)


def test_buffer_pool_recycles_only_unused_memory() -> None:
    pool = BufferPool(1 << 30)
    a = pool.empty((4, 1 << 17), torch.float32)
    ptr = a.data_ptr()
    view = a[1:]
    del a
    b = pool.empty((4, 1 << 17), torch.float32)
    assert b.data_ptr() != ptr, "memory still seen through a view was handed out again"
    del view
    c = pool.empty((4, 1 << 17), torch.float32)
    assert c.data_ptr() == ptr
    assert ptr % 64 == 0 and b.data_ptr() % 64 == 0, "pool buffers are cache-line aligned"
    assert pool.empty((3,), torch.float32).shape == (3,)  # small: plain torch.empty
    assert BufferPool(0).empty((4, 1 << 17), torch.float64).dtype == torch.float64


@pytest.mark.slow
@pytest.mark.parametrize("dtype", list(TOL))
@pytest.mark.parametrize("kind", ["if_", "lif", "plif"])
def test_large_sweep(kind: str, dtype: torch.dtype) -> None:
    x, v0 = _inputs((32, 4, 5000), dtype, seed=12)
    for v_reset, detach, decay_input in itertools.product(RESETS, (False, True), (True, False)):
        opts = _options(kind, v_reset=v_reset, detach_reset=detach)
        if kind != "if_":
            opts["decay_input"] = decay_input
        _assert_matches(kind, x, v0, opts)


@pytest.mark.parametrize(("cls", "backend"), [(LIF, "auto"), (PLIF, "cpu")])
def test_under_torch_compile(cls: type, backend: str) -> None:
    """torch.compile of a neuron: ``auto`` traces the reference, ``cpu`` runs as a graph
    break; both give the eager spikes and gradients (dynamo used to fail on the kernel)."""
    torch._dynamo.reset()
    gen = torch.Generator().manual_seed(5)
    x = (torch.randn(3, 2, 4, generator=gen) + 0.5).requires_grad_()
    layer = cls(backend=backend)
    compiled = torch.compile(layer)
    out = compiled(x)
    (g_out,) = torch.autograd.grad(out.sum(), x)
    ref = layer(x)
    (g_ref,) = torch.autograd.grad(ref.sum(), x)
    assert torch.equal(out, ref) and out.sum() > 0
    torch.testing.assert_close(g_out, g_ref, **TOL[torch.float32])


def test_vectorised_exp_accuracy() -> None:
    """The kernels' own e^x (libm's does not vectorise): float64 within a few ulp, float32
    within 1 ulp of the correctly rounded value, and inf / 0 / NaN where e^x has them."""
    import numpy as np
    from numba import njit

    from spikestack.kernels import cpu_kernels

    @njit(cache=False)
    def apply(a, out):  # type: ignore[no-untyped-def]
        for i in range(a.shape[0]):
            out[i] = cpu_kernels._vexp(a[i])

    rng = np.random.default_rng(0)
    x64 = np.concatenate([rng.uniform(-707.0, 709.0, 100_000), rng.uniform(-20.0, 20.0, 100_000)])
    got64 = np.empty_like(x64)
    apply(x64, got64)
    want64 = np.exp(x64)
    assert np.max(np.abs(got64 - want64) / want64) < 1e-15
    x32 = np.concatenate(
        [rng.uniform(-103.0, 88.7, 100_000), rng.uniform(-20.0, 20.0, 100_000)]
    ).astype(np.float32)
    got32 = np.empty_like(x32)
    apply(x32, got32)
    want32 = np.exp(x32.astype(np.float64)).astype(np.float32)  # correctly rounded (nearly always)
    ulps = np.abs(got32.view(np.int32).astype(np.int64) - want32.view(np.int32))
    assert ulps.max() <= 1 and np.count_nonzero(ulps) < 50
    edges = np.array([np.nan, np.inf, -np.inf, 89.0, -105.0, 0.0, -0.0])
    for dtype in (np.float32, np.float64):
        x = edges.astype(dtype)
        out = np.empty_like(x)
        apply(x, out)
        assert np.isnan(out[0]) and out[1] == np.inf and out[-2] == 1.0 and out[-1] == 1.0
        assert float(out[2]) < 4e-308 and float(out[4]) < 1e-45
        assert out[3] == (np.inf if dtype == np.float32 else np.exp(89.0))
