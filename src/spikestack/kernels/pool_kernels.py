"""Numba kernels of max pooling with non-overlapping windows (see :mod:`spikestack.kernels.pool`).

Forward writes the maximum of each ``kh x kw`` window and the window position of the
first maximum in row-major order (the element torch's contiguous CPU kernel picks; a
NaN wins, the last one if several) as one byte. Backward writes the whole input
gradient in one pass: each window's gradient at its recorded position, zeros elsewhere
(and on the rows and columns no window covers). The arrays are ``[N, H, W, C]``
(channels-last memory): the inner loop runs over channels and vectorises. (A version
for contiguous planes, whose windows are a few scattered elements, lost to torch's
kernel, 0.64x on [256, 32, 32, 32]; that layout stays with torch.)
"""

from __future__ import annotations

from numba import njit, prange

_OPTS = {"cache": True, "fastmath": False, "error_model": "numpy", "nogil": True}


@njit(parallel=True, **_OPTS)
def cl_forward(x, kh, kw, out, idx):  # type: ignore[no-untyped-def]
    n, _, _, c = x.shape
    oh, ow = out.shape[1], out.shape[2]
    for r in prange(n * oh):
        b, i = r // oh, r % oh
        for j in range(ow):
            o = out[b, i, j]
            k = idx[b, i, j]
            first = x[b, i * kh, j * kw]
            for ch in range(c):
                o[ch] = first[ch]
                k[ch] = 0
            for p in range(1, kh * kw):
                row = x[b, i * kh + p // kw, j * kw + p % kw]
                for ch in range(c):
                    v = row[ch]
                    if v > o[ch] or v != v:
                        o[ch] = v
                        k[ch] = p


@njit(parallel=True, **_OPTS)
def cl_backward(g, idx, kh, kw, gx):  # type: ignore[no-untyped-def]
    n, h, w, c = gx.shape
    oh, ow = g.shape[1], g.shape[2]
    for r in prange(n * h):
        b, y = r // h, r % h
        i = y // kh
        for x in range(w):
            dst = gx[b, y, x]
            j = x // kw
            if i >= oh or j >= ow:
                for ch in range(c):
                    dst[ch] = 0.0
                continue
            p = (y - i * kh) * kw + (x - j * kw)
            src = g[b, i, j]
            k = idx[b, i, j]
            for ch in range(c):
                dst[ch] = src[ch] if k[ch] == p else 0.0
