"""Numba kernels of the fused IF/LIF/PLIF neurons (see :mod:`spikestack.kernels._plan`).

Layout: ``x`` is ``[T, N]`` (C-contiguous). Neurons are cut into blocks of
``block`` contiguous columns; ``prange`` runs blocks in parallel and, inside a
block, time is the outer loop and the neurons of the block the inner one, so
every inner loop streams one contiguous row segment and vectorises. The
per-neuron vectors ``v0`` and ``gv_final`` may hold a single value that stands
for every neuron (the resting state, an unused final membrane): no N-sized
buffer is filled or read for them. Backward writes ``gv0`` only when it has N
entries (an empty one: dL/dV_init is not needed).

Forward, per block: read X once, write S once (and H when a gradient will be
needed), keep V in ``v_out`` (the block of the final membrane, cache resident).

Backward, per block, walks time backwards in one pass: read H and dS, write dX,
with the surrogate derivative evaluated inside the same loop (one loop per
built-in surrogate; a user-defined one comes as a tensor ``sg_in``). PLIF's
dL/dk also reads H[t-1] (for V[t-1]) and, for Form.A, X.

Saving H (4 bytes per neuron-step in float32, as much as keeping X alive for
backward would) costs forward one more stream but spares backward recomputing H
block by block and a second pass over each block: LIF forward + backward at
N = 2^20 on 2 cores, same process, against that recomputing design: T = 4 6.9 ->
6.2 ms, T = 16 18.9 -> 15.7 ms, T = 64 85 -> 65 ms.

All flags are runtime integers so each kernel compiles once per dtype (the charge form
and surrogate id are the ints of ``_plan.Form`` and ``SurrogateId``, compared with those
enums' members); every constant comes from the parameter block ``prm`` (slots
``_plan.Param``) in the tensor's dtype so float32 math stays float32.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic, overload

from spikestack.kernels._plan import Form, Param
from spikestack.surrogates import SurrogateId

Array = np.ndarray
_OPTS = {"cache": True, "fastmath": False, "error_model": "numpy", "nogil": True}


# e^x that vectorises. libm's exp is a call per element that no loop around it can
# vectorise: it made the exp-based surrogates' backward 3x slower than ATan's (T = 16,
# N = 2^20: 48-51 ms against 15-17; with this, 24-25). Textbook method: x = n ln2 + r with
# |r| <= ln2/2 (ln2 in two parts, Cody-Waite), e^r by its Taylor polynomial in float64,
# times 2^n made from its exponent bits. Degree 12 gives float64 results within 2 ulp;
# float32 inputs use degree 9 and round once, which matched the correctly rounded float32
# e^x on all but 35 of 4 million test points (1 ulp; torch's float32 exp is 1 ulp off on
# about 1 %). x is clamped to [-708, 710]: above, 2^1024's bit pattern is +inf; below,
# the result stays e^-708 (about 3e-308; 0 in float32) where e^x would underflow further,
# a difference no surrogate gradient shows. NaN stays NaN. tests/kernels pin all of it.
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_C = tuple(1.0 / math.factorial(i) for i in range(13))


@intrinsic
def _f64_from_bits(typingctx, bits):  # type: ignore[no-untyped-def]
    """The float64 whose IEEE-754 bit pattern is the int64 ``bits``."""
    if not isinstance(bits, types.Integer):
        return None

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@njit(inline="always", **_OPTS)
def _exp_split(x):  # type: ignore[no-untyped-def]
    """(n, r) with x = n ln2 + r, |r| <= ln2/2, for x clamped to [-708, 710] (NaN stays)."""
    xc = np.minimum(np.maximum(x, -708.0), 710.0)
    n = np.floor(xc * _LOG2E + 0.5)
    return n, (xc - n * _LN2_HI) - n * _LN2_LO


@njit(inline="always", **_OPTS)
def _exp_scaled(n, p):  # type: ignore[no-untyped-def]
    """p * 2^n for n in [-1022, 1024]; 2^1024's bit pattern is +inf."""
    return p * _f64_from_bits((np.int64(n) + 1023) << 52)


@njit(inline="always", **_OPTS)
def _exp_f32(x):  # type: ignore[no-untyped-def]
    xd = np.float64(x)
    n, r = _exp_split(xd)
    c = _C
    p = c[9] * r + c[8]
    p = ((((p * r + c[7]) * r + c[6]) * r + c[5]) * r + c[4]) * r + c[3]
    p = ((p * r + c[2]) * r + 1.0) * r + 1.0
    return np.float32(_exp_scaled(n, p))


@njit(inline="always", **_OPTS)
def _exp_f64(x):  # type: ignore[no-untyped-def]
    n, r = _exp_split(x)
    c = _C
    p = c[12] * r + c[11]
    p = ((((p * r + c[10]) * r + c[9]) * r + c[8]) * r + c[7]) * r + c[6]
    p = ((((p * r + c[5]) * r + c[4]) * r + c[3]) * r + c[2]) * r + 1.0
    return _exp_scaled(n, p * r + 1.0)


def _vexp(x: float) -> float:
    """e^x in x's precision; in numba code it compiles to :func:`_exp_f32` / :func:`_exp_f64`."""
    return math.exp(x)


@overload(_vexp, inline="always")
def _vexp_overload(x):  # type: ignore[no-untyped-def]
    if isinstance(x, types.Float) and x.bitwidth == 32:
        return lambda x: _exp_f32(x)
    if isinstance(x, types.Float):
        return lambda x: _exp_f64(x)
    return None


# Per-element pieces shared by the loops below; numba inlines them into each loop body
# (inline="always"), so every loop still compiles to one vectorised pass.
@njit(inline="always", **_OPTS)
def _fire(h, vth, vr, hard, zero):  # type: ignore[no-untyped-def]
    """(fired, V[t]) from H[t]: V is v_reset (hard) or H - v_threshold (soft) where it fired."""
    fired = h - vth >= zero
    fired_v = vr if hard else h - vth
    return fired, (fired_v if fired else h)


@njit(inline="always", **_OPTS)
def _charge(form, use_div, v, x, k, c, vr):  # type: ignore[no-untyped-def]
    """H[t] from V[t-1] and X[t] in the reference's order of operations (see _plan)."""
    if form == Form.C:
        return v * c + x
    if form == Form.A:
        return v + (x - (v - vr)) / k if use_div else v + (x - (v - vr)) * k
    return v - (v - vr) / k + x if use_div else v - (v - vr) * k + x


@njit(inline="always", **_OPTS)
def _step_loop(form, use_div, write_h, xr, v, s, hout, num, hard):  # type: ignore[no-untyped-def]
    k, c, vr, vth, one, zero = num
    for j in range(v.shape[0]):
        h = _charge(form, use_div, v[j], xr[j], k, c, vr)
        fired, v[j] = _fire(h, vth, vr, hard, zero)
        s[j] = one if fired else zero
        if write_h:
            hout[j] = h


@njit(**_OPTS)
def _step(
    form: int, use_div: int, write_h: int, xr: Array, v: Array, s: Array, hout: Array,
    prm: Array, hard: int,
) -> None:  # fmt: skip
    """One time step in one pass: H from v (V[t-1]) and xr (X[t]); v[j] = V[t], s[j] = S[t]
    and, when ``write_h``, hout[j] = H[t]. Each call below inlines the loop with literal
    flags, so every variant compiles to its own loop. (One loop with a runtime
    ``write_h`` ran 4x slower without H: hout is then s, and LLVM's runtime alias
    check sends aliasing arrays to the scalar loop.)"""
    num = (
        prm[Param.K], prm[Param.C], prm[Param.V_RESET], prm[Param.V_THRESHOLD],
        prm[Param.ONE], prm[Param.ZERO],
    )  # fmt: skip
    if form == Form.C and write_h:
        _step_loop(Form.C, 0, 1, xr, v, s, hout, num, hard)
    elif form == Form.C:
        _step_loop(Form.C, 0, 0, xr, v, s, hout, num, hard)
    elif form == Form.A and use_div and write_h:
        _step_loop(Form.A, 1, 1, xr, v, s, hout, num, hard)
    elif form == Form.A and use_div:
        _step_loop(Form.A, 1, 0, xr, v, s, hout, num, hard)
    elif form == Form.A and write_h:
        _step_loop(Form.A, 0, 1, xr, v, s, hout, num, hard)
    elif form == Form.A:
        _step_loop(Form.A, 0, 0, xr, v, s, hout, num, hard)
    elif use_div and write_h:
        _step_loop(Form.B, 1, 1, xr, v, s, hout, num, hard)
    elif use_div:
        _step_loop(Form.B, 1, 0, xr, v, s, hout, num, hard)
    elif write_h:
        _step_loop(Form.B, 0, 1, xr, v, s, hout, num, hard)
    else:
        _step_loop(Form.B, 0, 0, xr, v, s, hout, num, hard)


@njit(inline="always", **_OPTS)
def _sg(sid, z, c0, c1, one, zero, two):  # type: ignore[no-untyped-def]
    """Surrogate derivative ``sid`` at z = H - v_threshold (formulas in _plan.surrogate_constants).
    Inlined with a constant ``sid``, the chain folds to one formula."""
    if sid == SurrogateId.ATAN:
        a = c0 * z
        return (one / (one + a * a)) * c1
    if sid == SurrogateId.SIGMOID:
        s = one / (one + _vexp(-(c0 * z)))
        return c0 * s * (one - s)
    if sid == SurrogateId.FAST_SIGMOID:
        a = c0 * abs(z) + one
        return one / (a * a)
    if sid == SurrogateId.PIECEWISE_QUADRATIC:
        a = c0 - c1 * abs(z)
        return a if a > zero else zero
    if sid == SurrogateId.RECTANGLE:
        return c0 if abs(z) < c1 else zero
    if sid == SurrogateId.TRIANGLE:
        a = one - c0 * abs(z)
        return c1 * (a if a > zero else zero)
    if sid == SurrogateId.ERF:
        a = c1 * z
        return c0 * _vexp(-(a * a))
    if sid == SurrogateId.GAUSSIAN:
        return _vexp(-(z * z) / c0) / c1
    if sid == SurrogateId.SOFT_SIGN:
        a = one + abs(c0 * z)
        return (one / (two * (a * a))) * c0
    if sid == SurrogateId.PIECEWISE_EXP:
        return c0 * _vexp(c1 * abs(z))
    return c0 if z >= zero else c1  # SurrogateId.LEAKY_K_RELU


@njit(inline="always", **_OPTS)
def _back(sid, j, hr, g, gsr, sgr, gxr, flags, num):  # type: ignore[no-untyped-def]
    """One neuron one step back: gxr[j] = dL/dX[t] (or dL/dH[t], see below), g[j] = dL/dV[t-1].

    With G = dL/dV[t] (g[j] on entry) and σ' = surrogate ``sid`` at H - v_threshold
    (``sgr[j]`` when ``sid`` is SurrogateId.CUSTOM):
        dS_total = dS[t] - G * H + G * v_reset      (hard, not detached)
                 = dS[t] - G * v_threshold          (soft, not detached)
                 = dS[t]                            (detach_reset)
        dH = G * (1 - S[t]) (hard) or G (soft)  +  dS_total * σ'
    and, with e = dH op kk (op = / when ``div``, else *; kk = k, or c for Form.C),
    dX = e (Form.A) or dH;  dV[t-1] = e (Form.C) or dH - e.
    With ``scale_x`` off, Form.A leaves dH in gxr (PLIF's dL/dk needs it; the caller
    scales it to dX afterwards).
    """
    hard, detach, div, scale_x, form_c = flags
    kk, vth, vr, zero, one, two, c0, c1 = num
    h = hr[j]
    sg = sgr[j] if sid == SurrogateId.CUSTOM else _sg(sid, h - vth, c0, c1, one, zero, two)
    gv = g[j]
    if detach:
        gst = gsr[j]
    elif hard:
        gst = gsr[j] - gv * h + gv * vr
    else:
        gst = gsr[j] - gv * vth
    direct = zero if (hard and h - vth >= zero) else gv
    d = direct + gst * sg
    e = d / kk if div else d * kk
    gxr[j] = e if scale_x else d
    g[j] = e if form_c else d - e


@njit(**_OPTS)
def _reverse_step(
    sid: int, hr: Array, g: Array, gsr: Array, sgr: Array, gxr: Array, prm: Array,
    hard: int, detach: int, form: int, use_div: int, scale_x: int,
) -> None:  # fmt: skip
    """One step backwards in one pass over a row segment (see :func:`_back`); one loop per
    built-in surrogate, whose formula the constant ``sid`` selects at compile time."""
    m = g.shape[0]
    flags = (hard, detach, use_div and form != Form.C, scale_x and form == Form.A, form == Form.C)
    kk = prm[Param.C] if form == Form.C else prm[Param.K]
    num = (
        kk, prm[Param.V_THRESHOLD], prm[Param.V_RESET], prm[Param.ZERO], prm[Param.ONE],
        prm[Param.TWO], prm[Param.S0], prm[Param.S1],
    )  # fmt: skip
    if sid == SurrogateId.CUSTOM:
        for j in range(m):
            _back(SurrogateId.CUSTOM, j, hr, g, gsr, sgr, gxr, flags, num)
    elif sid == SurrogateId.ATAN:
        for j in range(m):
            _back(SurrogateId.ATAN, j, hr, g, gsr, sgr, gxr, flags, num)
    elif sid == SurrogateId.SIGMOID:
        for j in range(m):
            _back(SurrogateId.SIGMOID, j, hr, g, gsr, sgr, gxr, flags, num)
    elif sid == SurrogateId.FAST_SIGMOID:
        for j in range(m):
            _back(SurrogateId.FAST_SIGMOID, j, hr, g, gsr, sgr, gxr, flags, num)
    elif sid == SurrogateId.PIECEWISE_QUADRATIC:
        for j in range(m):
            _back(SurrogateId.PIECEWISE_QUADRATIC, j, hr, g, gsr, sgr, gxr, flags, num)
    elif sid == SurrogateId.RECTANGLE:
        for j in range(m):
            _back(SurrogateId.RECTANGLE, j, hr, g, gsr, sgr, gxr, flags, num)
    elif sid == SurrogateId.TRIANGLE:
        for j in range(m):
            _back(SurrogateId.TRIANGLE, j, hr, g, gsr, sgr, gxr, flags, num)
    elif sid == SurrogateId.ERF:
        for j in range(m):
            _back(SurrogateId.ERF, j, hr, g, gsr, sgr, gxr, flags, num)
    elif sid == SurrogateId.GAUSSIAN:
        for j in range(m):
            _back(SurrogateId.GAUSSIAN, j, hr, g, gsr, sgr, gxr, flags, num)
    elif sid == SurrogateId.SOFT_SIGN:
        for j in range(m):
            _back(SurrogateId.SOFT_SIGN, j, hr, g, gsr, sgr, gxr, flags, num)
    elif sid == SurrogateId.PIECEWISE_EXP:
        for j in range(m):
            _back(SurrogateId.PIECEWISE_EXP, j, hr, g, gsr, sgr, gxr, flags, num)
    else:
        for j in range(m):
            _back(SurrogateId.LEAKY_K_RELU, j, hr, g, gsr, sgr, gxr, flags, num)


@njit(**_OPTS)
def _load(dst: Array, src: Array, lo: int, hi: int) -> None:
    """dst = src[lo:hi], or src[0] everywhere when src holds one value for all neurons."""
    if src.shape[0] == 1:
        dst[:] = src[0]
    else:
        dst[:] = src[lo:hi]


_I32 = np.int32


@njit(inline="always", **_OPTS)
def order_key(b):  # type: ignore[no-untyped-def]
    """float32 bits ``b`` (as int32) as a signed integer in the floats' order, -0 as +0
    (no NaN): the bits of a positive float, minus those of a negative float's magnitude."""
    return b if b >= _I32(0) else _I32(-2147483648) - b


@njit(inline="always", **_OPTS)
def bf16_bits(b, t_key):  # type: ignore[no-untyped-def]
    """The bfloat16 (uint16 bits) of the float32 with bits ``b`` (uint32): rounded to
    nearest even, unless that carries it across the threshold (whose :func:`order_key`
    is ``t_key``; fired means >=): then the next bfloat16 on its own side (see
    kernels/saved.py). int32 arithmetic and selects only, so a loop of it vectorises.
    (Rounding cannot overflow: the largest non-NaN bits, -inf's, are 0xFF800000.)"""
    r = _I32((b + np.uint32(0x7FFF) + ((b >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16))
    # the bfloat16's own order key: -0 and +0 both 0, one step = 1
    k16 = r if r < _I32(0x8000) else _I32(0x8000) - r
    fires = order_key(_I32(b)) >= t_key
    crossed = (k16 << _I32(16) >= t_key) != fires
    # one step toward the spike's side: rounding moved it at most half a step
    k16 = k16 + (_I32(1) if fires else _I32(-1)) if crossed else k16
    return np.uint16(k16 if k16 >= _I32(0) else _I32(0x8000) - k16)


@njit(**_OPTS)
def _encode_row(bits: Array, t_key: int, out: Array) -> None:
    """out[j] = the bfloat16 of H (bits[j]) kept on its spike's side (:func:`bf16_bits`)."""
    for j in range(bits.shape[0]):
        out[j] = bf16_bits(bits[j], t_key)


@njit(**_OPTS)
def _decode_row(src: Array, bits: Array) -> None:
    """bits[j] = the float32 bits of the bfloat16 src[j] (exact: its top half)."""
    for j in range(src.shape[0]):
        bits[j] = np.uint32(src[j]) << np.uint32(16)


@njit(inline="always", **_OPTS)
def _step_saving(  # type: ignore[no-untyped-def]
    form, use_div, save_h, xr, v, sr, h_out, scratch, h16_out, t, lo, hi, prm, hard, t_key
):
    """One step of neurons lo..hi-1 from the input row ``xr``, H saved as ``save_h`` says:
    0 not at all, 1 into h_out (the input's dtype), 2 as bfloat16 bits into h16_out (H
    goes through ``scratch``, a block-sized row in cache)."""
    if save_h == 2:
        _step(form, use_div, 1, xr, v, sr, scratch, prm, hard)
        _encode_row(scratch.view(np.uint32), t_key, h16_out[t, lo:hi])
    elif save_h == 1:
        _step(form, use_div, 1, xr, v, sr, h_out[t, lo:hi], prm, hard)
    else:
        _step(form, use_div, 0, xr, v, sr, sr, prm, hard)  # hout not written


@njit(**_OPTS)
def _forward_block(
    x: Array, v0: Array, s_out: Array, v_out: Array, h_out: Array, h16_out: Array,
    prm: Array, form: int, use_div: int, hard: int, save_h: int, lo: int, hi: int,
    scale: Array, shift: Array, channels: int, t_key: int,
) -> None:  # fmt: skip
    """Forward of neurons lo..hi-1 (see :func:`forward`)."""
    v = v_out[lo:hi]
    _load(v, v0, lo, hi)
    scratch = np.empty(hi - lo if save_h == 2 else 1, dtype=x.dtype)
    if channels:  # the input affine, per channel: a block-sized row that stays in cache
        first = lo % channels
        a = scale[first : first + hi - lo]
        b = shift[first : first + hi - lo]
        y = np.empty(hi - lo, dtype=x.dtype)
    for t in range(x.shape[0]):
        sr = s_out[t, lo:hi]
        if channels:
            xr = x[t, lo:hi]
            for j in range(hi - lo):
                y[j] = a[j] * xr[j] + b[j]
            _step_saving(
                form, use_div, save_h, y, v, sr, h_out, scratch, h16_out, t, lo, hi, prm,
                hard, t_key,
            )  # fmt: skip
        else:
            _step_saving(
                form, use_div, save_h, x[t, lo:hi], v, sr, h_out, scratch, h16_out, t, lo,
                hi, prm, hard, t_key,
            )  # fmt: skip


@njit(parallel=True, **_OPTS)
def forward(
    x: Array, v0: Array, s_out: Array, v_out: Array, h_out: Array, h16_out: Array,
    prm: Array, form: int, use_div: int, hard: int, save_h: int, block: int,
    scale: Array, shift: Array, channels: int, t_key: int,
) -> None:  # fmt: skip
    """S[t] = Θ(H[t] - v_threshold), V[t] = reset(H[t]) for t < T; v_out = V[T-1].

    ``save_h``: 0, H not kept; 1, H into ``h_out`` [T, N]; 2 (float32 only), H as
    bfloat16 bits into ``h16_out`` [T, N] (uint16), each value kept on its spike's side of
    the threshold, whose :func:`order_key` is ``t_key`` (kernels/saved.py): half the
    bytes, and no float32 H written and read again to convert it. Unused arrays may be
    any array. With ``channels``
    > 0 the neurons take ``scale[c] * X + shift[c]`` instead of X, c = n % channels
    (channels innermost: a batch norm's normalise-and-scale; ``scale`` and ``shift`` are
    the per-channel values repeated over ``block + channels`` entries, so a block reads
    them as one contiguous row); the arithmetic is that of
    :func:`spikestack.kernels.batchnorm_kernels.rows_affine`, value for value. The
    parallel loop only hands out blocks, so numba's parfor passes see a tiny body (fast
    compile).
    """
    n = x.shape[1]
    for b in prange((n + block - 1) // block):
        lo = b * block
        hi = min(lo + block, n)
        _forward_block(
            x, v0, s_out, v_out, h_out, h16_out, prm, form, use_div, hard, save_h, lo, hi,
            scale, shift, channels, t_key,
        )  # fmt: skip


@njit(inline="always", **_OPTS)
def _dk_loop(form, from_h, acc, gxr, prev, xr, prm, hard):  # type: ignore[no-untyped-def]
    """acc[j] += dH[t] * dH[t]/dk for PLIF, with dH[t] in gxr and V[t-1] = reset(prev[j])
    (``from_h``: prev is H[t-1]) or prev[j] (V_init); Form.A then scales gxr to dX = dH * k
    (PLIF multiplies by k; only LIF divides). Called with literal flags: one loop each."""
    vth, vr, k, zero = prm[Param.V_THRESHOLD], prm[Param.V_RESET], prm[Param.K], prm[Param.ZERO]
    for j in range(acc.shape[0]):
        d = gxr[j]
        vp = _fire(prev[j], vth, vr, hard, zero)[1] if from_h else prev[j]
        if form == Form.A:
            acc[j] += np.float64(d) * np.float64(xr[j] - (vp - vr))
            gxr[j] = d * k
        elif form == Form.B:
            acc[j] += np.float64(d) * np.float64(-(vp - vr))
        else:
            acc[j] += np.float64(d) * np.float64(-vp)


@njit(**_OPTS)
def _backward_block(
    h: Array, h16: Array, x: Array, v0: Array, gs: Array, gv_final: Array, sg_in: Array,
    gx: Array, gv0: Array, prm: Array, form: int, use_div: int, hard: int, detach: int,
    sid: int, need_k: int, lo: int, hi: int,
) -> float:  # fmt: skip
    """Backward of neurons lo..hi-1 (see :func:`backward`); returns their dL/dk."""
    m = hi - lo
    bf16 = h16.shape[0] > 0
    here = np.empty(m if bf16 else 1, dtype=gx.dtype)  # H[t] and H[t-1] decoded, in cache
    before = np.empty(m if bf16 and need_k else 1, dtype=gx.dtype)
    # G = dL/dV[t]; ends as dL/dV_init (kept when gv0 has N entries)
    g = gv0[lo:hi] if gv0.shape[0] > 0 else np.empty(m, dtype=gx.dtype)
    _load(g, gv_final, lo, hi)
    acc = np.zeros(m if need_k else 1, dtype=np.float64)
    vp = np.empty(m if need_k else 1, dtype=gx.dtype)
    for t in range(gx.shape[0] - 1, -1, -1):
        if bf16:
            _decode_row(h16[t, lo:hi], here.view(np.uint32))
            hr = here
        else:
            hr = h[t, lo:hi]
        gxr = gx[t, lo:hi]
        sgr = sg_in[t, lo:hi] if sid == SurrogateId.CUSTOM else hr
        _reverse_step(
            sid, hr, g, gs[t, lo:hi], sgr, gxr, prm, hard, detach, form, use_div, 1 - need_k
        )
        if need_k:  # gxr holds dH[t]; dH[t]/dk needs V[t-1] (and X[t] for Form.A)
            if t > 0:  # V[t-1] = reset(H[t-1])
                if bf16:
                    _decode_row(h16[t - 1, lo:hi], before.view(np.uint32))
                    hp = before
                else:
                    hp = h[t - 1, lo:hi]
                if form == Form.A:
                    _dk_loop(Form.A, 1, acc, gxr, hp, x[t, lo:hi], prm, hard)
                elif form == Form.B:
                    _dk_loop(Form.B, 1, acc, gxr, hp, hr, prm, hard)
                else:
                    _dk_loop(Form.C, 1, acc, gxr, hp, hr, prm, hard)
            else:  # V[-1] = V_init
                _load(vp, v0, lo, hi)
                if form == Form.A:
                    _dk_loop(Form.A, 0, acc, gxr, vp, x[t, lo:hi], prm, hard)
                elif form == Form.B:
                    _dk_loop(Form.B, 0, acc, gxr, vp, hr, prm, hard)
                else:
                    _dk_loop(Form.C, 0, acc, gxr, vp, hr, prm, hard)
    return acc.sum() if need_k else 0.0


@njit(parallel=True, **_OPTS)
def backward(
    h: Array, h16: Array, x: Array, v0: Array, gs: Array, gv_final: Array, sg_in: Array,
    gx: Array, gv0: Array, gk_part: Array, prm: Array,
    form: int, use_div: int, hard: int, detach: int, sid: int, need_k: int, block: int,
) -> None:  # fmt: skip
    """dX, dV_init and (per block, float64) dL/dk of the fused neuron; see _plan for the math.

    Reads the H that forward saved (``h``, or its bfloat16 bits ``h16`` [T, N] when that
    is not empty, decoded row by row in cache), dS (and, for PLIF's Form.A dL/dk only, X;
    any [T, N] array otherwise) once each, time running backwards from G = ``gv_final``;
    σ' comes from ``sid``, or from ``sg_in[t]`` for SurrogateId.CUSTOM (see :func:`_back`).
    dL/dk += dH * dH/dk (PLIF) is summed per block in float64 into ``gk_part``.
    """
    n = gx.shape[1]
    for b in prange((n + block - 1) // block):
        lo = b * block
        gk_part[b] = _backward_block(
            h, h16, x, v0, gs, gv_final, sg_in, gx, gv0, prm,
            form, use_div, hard, detach, sid, need_k, lo, min(lo + block, n),
        )  # fmt: skip
