"""The Triton neurons against the reference, in Triton's CPU interpreter (TRITON_INTERPRET=1).

The op functions of :mod:`spikestack.kernels.triton` take any tensor Triton can
address, so the interpreter runs them on CPU tensors; on a CUDA machine the same
tests run on the GPU. Shapes are small: the interpreter executes numpy per block.
"""

from __future__ import annotations

import pytest
import torch
from _triton import DEVICE, MARKS, require_device_or_interpreter

from spikestack import surrogates as S
from spikestack.functional import reference

pytestmark = MARKS
F32 = {"rtol": 1e-5, "atol": 1e-6}


def _backend():
    from spikestack.kernels import triton as triton_backend

    require_device_or_interpreter()
    return triton_backend


def _options(kind: str, **kw: object) -> dict[str, object]:
    opts = {"v_threshold": 1.0, "v_reset": 0.0, "detach_reset": False, "surrogate": S.ATan()}
    if kind != "if_":
        opts["decay_input"] = True
    if kind == "lif":
        opts["tau"] = 3.3
    opts.update(kw)
    return opts


def _run(module, kind: str, x, v0, opts, *, upcast: bool = False):
    """Spikes, v_final and grads of sum(S*gS) + sum(V*gV) w.r.t. x, v_init (and w)."""
    x = x.detach().requires_grad_()
    v0 = v0.detach().requires_grad_()
    inputs = [x, v0]
    w = torch.tensor(0.4, device=x.device, requires_grad=True)
    if kind == "plif":
        inputs.append(w)
    args = [t.float() if upcast else t for t in inputs]
    spikes, v = getattr(module, kind)(*args, **opts)
    gen = torch.Generator().manual_seed(1)
    gs = torch.randn(spikes.shape, generator=gen).to(spikes)
    gv = torch.randn(v.shape, generator=gen).to(v)
    grads = torch.autograd.grad((spikes * gs).sum() + (v * gv).sum(), inputs)
    return spikes.detach(), v.detach(), grads


def _inputs(shape, dtype=torch.float32, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=gen) * 0.8 + 0.45
    v0 = torch.rand(shape[1:], generator=gen) * 0.6
    return x.to(DEVICE, dtype), v0.to(DEVICE, dtype)


CASES = [
    ("if_", {"v_reset": 0.0}),
    ("if_", {"v_reset": None, "detach_reset": True}),
    ("lif", {"v_reset": 0.0}),
    ("lif", {"v_reset": -0.3, "decay_input": False}),
    ("lif", {"v_reset": None, "decay_input": False, "detach_reset": True}),
    ("lif", {"v_reset": -0.3, "detach_reset": True}),
    ("plif", {"v_reset": 0.0}),
    ("plif", {"v_reset": None, "decay_input": False}),
    ("plif", {"v_reset": -0.3, "decay_input": False, "detach_reset": True}),
]


@pytest.mark.parametrize(("kind", "options"), CASES)
def test_float32_matches_reference(kind: str, options: dict) -> None:
    backend = _backend()
    x, v0 = _inputs((6, 3, 37))
    opts = _options(kind, **options)
    s_ref, v_ref, g_ref = _run(reference, kind, x, v0, opts)
    s_tri, v_tri, g_tri = _run(backend, kind, x, v0, opts)
    assert torch.equal(s_tri, s_ref)
    torch.testing.assert_close(v_tri, v_ref, **F32)
    for got, want in zip(g_tri, g_ref, strict=True):
        torch.testing.assert_close(got, want, **F32)


@pytest.mark.parametrize(
    "surrogate", [S.get(n) for n in S.list_surrogates()] + [S.Gaussian(0.3)], ids=repr
)
def test_surrogates(surrogate: S.Surrogate) -> None:
    backend = _backend()
    x, v0 = _inputs((4, 2, 29), seed=2)
    opts = _options("lif", surrogate=surrogate)
    s_ref, _, g_ref = _run(reference, "lif", x, v0, opts)
    s_tri, _, g_tri = _run(backend, "lif", x, v0, opts)
    assert torch.equal(s_tri, s_ref)
    for got, want in zip(g_tri, g_ref, strict=True):
        torch.testing.assert_close(got, want, **F32)


class Bump(S.Surrogate):
    """A user-defined surrogate (only ``derivative``)."""

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(-4 * x.abs()) * 2


def test_custom_surrogate_and_shapes() -> None:
    backend = _backend()
    for shape in [(1, 1), (1, 5), (3, 2, 1, 4)]:
        x, v0 = _inputs(shape, seed=3)
        opts = _options("plif", surrogate=Bump())
        s_ref, v_ref, g_ref = _run(reference, "plif", x, v0, opts)
        s_tri, v_tri, g_tri = _run(backend, "plif", x, v0, opts)
        assert torch.equal(s_tri, s_ref)
        for got, want in zip(g_tri, g_ref, strict=True):
            torch.testing.assert_close(got, want, **F32)
    assert g_tri[0].abs().sum() > 0


def test_channels_last_runs_in_place() -> None:
    """[T, B, C, H, W] stored channels-last: outputs and dX keep the input's strides."""
    backend = _backend()
    x_nhwc, _ = _inputs((3, 2, 4, 3, 5), seed=6)  # [T, B, H, W, C]
    x = x_nhwc.permute(0, 1, 4, 2, 3)
    v0 = torch.rand(2, 5, 4, 3, device=DEVICE) * 0.6  # contiguous, unlike x
    opts = _options("lif", v_reset=-0.3)
    s_ref, v_ref, g_ref = _run(reference, "lif", x, v0, opts)
    s_tri, v_tri, g_tri = _run(backend, "lif", x, v0, opts)
    assert torch.equal(s_tri, s_ref)
    torch.testing.assert_close(v_tri, v_ref, **F32)
    for got, want in zip(g_tri, g_ref, strict=True):
        torch.testing.assert_close(got, want, **F32)
    assert s_tri.stride() == x.stride() and g_tri[0].stride() == x.stride()


def test_half_precision_computes_in_float32() -> None:
    """float16 storage, float32 arithmetic: equals the reference on the upcast input."""
    backend = _backend()
    x, v0 = _inputs((5, 2, 33), dtype=torch.float16, seed=4)
    opts = _options("lif")
    s_ref, _, g_ref = _run(reference, "lif", x, v0, opts, upcast=True)
    s_tri, _, g_tri = _run(backend, "lif", x, v0, opts)
    assert s_tri.dtype == torch.float16
    assert torch.equal(s_tri.float(), s_ref)
    assert g_tri[0].dtype == torch.float16
    torch.testing.assert_close(g_tri[0].float(), g_ref[0].float(), rtol=2e-3, atol=2e-3)


def test_dispatch_needs_cuda() -> None:
    from spikestack.kernels import resolve_backend
    from spikestack.kernels import triton as triton_backend

    cpu_tensor = torch.zeros(2, 2)
    assert not triton_backend.supports(cpu_tensor)
    assert resolve_backend("auto", cpu_tensor) != "triton"


def test_lif_divides_as_torch_does_on_each_device() -> None:
    """On CUDA torch computes x / tau as x * float32(1 / tau); the CPU divides exactly."""
    from spikestack.kernels._plan import make_plan
    from spikestack.kernels.triton import device_plan

    plan = make_plan(
        kind="lif", tau=3.3, v_threshold=1.0, v_reset=0.0, decay_input=True,
        detach_reset=False, surrogate=S.ATan(),
    )  # fmt: skip
    assert device_plan(plan, torch.device("cpu")) is plan
    on_gpu = device_plan(plan, torch.device("cuda"))
    assert not on_gpu.use_div
    assert on_gpu.decay_factor == float(torch.tensor(1.0) / torch.tensor(3.3))
    two = make_plan(
        kind="lif", tau=2.0, v_threshold=1.0, v_reset=0.0, decay_input=True,
        detach_reset=False, surrogate=S.ATan(),
    )  # fmt: skip
    assert device_plan(two, torch.device("cuda")) is two  # already an exact multiply


def test_backward_keeps_only_the_membrane() -> None:
    """LIF saves H (float32) and v_init for backward, not X as well."""
    from spikestack.kernels.bench import LIF_OPTIONS, _saved_bytes

    backend = _backend()
    steps, n = 8, 4096
    x = torch.randn(steps, n, device=DEVICE)
    v0 = torch.zeros(n, device=DEVICE)
    saved = _saved_bytes(lambda t: backend.lif(t, v0, **LIF_OPTIONS)[0], x)
    assert saved == pytest.approx(4 + 4 / steps, rel=1e-3)  # plus the few-byte constants
