"""Fused Triton backend for CUDA tensors: IF, LIF, PLIF in float32, float16 and bfloat16.

Same contract as :mod:`spikestack.kernels.reference`. Arithmetic is float32 for
every storage dtype (so float16/bfloat16 results equal the reference run on the
input upcast to float32, not the reference's own half-precision rounding); S,
dX and dV_init come back in the input's dtype. Forward saves H (float32, 4 bytes
per neuron-step) and backward reads it in reverse. PLIF's decay k = sigmoid(w)
is kept in float32 and dL/dk is reduced per program in float32.

``is_available()`` needs both ``triton`` and a CUDA device, and ``supports(x)`` a
CUDA tensor. The op functions themselves take any tensors Triton can address,
so with ``TRITON_INTERPRET=1`` they run on CPU tensors (that is how the tests
exercise them on machines without a GPU).
"""

from __future__ import annotations

import dataclasses
import importlib.util
from functools import cache
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from spikestack.kernels._plan import Form, FusedOps, NeuronLayout, NeuronPlan, Param, param_values
from spikestack.surrogates import SurrogateId

__all__ = ["if_", "is_available", "lif", "plif", "supports"]

_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
BLOCK = 1024


def is_available() -> bool:
    """True when triton can be imported and a CUDA device is present."""
    return importlib.util.find_spec("triton") is not None and torch.cuda.is_available()


def supports(x: Tensor) -> bool:
    """CUDA tensors of float32, float16 or bfloat16 (when the backend is available)."""
    return x.is_cuda and x.dtype in _DTYPES and is_available()


@cache
def _kernels() -> Any:
    from spikestack.kernels import triton_kernels

    return triton_kernels


def device_plan(plan: NeuronPlan, device: torch.device) -> NeuronPlan:
    """``plan`` with LIF's ``/ tau`` written as torch computes it on ``device``.

    On CUDA, torch divides a tensor by a Python scalar as ``x * inv`` with
    ``inv = float32(1) / float32(tau)`` (ATen's div_true_kernel_cuda), so the kernel
    multiplies by that reciprocal there; the CPU reference (and so Triton's interpreter,
    which the tests compare with it) divides exactly.
    """
    if not plan.use_div or device.type != "cuda":
        return plan
    inv = float(np.float32(1.0) / np.float32(plan.tau))
    return dataclasses.replace(plan, use_div=False, tau=1.0, decay_factor=inv)


def _params(plan: NeuronPlan, decay: Tensor | None, device: torch.device) -> Tensor:
    """The parameter block (``_plan.Param``) as float32 on ``device``; PLIF's k = sigmoid(w)
    and 1 - k are computed there, so the decay never leaves the device."""
    block = torch.tensor(param_values(plan), dtype=torch.float32, device=device)
    if decay is not None:
        k = decay.detach().to(device=device, dtype=torch.float32).reshape(1)
        block = torch.cat([block[: Param.K], k, 1.0 - k, block[Param.C + 1 :]])
    return block


class _TritonNeuron(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, x: Tensor, v_init: Tensor, decay: Tensor | None, plan: NeuronPlan
    ) -> tuple[Tensor, Tensor]:
        kern = _kernels()
        steps = x.shape[0]
        layout = NeuronLayout(x)
        xc = layout.seq(x.detach())
        n = xc.shape[1]
        v0 = layout.state(v_init.detach()).to(x.dtype).reshape(-1).contiguous()
        spikes = torch.empty_like(xc)
        v_final = torch.empty(n, dtype=x.dtype, device=x.device)
        prm = _params(plan, decay, x.device)
        save_h = any(ctx.needs_input_grad[:3])
        h = torch.empty(xc.shape, dtype=torch.float32, device=x.device) if save_h else spikes
        grid = (max(1, -(-n // BLOCK)),)
        if n:
            # No fused multiply-add in forward: torch rounds each product (PLIF's
            # (v - v_reset) * k), and a contracted FMA can flip a spike at threshold.
            kern.forward[grid](
                xc, v0, spikes, v_final, h, prm, steps, n,
                FORM=int(plan.form), USE_DIV=plan.use_div, HARD=plan.hard, SAVE_H=save_h, BLOCK=BLOCK,
                enable_fp_fusion=False,
            )  # fmt: skip
        # backward reads X only for PLIF's dL/dk in Form.A; H (float32) is all it needs else
        need_x = decay is not None and ctx.needs_input_grad[2] and plan.form == Form.A
        ctx.save_for_backward(xc if need_x else None, v0, h if save_h else None, prm)
        ctx.x_dtype = x.dtype
        ctx.plan, ctx.layout, ctx.v_dtype = plan, layout, v_init.dtype
        ctx.has_decay = decay is not None
        return layout.seq_out(spikes), layout.state_out(v_final).to(v_init.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_spikes: Tensor, grad_v: Tensor) -> tuple[Tensor | None, ...]:
        kern = _kernels()
        xc, v0, h, prm = ctx.saved_tensors
        dtype = ctx.x_dtype
        plan: NeuronPlan = ctx.plan
        layout: NeuronLayout = ctx.layout
        steps, n = h.shape
        gs = layout.seq(grad_spikes)
        gv = layout.state(grad_v).reshape(n).contiguous()
        if plan.surrogate_id == SurrogateId.CUSTOM:
            sg = (
                plan.surrogate.derivative(h - plan.v_threshold)
                .float()
                .expand(steps, n)
                .contiguous()
            )
        else:
            sg = h  # unused by the kernel
        gx = torch.empty(steps, n, dtype=dtype, device=h.device)
        gv0 = torch.empty(n, dtype=dtype, device=h.device)
        nprog = max(1, -(-n // BLOCK))
        gk = torch.zeros(nprog, dtype=torch.float32, device=h.device)
        need_k = bool(ctx.has_decay and ctx.needs_input_grad[2])
        if n:
            kern.backward[(nprog,)](
                h if xc is None else xc, v0, h, gs, gv, sg, gx, gv0, gk, prm, steps, n,
                FORM=int(plan.form), USE_DIV=plan.use_div, HARD=plan.hard, DETACH=plan.detach_reset,
                SID=int(plan.surrogate_id), NEED_K=need_k, BLOCK=BLOCK,
            )  # fmt: skip
        g_decay = gk.sum() if need_k else None
        g_v0 = layout.state_out(gv0).to(ctx.v_dtype)
        return layout.seq_out(gx), g_v0, g_decay, None


def _run(
    x: Tensor, v_init: Tensor, decay: Tensor | None, plan: NeuronPlan
) -> tuple[Tensor, Tensor]:
    if x.dtype not in _DTYPES:
        raise ValueError(
            f"the triton backend takes float32/float16/bfloat16 tensors; got {x.dtype}"
        )
    return _TritonNeuron.apply(x, v_init, decay, device_plan(plan, x.device))


# k = sigmoid(w) in float32, the kernels' arithmetic precision; autograd carries dL/dk to w.
_OPS = FusedOps(_run, plif_decay=lambda w, x: w.sigmoid().float())
if_, lif, plif = _OPS.if_, _OPS.lif, _OPS.plif
