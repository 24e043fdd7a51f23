"""Triton kernels of the fused IF/LIF/PLIF neurons (math in :mod:`spikestack.kernels._plan`).

One program owns ``BLOCK`` neurons and loops over T; all arithmetic is float32
whatever the storage dtype (float32/float16/bfloat16). Forward writes S (input
dtype) and H (float32, saved for backward); backward walks time in reverse
reading H and dS, writing dX once. ``prm`` is the parameter block (slots
``_plan.Param``) as a float32 device tensor, so PLIF's decay never leaves the device.
A kernel may read only ``tl.constexpr`` globals, so the shared enums (``_plan.Form``,
``_plan.Param``, ``SurrogateId``) appear here as constexpr copies of their members.
Import this module lazily: ``triton.jit`` reads ``TRITON_INTERPRET`` when it
decorates, so setting it to 1 before the first import runs the kernels in
Triton's CPU interpreter.
"""

from __future__ import annotations

import triton
import triton.language as tl

from spikestack.kernels._plan import Form, Param
from spikestack.surrogates import SurrogateId

FORM_A = tl.constexpr(Form.A.value)
FORM_B = tl.constexpr(Form.B.value)

V_THRESHOLD = tl.constexpr(Param.V_THRESHOLD.value)
V_RESET = tl.constexpr(Param.V_RESET.value)
K = tl.constexpr(Param.K.value)
C = tl.constexpr(Param.C.value)
S0 = tl.constexpr(Param.S0.value)
S1 = tl.constexpr(Param.S1.value)

CUSTOM = tl.constexpr(SurrogateId.CUSTOM.value)
ATAN = tl.constexpr(SurrogateId.ATAN.value)
SIGMOID = tl.constexpr(SurrogateId.SIGMOID.value)
FAST_SIGMOID = tl.constexpr(SurrogateId.FAST_SIGMOID.value)
PIECEWISE_QUADRATIC = tl.constexpr(SurrogateId.PIECEWISE_QUADRATIC.value)
RECTANGLE = tl.constexpr(SurrogateId.RECTANGLE.value)
TRIANGLE = tl.constexpr(SurrogateId.TRIANGLE.value)
ERF = tl.constexpr(SurrogateId.ERF.value)
GAUSSIAN = tl.constexpr(SurrogateId.GAUSSIAN.value)
SOFT_SIGN = tl.constexpr(SurrogateId.SOFT_SIGN.value)
PIECEWISE_EXP = tl.constexpr(SurrogateId.PIECEWISE_EXP.value)


@triton.jit
def _decay(a, k, USE_DIV: tl.constexpr):
    if USE_DIV:
        # IEEE division, as torch's x / tau on the CPU (the interpreter's tests); CUDA
        # plans multiply by torch's float32 reciprocal instead (triton.device_plan)
        out = tl.math.div_rn(a, k)
    else:
        out = a * k
    return out


@triton.jit
def _charge(v, x, k, c, vr, FORM: tl.constexpr, USE_DIV: tl.constexpr):
    if FORM == FORM_A:
        h = v + _decay(x - (v - vr), k, USE_DIV)
    elif FORM == FORM_B:
        h = v - _decay(v - vr, k, USE_DIV) + x
    else:
        h = v * c + x
    return h


@triton.jit
def _after_reset(h, vth, vr, HARD: tl.constexpr):
    if HARD:
        fired_v = tl.zeros_like(h) + vr
    else:
        fired_v = h - vth
    return tl.where(h - vth >= 0.0, fired_v, h)


@triton.jit
def _surrogate(z, c0, c1, SID: tl.constexpr):
    if SID == ATAN:
        a = c0 * z
        out = (1.0 / (1.0 + a * a)) * c1
    elif SID == SIGMOID:
        sg = 1.0 / (1.0 + tl.exp(-(c0 * z)))
        out = c0 * sg * (1.0 - sg)
    elif SID == FAST_SIGMOID:
        a = c0 * tl.abs(z) + 1.0
        out = 1.0 / (a * a)
    elif SID == PIECEWISE_QUADRATIC:
        out = tl.maximum(c0 - c1 * tl.abs(z), 0.0)
    elif SID == RECTANGLE:
        out = tl.where(tl.abs(z) < c1, c0, 0.0)
    elif SID == TRIANGLE:
        out = c1 * tl.maximum(1.0 - c0 * tl.abs(z), 0.0)
    elif SID == ERF:
        a = c1 * z
        out = c0 * tl.exp(-(a * a))
    elif SID == GAUSSIAN:
        out = tl.exp(-(z * z) / c0) / c1
    elif SID == SOFT_SIGN:
        a = 1.0 + tl.abs(c0 * z)
        out = (1.0 / (2.0 * (a * a))) * c0
    elif SID == PIECEWISE_EXP:
        out = c0 * tl.exp(c1 * tl.abs(z))
    else:  # LEAKY_K_RELU
        out = tl.where(z >= 0.0, c0, c1)
    return out


@triton.jit
def forward(
    x_ptr, v0_ptr, s_ptr, v_ptr, h_ptr, prm_ptr, steps, n,
    FORM: tl.constexpr, USE_DIV: tl.constexpr, HARD: tl.constexpr, SAVE_H: tl.constexpr,
    BLOCK: tl.constexpr,
):  # fmt: skip
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    vth = tl.load(prm_ptr + V_THRESHOLD)
    vr = tl.load(prm_ptr + V_RESET)
    k = tl.load(prm_ptr + K)
    c = tl.load(prm_ptr + C)
    v = tl.load(v0_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    stride = tl.zeros_like(offs) + n  # int64: t * n overflows int32 once T * N >= 2^31
    for t in range(steps):
        row = t * stride + offs
        x = tl.load(x_ptr + row, mask=mask, other=0.0).to(tl.float32)
        h = _charge(v, x, k, c, vr, FORM, USE_DIV)
        spike = tl.where(h - vth >= 0.0, 1.0, 0.0)
        tl.store(s_ptr + row, spike.to(s_ptr.dtype.element_ty), mask=mask)
        if SAVE_H:
            tl.store(h_ptr + row, h, mask=mask)
        v = _after_reset(h, vth, vr, HARD)
    tl.store(v_ptr + offs, v.to(v_ptr.dtype.element_ty), mask=mask)


@triton.jit
def backward(
    x_ptr, v0_ptr, h_ptr, gs_ptr, gvt_ptr, sg_ptr, gx_ptr, gv0_ptr, gk_ptr, prm_ptr, steps, n,
    FORM: tl.constexpr, USE_DIV: tl.constexpr, HARD: tl.constexpr, DETACH: tl.constexpr,
    SID: tl.constexpr, NEED_K: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    pid = tl.program_id(0)
    offs = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    vth = tl.load(prm_ptr + V_THRESHOLD)
    vr = tl.load(prm_ptr + V_RESET)
    k = tl.load(prm_ptr + K)
    c = tl.load(prm_ptr + C)
    c0 = tl.load(prm_ptr + S0)
    c1 = tl.load(prm_ptr + S1)
    g = tl.load(gvt_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    v_init = tl.load(v0_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    stride = tl.zeros_like(offs) + n  # int64, as in forward
    for i in range(steps):
        t = steps - 1 - i
        row = t * stride + offs
        h = tl.load(h_ptr + row, mask=mask, other=0.0)
        z = h - vth
        if SID == CUSTOM:
            sg = tl.load(sg_ptr + row, mask=mask, other=0.0)
        else:
            sg = _surrogate(z, c0, c1, SID)
        gs = tl.load(gs_ptr + row, mask=mask, other=0.0).to(tl.float32)
        if DETACH:
            gst = gs
        elif HARD:
            gst = gs - g * h + g * vr
        else:
            gst = gs - g * vth
        if HARD:
            direct = tl.where(z >= 0.0, 0.0, g)
        else:
            direct = g
        dh = direct + gst * sg
        if NEED_K:
            has_prev = (tl.zeros_like(offs) + t) > 0
            h_prev = tl.load(h_ptr + row - stride, mask=mask & has_prev, other=0.0)
            v_prev = tl.where(has_prev, _after_reset(h_prev, vth, vr, HARD), v_init)
            if FORM == FORM_A:
                x = tl.load(x_ptr + row, mask=mask, other=0.0).to(tl.float32)
                dk = x - (v_prev - vr)
            elif FORM == FORM_B:
                dk = -(v_prev - vr)
            else:
                dk = -v_prev
            acc += dh * dk
        if FORM == FORM_A:
            gx = _decay(dh, k, USE_DIV)
            g = dh - gx
        elif FORM == FORM_B:
            gx = dh
            g = dh - _decay(dh, k, USE_DIV)
        else:
            gx = dh
            g = dh * c
        tl.store(gx_ptr + row, gx.to(gx_ptr.dtype.element_ty), mask=mask)
    tl.store(gv0_ptr + offs, g.to(gv0_ptr.dtype.element_ty), mask=mask)
    if NEED_K:
        tl.store(gk_ptr + pid, tl.sum(tl.where(mask, acc, 0.0), axis=0))
