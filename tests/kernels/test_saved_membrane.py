"""The fused CPU neuron's membrane kept for backward in bfloat16 (saved_membrane): half the
bytes, the forward's spikes exactly, gradients within a bound of the float32 ones."""

from __future__ import annotations

import pytest
import torch

from spikestack.kernels.saved import encode, saved_membrane
from spikestack.neurons import IF, LIF, PLIF
from spikestack.surrogates import ATan, Rectangle, Sigmoid

pytest.importorskip("numba")


@pytest.mark.parametrize("threshold", [1.0, 0.7, -0.3, 0.0])
def test_encoding_keeps_every_value_on_its_side_of_the_threshold(threshold) -> None:
    g = torch.Generator().manual_seed(0)
    h = torch.randn(200_000, generator=g) * 0.5 + threshold
    # values packed around the threshold, at float32's resolution there
    h[:2000] = threshold + (torch.arange(2000) - 1000) * 2.0**-21
    h[2000:2008] = torch.tensor([-0.0, 0.0, 1e-40, -1e-40, 3e38, -3e38, 2.0, -2.0])
    out = encode(h, threshold)
    assert out.dtype == torch.bfloat16 and out.shape == h.shape
    back = out.float()
    assert torch.equal(back >= threshold, h >= threshold)
    normal = h.abs() > 1e-37
    # half a bfloat16 step (2^-8 of the value) by rounding, one (2^-7) where it is kept on
    # the spike's side
    assert ((back - h).abs() / h.abs())[normal].max() <= 2.0**-7
    # away from the threshold: torch's own rounding to nearest even
    far = (h - threshold).abs() > 2e-2 * h.abs().clamp_min(1.0)
    assert torch.equal(out[far], h[far].to(torch.bfloat16))


def run(neuron, x, weights, dtype: str):
    xi = x.clone().requires_grad_()
    with saved_membrane(dtype):
        spikes = neuron(xi)
    saved = [t for t in spikes.grad_fn.saved_tensors if t is not None]
    (spikes * weights).sum().backward()
    grads = [xi.grad] + [p.grad.clone() for p in neuron.parameters()]
    neuron.zero_grad()
    return spikes.detach(), grads, saved[0].dtype


@pytest.mark.parametrize(
    "make",
    [
        lambda: LIF(tau=2.0, backend="cpu"),
        lambda: LIF(tau=3.0, v_reset=None, decay_input=True, backend="cpu", surrogate=Sigmoid(4.0)),
        lambda: PLIF(backend="cpu", surrogate=ATan(3.0)),
        lambda: IF(backend="cpu"),
    ],
    ids=["lif", "lif-soft-sigmoid", "plif", "if"],
)
def test_bfloat16_membrane_keeps_spikes_and_bounds_the_gradient_error(make) -> None:
    torch.manual_seed(1)
    neuron = make()
    x = torch.rand(12, 4, 3000) * 1.2
    weights = torch.randn_like(x)
    s32, g32, d32 = run(neuron, x, weights, "float32")
    s16, g16, d16 = run(neuron, x, weights, "bfloat16")
    assert (d32, d16) == (torch.float32, torch.bfloat16)
    assert torch.equal(s32, s16) and s32.sum() > 0
    for a, b in zip(g32, g16, strict=True):
        # H moves by at most 2^-7 of itself; a smooth surrogate's value by about as much
        assert (a - b).norm() <= 1e-2 * a.norm()
        assert (a - b).abs().max() <= 2e-2 * a.abs().max()


def test_discontinuous_surrogates_and_other_dtypes() -> None:
    """A rectangle surrogate's derivative jumps at its edges, where rounding can move H
    across: the error is not bounded there (documented); float64 is never compressed."""
    torch.manual_seed(2)
    x = torch.rand(8, 2, 2000) * 1.2
    weights = torch.randn_like(x)
    neuron = IF(backend="cpu", surrogate=Rectangle())
    s32, *_ = run(neuron, x, weights, "float32")
    s16, _, dtype = run(neuron, x, weights, "bfloat16")
    assert torch.equal(s32, s16) and dtype == torch.bfloat16
    _, _, dtype64 = run(LIF(backend="cpu").double(), x.double(), weights.double(), "bfloat16")
    assert dtype64 == torch.float64
    with pytest.raises(ValueError, match="saved_membrane takes"):
        with saved_membrane("float16"):
            pass


@pytest.mark.parametrize(
    "make",
    [
        lambda: LIF(tau=2.0, backend="cpu"),
        lambda: PLIF(backend="cpu", decay_input=False, v_reset=0.2, surrogate=Sigmoid(4.0)),
        lambda: PLIF(backend="cpu", surrogate=ATan(3.0)),  # Form.A: dL/dk reads X and H[t-1]
    ],
    ids=["lif", "plif-form-b", "plif-form-a"],
)
def test_kernel_writes_and_reads_the_same_bfloat16_as_encode_and_decode(make) -> None:
    """The fused kernel writes H's bfloat16 itself and decodes it in backward: the stored
    bits equal encode() of the float32 H, and the gradients equal, bit for bit, those of
    a float32 run whose saved H was replaced by decode(encode(H)) (the path a custom
    surrogate still takes)."""
    torch.manual_seed(3)
    neuron = make()
    threshold = neuron.v_threshold
    x = torch.rand(10, 3, 2500) * 1.2
    weights = torch.randn_like(x)

    def rounded(t: torch.Tensor) -> torch.Tensor:
        is_x = torch.equal(t, x.reshape(10, -1))  # Form.A's dL/dk keeps X too
        if t.dtype == torch.float32 and t.shape == (10, 3 * 2500) and not is_x:  # H
            return encode(t, threshold).float()
        return t

    with torch.autograd.graph.saved_tensors_hooks(rounded, lambda t: t):
        s_ref, g_ref, _ = run(neuron, x, weights, "float32")
    s16, g16, dtype = run(neuron, x, weights, "bfloat16")
    assert dtype == torch.bfloat16 and torch.equal(s16, s_ref)
    for a, b in zip(g_ref, g16, strict=True):
        assert torch.equal(a, b)
    xi = x.clone().requires_grad_()
    with saved_membrane("bfloat16"):
        kept = neuron(xi).grad_fn.saved_tensors[0]
    full = neuron(x.clone().requires_grad_()).grad_fn.saved_tensors[0]
    assert torch.equal(kept.view(torch.int16), encode(full, threshold).view(torch.int16))
