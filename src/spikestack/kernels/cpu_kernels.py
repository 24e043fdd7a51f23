"""Numba kernels of the fused IF/LIF/PLIF neurons (see :mod:`spikestack.kernels._plan`).

Layout: ``x`` is ``[T, N]`` (C-contiguous). Neurons are cut into blocks of
``block`` contiguous columns; ``prange`` runs blocks in parallel and, inside a
block, time is the outer loop and the neurons of the block the inner one, so
every inner loop streams one contiguous row segment and vectorises. The
per-neuron vectors ``v0`` and ``gv_final`` may hold a single value that stands
for every neuron (the resting state, an unused final membrane): no N-sized
buffer is filled or read for them. Backward writes ``gv0`` only when it has N
entries (an empty one: dL/dV_init is not needed).

Forward, per block: read X once, write S once, keep V in ``v_out`` (the block
of the final membrane, cache resident). Nothing else is written unless the
caller asks for H (user-defined surrogates need it to evaluate the derivative).

Backward, per block: recompute H for all T steps into the block of ``gx``
(T x block values, sized to stay in cache), then walk time backwards overwriting
H with dX. So backward reads X, dS and writes dX once each, and forward has to
save nothing but X (which autograd keeps by reference).

Each time step is one fused loop per charge form (``_step``, ``_reverse_step``):
writing H to a row and reading it back in a second loop cost about 15 % more.

All flags are runtime integers so each kernel compiles once per dtype; every
constant comes from ``prm`` in the tensor's dtype so float32 math stays float32.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

Array = np.ndarray

# prm slots
VTH, VR, K, C, ONE, ZERO, S0, S1, S2, TWO = range(10)
_OPTS = {"cache": True, "fastmath": False, "error_model": "numpy", "nogil": True}


# Per-element pieces shared by the loops below; numba inlines them into each loop body
# (inline="always"), so every loop still compiles to one vectorised pass.
@njit(inline="always", **_OPTS)
def _fire(h, vth, vr, hard, zero):  # type: ignore[no-untyped-def]
    """(fired, V[t]) from H[t]: V is v_reset (hard) or H - v_threshold (soft) where it fired."""
    fired = h - vth >= zero
    fired_v = vr if hard else h - vth
    return fired, (fired_v if fired else h)


@njit(inline="always", **_OPTS)
def _dl_dh(h, gv, gs, sg, hard, detach, vth, vr, zero):  # type: ignore[no-untyped-def]
    """dL/dH[t] from H[t], G = dL/dV[t], dL/dS[t] and σ'(H[t] - v_threshold) (see backward)."""
    if detach:
        gst = gs
    elif hard:
        gst = gs - gv * h + gv * vr
    else:
        gst = gs - gv * vth
    direct = zero if (hard and h - vth >= zero) else gv
    return direct + gst * sg


@njit(**_OPTS)
def _reset(hr: Array, v: Array, vth: float, vr: float, zero: float, hard: int) -> None:
    """v[j] = V[t] from H[t] (hr)."""
    for j in range(v.shape[0]):
        v[j] = _fire(hr[j], vth, vr, hard, zero)[1]


@njit(**_OPTS)
def _step(
    form: int, use_div: int, xr: Array, v: Array, out: Array, k: float, c: float, vr: float,
    vth: float, hard: int, one: float, zero: float, write_h: int,
) -> None:  # fmt: skip
    """One time step in one pass: H from v (V[t-1]) and xr (X[t]); v[j] = V[t];
    out[j] = H[t] when ``write_h`` else S[t]. One loop per charge form (see _plan)."""
    n = v.shape[0]
    if form == 2:
        for j in range(n):
            h = v[j] * c + xr[j]
            fired, v[j] = _fire(h, vth, vr, hard, zero)
            out[j] = h if write_h else (one if fired else zero)
    elif form == 0 and use_div:
        for j in range(n):
            h = v[j] + (xr[j] - (v[j] - vr)) / k
            fired, v[j] = _fire(h, vth, vr, hard, zero)
            out[j] = h if write_h else (one if fired else zero)
    elif form == 0:
        for j in range(n):
            h = v[j] + (xr[j] - (v[j] - vr)) * k
            fired, v[j] = _fire(h, vth, vr, hard, zero)
            out[j] = h if write_h else (one if fired else zero)
    elif use_div:
        for j in range(n):
            h = v[j] - (v[j] - vr) / k + xr[j]
            fired, v[j] = _fire(h, vth, vr, hard, zero)
            out[j] = h if write_h else (one if fired else zero)
    else:
        for j in range(n):
            h = v[j] - (v[j] - vr) * k + xr[j]
            fired, v[j] = _fire(h, vth, vr, hard, zero)
            out[j] = h if write_h else (one if fired else zero)


@njit(**_OPTS)
def _reverse_step(
    form: int, use_div: int, hard: int, detach: int, hr: Array, g: Array, gsr: Array,
    dh: Array, k: float, c: float, vth: float, vr: float, zero: float,
) -> None:  # fmt: skip
    """One step backwards in one pass. On entry hr = H[t], g = dL/dV[t], gsr = dL/dS[t],
    dh = σ'(H[t] - v_threshold); on exit dh = dL/dH[t], hr = dL/dX[t], g = dL/dV[t-1]."""
    m = dh.shape[0]
    if form == 2:
        for j in range(m):
            d = _dl_dh(hr[j], g[j], gsr[j], dh[j], hard, detach, vth, vr, zero)
            dh[j] = d
            hr[j] = d
            g[j] = d * c
    elif form == 0 and use_div:
        for j in range(m):
            d = _dl_dh(hr[j], g[j], gsr[j], dh[j], hard, detach, vth, vr, zero)
            dh[j] = d
            gxj = d / k
            hr[j] = gxj
            g[j] = d - gxj
    elif form == 0:
        for j in range(m):
            d = _dl_dh(hr[j], g[j], gsr[j], dh[j], hard, detach, vth, vr, zero)
            dh[j] = d
            gxj = d * k
            hr[j] = gxj
            g[j] = d - gxj
    elif use_div:
        for j in range(m):
            d = _dl_dh(hr[j], g[j], gsr[j], dh[j], hard, detach, vth, vr, zero)
            dh[j] = d
            hr[j] = d
            g[j] = d - d / k
    else:
        for j in range(m):
            d = _dl_dh(hr[j], g[j], gsr[j], dh[j], hard, detach, vth, vr, zero)
            dh[j] = d
            hr[j] = d
            g[j] = d - d * k


@njit(**_OPTS)
def _surrogate(sid: int, hr: Array, out: Array, vth: float, prm: Array) -> None:
    """out[j] = surrogate derivative at z = hr[j] - vth (formulas in _plan.surrogate_constants)."""
    n = out.shape[0]
    one, zero, two = prm[ONE], prm[ZERO], prm[TWO]
    c0, c1 = prm[S0], prm[S1]
    if sid == 0:
        for j in range(n):
            a = c0 * (hr[j] - vth)
            out[j] = (one / (one + a * a)) * c1
    elif sid == 1:
        for j in range(n):
            sg = one / (one + math.exp(-(c0 * (hr[j] - vth))))
            out[j] = c0 * sg * (one - sg)
    elif sid == 2:
        for j in range(n):
            a = c0 * abs(hr[j] - vth) + one
            out[j] = one / (a * a)
    elif sid == 3:
        for j in range(n):
            a = c0 - c1 * abs(hr[j] - vth)
            out[j] = a if a > zero else zero
    elif sid == 4:
        for j in range(n):
            out[j] = c0 if abs(hr[j] - vth) < c1 else zero
    elif sid == 5:
        for j in range(n):
            a = one - c0 * abs(hr[j] - vth)
            out[j] = c1 * (a if a > zero else zero)
    elif sid == 6:
        for j in range(n):
            a = c1 * (hr[j] - vth)
            out[j] = c0 * math.exp(-(a * a))
    elif sid == 7:
        for j in range(n):
            z = hr[j] - vth
            out[j] = math.exp(-(z * z) / c0) / c1
    elif sid == 8:
        for j in range(n):
            a = one + abs(c0 * (hr[j] - vth))
            out[j] = (one / (two * (a * a))) * c0
    elif sid == 9:
        for j in range(n):
            out[j] = c0 * math.exp(c1 * abs(hr[j] - vth))
    else:
        for j in range(n):
            out[j] = c0 if hr[j] - vth >= zero else c1


@njit(**_OPTS)
def _load(dst: Array, src: Array, lo: int, hi: int) -> None:
    """dst = src[lo:hi], or src[0] everywhere when src holds one value for all neurons."""
    if src.shape[0] == 1:
        dst[:] = src[0]
    else:
        dst[:] = src[lo:hi]


@njit(**_OPTS)
def _forward_block(
    x: Array, v0: Array, s_out: Array, v_out: Array, h_out: Array, prm: Array,
    form: int, use_div: int, hard: int, save_h: int, lo: int, hi: int,
) -> None:  # fmt: skip
    """Forward of neurons lo..hi-1 (see :func:`forward`)."""
    steps = x.shape[0]
    vth, vr, k, c, one, zero = prm[VTH], prm[VR], prm[K], prm[C], prm[ONE], prm[ZERO]
    v = v_out[lo:hi]
    _load(v, v0, lo, hi)
    for t in range(steps):
        sr = s_out[t, lo:hi]
        if save_h:  # user-defined surrogate: H is needed as well as S
            hr = h_out[t, lo:hi]
            _step(form, use_div, x[t, lo:hi], v, hr, k, c, vr, vth, hard, one, zero, 1)
            for j in range(hi - lo):
                sr[j] = one if hr[j] - vth >= zero else zero
        else:
            _step(form, use_div, x[t, lo:hi], v, sr, k, c, vr, vth, hard, one, zero, 0)


@njit(parallel=True, **_OPTS)
def forward(
    x: Array, v0: Array, s_out: Array, v_out: Array, h_out: Array, prm: Array,
    form: int, use_div: int, hard: int, save_h: int, block: int,
) -> None:  # fmt: skip
    """S[t] = Θ(H[t] - v_threshold), V[t] = reset(H[t]) for t < T; v_out = V[T-1].

    ``h_out`` ([T, N], or any array when ``save_h`` is 0) receives H. The parallel
    loop only hands out blocks, so numba's parfor passes see a tiny body (fast compile).
    """
    n = x.shape[1]
    for b in prange((n + block - 1) // block):
        lo = b * block
        hi = min(lo + block, n)
        _forward_block(x, v0, s_out, v_out, h_out, prm, form, use_div, hard, save_h, lo, hi)


@njit(**_OPTS)
def _backward_block(
    x: Array, v0: Array, gs: Array, gv_final: Array, sg_in: Array, gx: Array, gv0: Array,
    prm: Array, form: int, use_div: int, hard: int, detach: int, sid: int, need_k: int,
    lo: int, hi: int,
) -> float:  # fmt: skip
    """Backward of neurons lo..hi-1 (see :func:`backward`); returns their dL/dk."""
    steps = x.shape[0]
    vth, vr, k, c, one, zero = prm[VTH], prm[VR], prm[K], prm[C], prm[ONE], prm[ZERO]
    m = hi - lo
    # first the recomputed membrane, then dL/dV; ends as dL/dV_init (kept when gv0 has N)
    g = gv0[lo:hi] if gv0.shape[0] > 0 else np.empty(m, dtype=gx.dtype)
    _load(g, v0, lo, hi)
    for t in range(steps):
        _step(form, use_div, x[t, lo:hi], g, gx[t, lo:hi], k, c, vr, vth, hard, one, zero, 1)
    _load(g, gv_final, lo, hi)
    dh = np.empty(m, dtype=gx.dtype)
    acc = np.zeros(m if need_k else 1, dtype=np.float64)
    vp = np.empty(m if need_k else 1, dtype=gx.dtype)
    for t in range(steps - 1, -1, -1):
        hr = gx[t, lo:hi]
        gsr = gs[t, lo:hi]
        if sid < 0:
            dh[:] = sg_in[t, lo:hi]
        else:
            _surrogate(sid, hr, dh, vth, prm)
        _reverse_step(form, use_div, hard, detach, hr, g, gsr, dh, k, c, vth, vr, zero)
        if need_k:
            if t > 0:
                _reset(gx[t - 1, lo:hi], vp, vth, vr, zero, hard)
            else:
                _load(vp, v0, lo, hi)
            xr = x[t, lo:hi]
            for j in range(m):
                if form == 0:
                    dk = xr[j] - (vp[j] - vr)
                elif form == 1:
                    dk = -(vp[j] - vr)
                else:
                    dk = -vp[j]
                acc[j] += np.float64(dh[j]) * np.float64(dk)
    return acc.sum() if need_k else 0.0


@njit(parallel=True, **_OPTS)
def backward(
    x: Array, v0: Array, gs: Array, gv_final: Array, sg_in: Array, gx: Array, gv0: Array,
    gk_part: Array, prm: Array,
    form: int, use_div: int, hard: int, detach: int, sid: int, need_k: int, block: int,
) -> None:  # fmt: skip
    """dX, dV_init and (per block, float64) dL/dk of the fused neuron; see _plan for the math.

    Per block, H is recomputed for all T steps into the block of ``gx``, then time
    runs backwards with G = dL/dV[t] (starting from ``gv_final``) and
    σ' = surrogate derivative (from ``sid``, or ``sg_in[t]`` when ``sid`` < 0):
        dS_total = dS[t] - G * H + G * v_reset      (hard, not detached)
                 = dS[t] - G * v_threshold          (soft, not detached)
                 = dS[t]                            (detach_reset)
        dH = G * (1 - S[t]) (hard) or G (soft)  +  dS_total * σ'(H[t] - v_threshold)
    then dX[t] overwrites H[t], G becomes dL/dV[t-1], and dL/dk += dH * dH/dk (PLIF).
    """
    n = x.shape[1]
    for b in prange((n + block - 1) // block):
        lo = b * block
        gk_part[b] = _backward_block(
            x, v0, gs, gv_final, sg_in, gx, gv0, prm,
            form, use_div, hard, detach, sid, need_k, lo, min(lo + block, n),
        )  # fmt: skip
