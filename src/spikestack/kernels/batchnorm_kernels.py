"""Numba kernels of training-mode batch normalisation (see :mod:`spikestack.kernels.batchnorm`).

The input is seen as ``rows [M, C]``: channels innermost (channels-last ``[N, H, W, C]``
memory, or a ``[N, C]`` batch). Threads take blocks of rows; each keeps partial sums
per channel, and the inner loop over channels vectorises. (Channels-first planes were
tried too: with strict float order a sum along a plane is one dependency chain, and
on 16x16 planes the kernels lost to torch's, so that layout stays with torch.)

Sums are accumulated in float64 by one kernel for both reductions: the statistics pass
sums ``x - shift`` and its square with ``shift`` a value of the channel (its first
element), so a mean far from zero loses no precision to cancellation; the backward pass
sums ``dy`` and ``dy * (x - mean)`` directly. Elementwise passes compute ``a[c] * x + b[c]`` (forward)
and ``k1[c] * dy + k2[c] * x + k3[c]`` (backward) in the tensor's dtype.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_OPTS = {"cache": True, "fastmath": False, "error_model": "numpy", "nogil": True}


@njit(parallel=True, **_OPTS)
def rows_sums(u, u_shift, v, v_shift, blocks):  # type: ignore[no-untyped-def]
    """Per channel over the rows of ``[M, C]``: sum of (u - u_shift) and of
    (u - u_shift) * (v - v_shift). Statistics: u = v = x, both shifts a value of the
    channel; gradients: u = dy (shift 0), v = x (shift the mean)."""
    m, c = u.shape
    s = np.zeros((blocks, c))
    q = np.zeros((blocks, c))
    step = (m + blocks - 1) // blocks
    for b in prange(blocks):
        sb = s[b]
        qb = q[b]
        for i in range(b * step, min(m, (b + 1) * step)):
            ur = u[i]
            vr = v[i]
            for j in range(c):
                d = ur[j] - u_shift[j]
                sb[j] += d
                qb[j] += d * (vr[j] - v_shift[j])
    return s.sum(axis=0), q.sum(axis=0)


@njit(parallel=True, **_OPTS)
def rows_affine(x, a, b, out, blocks):  # type: ignore[no-untyped-def]
    """out = a[c] * x + b[c] over ``[M, C]``."""
    m, c = x.shape
    step = (m + blocks - 1) // blocks
    for blk in prange(blocks):
        for i in range(blk * step, min(m, (blk + 1) * step)):
            row = x[i]
            o = out[i]
            for j in range(c):
                o[j] = a[j] * row[j] + b[j]


@njit(parallel=True, **_OPTS)
def rows_input_grad(dy, x, k1, k2, k3, out, blocks):  # type: ignore[no-untyped-def]
    """out = k1[c] * dy + k2[c] * x + k3[c] over ``[M, C]``."""
    m, c = x.shape
    step = (m + blocks - 1) // blocks
    for blk in prange(blocks):
        for i in range(blk * step, min(m, (blk + 1) * step)):
            g = dy[i]
            row = x[i]
            o = out[i]
            for j in range(c):
                o[j] = k1[j] * g[j] + k2[j] * row[j] + k3[j]
