"""Side by side with SpikingJelly's multi-step IFNode / LIFNode / ParametricLIFNode.

Runs only where SpikingJelly is installed (``pip install 'spikestack[peers]'``;
SpikingJelly's own requirements pull a CUDA build of torch, torchvision and
torchaudio, so on a CPU machine install it with ``pip install --no-deps spikingjelly``
plus ``loguru``). Spikes must agree bit for bit, gradients to 1e-5.
"""

from __future__ import annotations

import inspect
import itertools

import pytest
import torch

pytest.importorskip(
    "spikingjelly.activation_based.neuron",
    reason="SpikingJelly is not installed (pip install --no-deps spikingjelly loguru)",
)
from spikingjelly.activation_based import neuron as sj_neuron  # noqa: E402
from spikingjelly.activation_based import surrogate as sj_surrogate  # noqa: E402

from spikestack.kernels import available_backends  # noqa: E402
from spikestack.neurons import IF, LIF, PLIF  # noqa: E402
from spikestack.surrogates import ATan  # noqa: E402

pytestmark = pytest.mark.peers

BACKENDS = [b for b in ("torch", "cpu") if b in available_backends()]
TOL = {"rtol": 1e-5, "atol": 1e-6}


def _sj_node(kind: str, **kw: object) -> torch.nn.Module:
    cls = {"if": sj_neuron.IFNode, "lif": sj_neuron.LIFNode, "plif": sj_neuron.ParametricLIFNode}[
        kind
    ]
    if "backend" in inspect.signature(cls).parameters:  # SpikingJelly < 2 names its backends
        kw["backend"] = "torch"
    return cls(step_mode="m", surrogate_function=sj_surrogate.ATan(alpha=2.0), **kw)


def _ours(kind: str, backend: str, **kw: object) -> torch.nn.Module:
    surrogate = ATan(alpha=2.0)
    if kind == "if":
        return IF(surrogate=surrogate, backend=backend, **kw)
    if kind == "lif":
        return LIF(tau=2.0, surrogate=surrogate, backend=backend, **kw)
    return PLIF(init_tau=2.0, surrogate=surrogate, backend=backend, **kw)


CASES = [
    (kind, v_reset, decay_input, detach)
    for kind in ("if", "lif", "plif")
    for v_reset, detach in itertools.product((0.0, None, -0.25), (False, True))
    for decay_input in ((None,) if kind == "if" else (True, False))
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("kind", "v_reset", "decay_input", "detach"), CASES)
def test_matches_spikingjelly(kind: str, v_reset, decay_input, detach: bool, backend: str) -> None:
    kw: dict[str, object] = {"v_reset": v_reset, "detach_reset": detach}
    if decay_input is not None:
        kw["decay_input"] = decay_input
    if kind == "lif":
        kw["tau"] = 2.0
    if kind == "plif":
        kw["init_tau"] = 2.0
    theirs = _sj_node(kind, **kw)
    kw.pop("tau", None)
    kw.pop("init_tau", None)
    ours = _ours(kind, backend, **kw)

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(16, 4, 257, generator=gen) * 0.9 + 0.6
    grad = torch.randn(x.shape, generator=gen)
    x_sj, x_ss = x.clone().requires_grad_(), x.clone().requires_grad_()
    s_sj = theirs(x_sj)
    s_ss = ours(x_ss)
    assert s_ss.dtype == s_sj.dtype and 0.05 < s_ss.mean().item() < 0.95
    assert torch.equal(s_ss, s_sj), f"{int((s_ss != s_sj).sum())} spikes differ"
    (s_sj * grad).sum().backward()
    (s_ss * grad).sum().backward()
    torch.testing.assert_close(x_ss.grad, x_sj.grad, **TOL)
    if kind == "plif":
        torch.testing.assert_close(ours.w.grad.reshape(()), theirs.w.grad.reshape(()), **TOL)
