"""numba kernels of event-driven synaptic layers: only the non-zero inputs do work.

A dense layer multiplies every input by its weights; with sparse input the product is a
sum, over the non-zero inputs, of their value times their weight column (for spikes, the
value is 1 or one constant c). These kernels do that sum and nothing else, so their cost
follows the number of non-zero inputs, not the layer size.

- Linear: the non-zeros of all rows are gathered per input (column lists with their
  values, built by row ranges in parallel), then output columns are split into blocks
  that run in parallel; in a block, each active input's weight slice (``W^T[k, block]``,
  contiguous) is read once and added, times the value, to every row in which that input
  is non-zero. Weights are read at most once per call.
- Convolution: rows (samples × steps) run in parallel; each non-zero input at (c, y, x)
  adds its value times the weight vector ``W[c, ky, kx, :]`` (output channels
  contiguous) to every output pixel it reaches, into a channels-last output. Stride,
  padding, dilation and groups as torch's.

Each returns the multiply-accumulates it did (one per non-zero input and output it
reaches: for spikes, the synaptic operations) and whether the input was spikes (every
non-zero the same value c > 0).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True)
def _common(scales, same):  # pragma: no cover - compiled
    """The parts' shared non-zero value and whether they agree."""
    scale = scales.dtype.type(0)
    ok = True
    for p in range(scales.shape[0]):
        ok = ok and same[p]
        if scales[p] != 0:
            if scale == 0:
                scale = scales[p]
            elif scales[p] != scale:
                ok = False
    return scale, ok


@njit(cache=True, nogil=True, parallel=True)
def count_nonzero(x, parts):  # pragma: no cover - compiled
    """(non-zeros of the flat ``x``, True if they all equal one value c > 0), in ``parts``
    parallel ranges."""
    n = x.shape[0]
    counts = np.zeros(parts, dtype=np.int64)
    scales = np.zeros(parts, dtype=x.dtype)
    same = np.ones(parts, dtype=np.bool_)
    for p in prange(parts):
        for i in range(p * n // parts, (p + 1) * n // parts):
            v = x[i]
            if v != 0:
                if counts[p] == 0:
                    scales[p] = v
                elif v != scales[p]:
                    same[p] = False
                counts[p] += 1
    scale, ok = _common(scales, same)
    return counts.sum(), ok and scale >= 0


@njit(cache=True, nogil=True, parallel=True)
def scan(x, parts):  # pragma: no cover - compiled
    """Column lists of the non-zeros of ``x`` [N, K], built by ``parts`` row ranges in
    parallel: (starts [K + 1], rows [nnz] ascending within a column, their values, True
    if every non-zero equals one value c > 0)."""
    n, k = x.shape
    counts = np.zeros((parts, k), dtype=np.int64)
    scales = np.zeros(parts, dtype=x.dtype)
    same = np.ones(parts, dtype=np.bool_)
    for p in prange(parts):
        seen = False
        for r in range(p * n // parts, (p + 1) * n // parts):
            for j in range(k):
                v = x[r, j]
                if v != 0:
                    counts[p, j] += 1
                    if not seen:
                        scales[p], seen = v, True
                    elif v != scales[p]:
                        same[p] = False
    scale, ok = _common(scales, same)
    starts = np.zeros(k + 1, dtype=np.int64)
    offsets = np.empty((parts, k), dtype=np.int64)  # where part p writes in column j
    for j in range(k):
        at = starts[j]
        for p in range(parts):
            offsets[p, j] = at
            at += counts[p, j]
        starts[j + 1] = at
    rows = np.empty(starts[k], dtype=np.int32)
    values = np.empty(starts[k], dtype=x.dtype)
    for p in prange(parts):
        fill = offsets[p]
        for r in range(p * n // parts, (p + 1) * n // parts):
            for j in range(k):
                v = x[r, j]
                if v != 0:
                    rows[fill[j]] = r
                    values[fill[j]] = v
                    fill[j] += 1
    return starts, rows, values, ok and scale >= 0


@njit(cache=True, nogil=True, parallel=True)
def linear(starts, rows, values, weight_t, bias, out, block):  # pragma: no cover - compiled
    """``out[N, O] = bias + x @ weight_t`` for the column lists of ``x`` [N, K] (from
    :func:`scan`) and ``weight_t`` [K, O]; ``out`` is overwritten. Returns the
    multiply-accumulates done (non-zeros × O)."""
    k, o = weight_t.shape
    for b in prange((o + block - 1) // block):
        lo = b * block
        hi = min(lo + block, o)
        for r in range(out.shape[0]):
            out[r, lo:hi] = bias[lo:hi]
        for j in range(k):
            if starts[j + 1] == starts[j]:
                continue
            w = weight_t[j, lo:hi]
            for i in range(starts[j], starts[j + 1]):
                target = out[rows[i], lo:hi]
                v = values[i]
                for c in range(hi - lo):
                    target[c] += v * w[c]
    return rows.shape[0] * o


@njit(cache=True, nogil=True, parallel=True)
def conv2d(x, weight, bias, out, stride, padding, dilation, groups):  # pragma: no cover
    """``out[N, Ho, Wo, O]`` (channels-last, overwritten) = bias + conv2d(x, weight) for
    ``x`` [N, C, H, W] and ``weight`` [C, KH, KW, O / groups], non-zero inputs only.
    Returns (multiply-accumulates done, non-zeros of x, True if every non-zero equals one
    value c > 0): the spike check rides along with the work, so the input is read once."""
    n, c_in, h, w_in = x.shape
    _, kh, kw, per_group = weight.shape
    ho, wo = out.shape[1], out.shape[2]
    in_per_group = c_in // groups
    sh, sw = stride
    ph, pw = padding
    dh, dw = dilation
    done = np.zeros(n, dtype=np.int64)
    nonzero = np.zeros(n, dtype=np.int64)
    scales = np.zeros(n, dtype=x.dtype)
    same = np.ones(n, dtype=np.bool_)
    for r in prange(n):
        for oy in range(ho):
            for ox in range(wo):
                out[r, oy, ox, :] = bias
        count = 0
        seen = 0
        for c in range(c_in):
            lo = (c // in_per_group) * per_group
            for y in range(h):
                for xx in range(w_in):
                    v = x[r, c, y, xx]
                    if v == 0:
                        continue
                    if seen == 0:
                        scales[r] = v
                    elif v != scales[r]:
                        same[r] = False
                    seen += 1
                    for ky in range(kh):
                        oy = y + ph - ky * dh
                        if oy < 0 or oy % sh != 0 or oy // sh >= ho:
                            continue
                        oy //= sh
                        for kx in range(kw):
                            ox = xx + pw - kx * dw
                            if ox < 0 or ox % sw != 0 or ox // sw >= wo:
                                continue
                            ox //= sw
                            target = out[r, oy, ox, lo : lo + per_group]
                            wv = weight[c, ky, kx]
                            for o in range(per_group):
                                target[o] += v * wv[o]
                            count += per_group
        done[r] = count
        nonzero[r] = seen
    scale, ok = _common(scales, same)
    return done.sum(), nonzero.sum(), ok and scale >= 0
