"""Fused CPU backend: numba kernels for IF, LIF and PLIF (float32 and float64).

Same contract as :mod:`spikestack.kernels.reference`: ``(spikes, v_final)`` with
gradients for ``x``, ``v_init`` and (PLIF) ``w``. Forward reads X once and writes S
once, plus H when a gradient will be needed; backward reads H and dS once and writes
dX once (see :mod:`spikestack.kernels.cpu_kernels`). Built-in surrogates are
evaluated inside the backward loop by id; any other surrogate gets its
``derivative(H - v_threshold)`` computed with torch and passed as a tensor.

Other dtypes (bfloat16, e.g. under ``torch.autocast("cpu")``, or float16) are not
upcast: ``backend="auto"`` runs them on the torch reference, so results stay the
reference's, and ``backend="cpu"`` raises a clear error. Inside
:func:`spikestack.kernels.saved.saved_membrane` ("bfloat16") a float32 forward keeps H in
bfloat16 for backward (half its bytes; the spikes unchanged, the surrogate evaluated at H
rounded to 8 bits of mantissa).
"""

from __future__ import annotations

import importlib.util
import math
from functools import cache
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from spikestack.kernels._buffers import POOL
from spikestack.kernels._plan import Form, FusedOps, NeuronLayout, NeuronPlan, param_values
from spikestack.kernels.saved import decode, encode, membrane_dtype, threshold_key
from spikestack.surrogates import SurrogateId

__all__ = ["if_", "is_available", "lif", "plif", "supports"]

_DTYPES = (torch.float32, torch.float64)
_MAX_BLOCK = 32768


def is_available() -> bool:
    """True when numba can be imported."""
    return importlib.util.find_spec("numba") is not None


def supports(x: Tensor) -> bool:
    """CPU tensors of float32 or float64."""
    return x.device.type == "cpu" and x.dtype in _DTYPES


@cache
def _kernels() -> ModuleType:
    # numba is imported on first use only, keeping `import spikestack` light.
    from spikestack.kernels import cpu_kernels

    return cpu_kernels


def block_size(n: int) -> int:
    """Neurons per block: a multiple of 16, at most 32768 (long rows keep the hardware
    prefetchers streaming), small enough to give every thread two blocks."""
    per_thread = -(-n // (2 * _kernels_threads()))
    return max(16, (min(_MAX_BLOCK, per_thread + 15) // 16) * 16)


def _kernels_threads() -> int:
    import numba

    return int(numba.get_num_threads())


def _params(plan: NeuronPlan, decay: Tensor | None, dtype: torch.dtype) -> np.ndarray:
    """The parameter block (``_plan.Param``) in ``dtype``, every constant rounded as torch
    rounds scalars; PLIF's k = sigmoid(w) and 1 - k are computed in ``dtype`` first."""
    if decay is None:
        values = param_values(plan)
    else:
        k_t = decay.detach().to(dtype)
        values = param_values(plan, k=float(k_t), c=float(1.0 - k_t))
    return np.array(values, dtype=np.float32 if dtype == torch.float32 else np.float64)


def per_neuron(v: Tensor | None, dtype: torch.dtype) -> Tensor:
    """``v`` flattened for the kernels: one entry when every neuron holds the same value
    (a stride-0 view such as the resting state, or None meaning zero), else N entries."""
    if v is None:
        return torch.zeros(1, dtype=dtype)
    v = v.detach()
    if v.numel() > 1 and all(stride == 0 for stride in v.stride()):
        return v[(0,) * v.dim()].reshape(1).to(dtype)
    return v.to(dtype).reshape(-1).contiguous()


_NO_H16 = torch.empty((0, 0), dtype=torch.int16)  # no bfloat16 H: the kernels' empty array


def _bf16_buffer(steps: int, n: int) -> Tensor:
    """An uninitialised int16 [steps, n] for bfloat16 bits, from recycled memory."""
    count = steps * n
    return POOL.empty(((count + 1) // 2,), torch.float32).view(torch.int16)[:count].view(steps, n)


def _bits(t: Tensor) -> np.ndarray:
    """An int16 tensor's memory as the uint16 array the kernels read and write."""
    return t.numpy().view(np.uint16)


def neuron_forward(
    ctx: Any, x: Tensor, v_init: Tensor, decay: Tensor | None, plan: NeuronPlan,
    needs: tuple[bool, bool, bool], affine: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[Tensor, Tensor, tuple[Tensor | None, ...]]:  # fmt: skip
    """The forward of :class:`_FusedNeuron`: (spikes, V_final, the tensors for the caller
    to save for :func:`neuron_backward`); the rest it needs is set on ``ctx``. ``needs``:
    whether gradients are wanted for (x, v_init, decay). ``affine``: per-channel
    ``(scale, shift)`` applied to X inside the kernel (channels innermost in x's memory;
    see ``cpu_kernels.forward``)."""
    # dL/dk of Form.A reads X; everything else needs only H (and V_init).
    need_x = decay is not None and needs[2] and plan.form == Form.A
    if need_x and affine is not None:
        raise ValueError("an input affine cannot be fused into PLIF's Form.A gradient")
    kern = _kernels()
    steps = x.shape[0]
    layout = NeuronLayout(x)
    xc = layout.seq(x.detach())
    n = xc.shape[1]
    v0 = per_neuron(layout.state(v_init), x.dtype)
    spikes = POOL.empty((steps, n), x.dtype)
    v_final = POOL.empty((n,), x.dtype)
    prm = _params(plan, decay, x.dtype)
    save_h = any(needs)
    bf16 = save_h and x.dtype == torch.float32 and membrane_dtype() == torch.bfloat16
    in_kernel = bf16 and plan.surrogate_id != SurrogateId.CUSTOM  # else encoded after
    h = POOL.empty((steps, n), x.dtype) if save_h and not in_kernel else spikes
    h16 = _bf16_buffer(steps, n) if in_kernel else _NO_H16
    block = block_size(n)
    if affine is None:
        scale = shift = np.empty(0, dtype=prm.dtype)
        channels = 0
    else:
        channels = affine[0].shape[0]
        repeats = -(-(block + channels) // channels)
        scale, shift = (np.tile(a.astype(prm.dtype), repeats) for a in affine)
    kern.forward(
        xc.numpy(), v0.numpy(), spikes.numpy(), v_final.numpy(), h.numpy(), _bits(h16), prm,
        int(plan.form), int(plan.use_div), int(plan.hard), 2 if in_kernel else int(save_h),
        block, scale, shift, channels, threshold_key(plan.v_threshold),
    )  # fmt: skip
    if in_kernel:
        h = h16.view(torch.bfloat16)  # half the bytes; every spike kept (saved.py)
    elif bf16:
        h = encode(h, plan.v_threshold)
    ctx.plan, ctx.prm, ctx.layout, ctx.v_dtype = plan, prm, layout, v_init.dtype
    ctx.has_decay = decay is not None
    saved = (h if save_h else None, xc if need_x else None, v0)
    return layout.seq_out(spikes), layout.state_out(v_final).to(v_init.dtype), saved


def neuron_backward(
    ctx: Any, saved: tuple[Tensor, ...], grad_spikes: Tensor | None, grad_v: Tensor | None,
    need_v0: bool, need_k: bool,
) -> tuple[Tensor, Tensor | None, Tensor | None]:  # fmt: skip
    """(dL/dX as ``[T, N]`` in the kernels' neuron order, dL/dV_init, dL/dk) from the
    tensors :func:`neuron_forward` gave to save."""
    kern = _kernels()
    h, xc, v0 = saved
    plan: NeuronPlan = ctx.plan
    h16 = _NO_H16
    if h.dtype == torch.bfloat16 and plan.surrogate_id == SurrogateId.CUSTOM:
        h = decode(h, v0.dtype)
    elif h.dtype == torch.bfloat16:  # decoded row by row inside the kernel
        h16, h = h.view(torch.int16), torch.empty((0, 0), dtype=v0.dtype)
    layout: NeuronLayout = ctx.layout
    steps, n = layout.steps, math.prod(layout.state_shape)
    # Unused outputs arrive as None (materialize_grads is off): no zero-filled tensors.
    dtype = v0.dtype
    if grad_spikes is None:
        gs = POOL.empty((steps, n), dtype).zero_()
    else:
        gs = layout.seq(grad_spikes.detach().to(dtype))
    gv = per_neuron(None if grad_v is None else layout.state(grad_v), dtype)
    if plan.surrogate_id == SurrogateId.CUSTOM:
        sg = plan.surrogate.derivative(h - plan.v_threshold)
        sg = sg.to(dtype).expand(steps, n).contiguous()
    else:
        sg = gs  # unused by the kernel
    gx = POOL.empty((steps, n), dtype)
    gv0 = POOL.empty((n if need_v0 else 0,), dtype)
    block = block_size(n)
    gk_part = np.zeros(max(1, -(-n // block)), dtype=np.float64)
    need_k = need_k and ctx.has_decay
    kern.backward(
        h.numpy(), _bits(h16), (gs if xc is None else xc).numpy(), v0.numpy(), gs.numpy(),
        gv.numpy(), sg.numpy(), gx.numpy(), gv0.numpy(), gk_part, ctx.prm, int(plan.form),
        int(plan.use_div), int(plan.hard), int(plan.detach_reset), int(plan.surrogate_id),
        int(need_k), block,
    )  # fmt: skip
    g_decay = torch.tensor(gk_part.sum(), dtype=dtype) if need_k else None
    g_v0 = layout.state_out(gv0).to(ctx.v_dtype) if need_v0 else None
    return gx, g_v0, g_decay


class _FusedNeuron(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, x: Tensor, v_init: Tensor, decay: Tensor | None, plan: NeuronPlan
    ) -> tuple[Tensor, Tensor]:
        ctx.set_materialize_grads(False)
        needs = ctx.needs_input_grad[:3]
        spikes, v_final, saved = neuron_forward(ctx, x, v_init, decay, plan, needs)
        ctx.save_for_backward(*saved)
        return spikes, v_final

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_spikes: Tensor, grad_v: Tensor) -> tuple[Tensor | None, ...]:
        need_v0, need_k = ctx.needs_input_grad[1], ctx.needs_input_grad[2]
        saved = ctx.saved_tensors
        gx, g_v0, g_decay = neuron_backward(ctx, saved, grad_spikes, grad_v, need_v0, need_k)
        return ctx.layout.seq_out(gx), g_v0, g_decay, None


def run_fused(
    x: Tensor, v_init: Tensor, decay: Tensor | None, plan: NeuronPlan
) -> tuple[Tensor, Tensor]:
    """The fused neuron of ``plan`` on ``x [T, ...]`` (the backend's ``FusedOps.run``)."""
    if not supports(x):
        raise ValueError(
            f"the cpu backend takes CPU float32/float64 tensors; got {x.dtype} on {x.device}"
        )
    return _FusedNeuron.apply(x, v_init, decay, plan)


# Same decay tensor as the reference, so autograd carries dL/dk through sigmoid to w.
def plif_decay(w: Tensor, x: Tensor) -> Tensor:
    """PLIF's decay k = sigmoid(w) in x's dtype (this backend computes in it)."""
    return w.sigmoid().to(x.dtype)


_OPS = FusedOps(run_fused, plif_decay=plif_decay)
if_, lif, plif = _OPS.if_, _OPS.lif, _OPS.plif
