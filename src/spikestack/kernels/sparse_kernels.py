"""numba kernels of event-driven synaptic layers: only the non-zero inputs do work.

A dense layer multiplies every input by its weights; with sparse input the product is a
sum, over the non-zero inputs, of their value times their weight column (for spikes, the
value is 1 or one constant c). These kernels do that sum and nothing else, so their cost
follows the number of non-zero inputs, not the layer size.

- Linear: the non-zeros are listed per row (rows in parallel), regrouped per input
  column, then blocks of output columns (times row parts, when there are fewer blocks
  than threads) run in parallel; in a block, each active input's weight slice is read
  once and added, times the value, to every row in which that input is non-zero, in a
  scratch block that stays in cache. The weights are stored block by block
  (``[blocks, K, BLOCK]``: a block's slices follow each other in memory, so they stream
  in order and do not crowd a few cache sets as rows of ``W^T`` a power of two apart
  would). Weights are read once per row part.
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
def scan(x):  # pragma: no cover - compiled
    """Row lists of the non-zeros of ``x`` [N, K], rows in parallel: (starts [N + 1],
    columns [nnz] ascending within a row, their values, True if every non-zero equals one
    value c > 0). One pass over ``x`` writes each row's columns without a branch (every
    column is written at the row's next free slot, which moves on only past a non-zero)
    into a scratch row; the lists are then packed from those."""
    n, k = x.shape
    found = np.empty((n, k + 1), dtype=np.int32)
    starts = np.zeros(n + 1, dtype=np.int64)
    for r in prange(n):
        at = 0
        row, slots = x[r], found[r]
        for j in range(k):
            slots[at] = j
            at += row[j] != 0
        starts[r + 1] = at
    for r in range(n):
        starts[r + 1] += starts[r]
    columns = np.empty(starts[n], dtype=np.int32)
    values = np.empty(starts[n], dtype=x.dtype)
    scales = np.zeros(n, dtype=x.dtype)
    same = np.ones(n, dtype=np.bool_)
    for r in prange(n):
        lo, hi = starts[r], starts[r + 1]
        if lo == hi:
            continue
        row, slots = x[r], found[r]
        first = row[slots[0]]
        ok = True
        for i in range(hi - lo):
            j = slots[i]
            v = row[j]
            columns[lo + i] = j
            values[lo + i] = v
            ok = ok and v == first
        scales[r] = first
        same[r] = ok
    scale, ok = _common(scales, same)
    return starts, columns, values, ok and scale >= 0


@njit(cache=True, nogil=True)
def by_column(starts, columns, values, k, bounds):  # pragma: no cover - compiled
    """The row lists of :func:`scan` turned into column lists, cut at the row ``bounds``
    [P + 1] (0 first, N last): (cuts [P + 1, K], rows [nnz], values [nnz]); column ``j``'s
    entries with rows in ``bounds[p] .. bounds[p + 1]`` are ``cuts[p, j] .. cuts[p + 1, j]``,
    rows ascending."""
    n = starts.shape[0] - 1
    nnz = starts[n]
    counts = np.zeros(k + 1, dtype=np.int64)
    for i in range(nnz):
        counts[columns[i] + 1] += 1
    for j in range(k):
        counts[j + 1] += counts[j]
    fill = counts[:k].copy()
    parts = bounds.shape[0] - 1
    cuts = np.empty((parts + 1, k), dtype=np.int64)
    rows = np.empty(nnz, dtype=np.int32)
    placed = np.empty(nnz, dtype=values.dtype)
    for p in range(parts):
        cuts[p] = fill
        for r in range(bounds[p], bounds[p + 1]):
            for i in range(starts[r], starts[r + 1]):
                j = columns[i]
                rows[fill[j]] = r
                placed[fill[j]] = values[i]
                fill[j] += 1
    cuts[parts] = fill
    return cuts, rows, placed


BLOCK = 128  # output columns per task of the linear kernel: a compile-time constant, so
# that the inner loops have a known length (about 1.3x faster than a variable); 128 is the
# fastest of 64, 128 and 256 at input rates of 2 and 5 % (2048 -> 2048, 256 rows)


@njit(inline="always")
def _accumulate(acc, first, last, rows, values, weight_b, r0, spikes):  # pragma: no cover
    """``acc[r - r0] += value · weight_b[j]`` for every entry (row r, column j) between
    the cuts ``first`` and ``last``; spikes add the weights alone (their common value is
    applied once, at the end)."""
    acc[:] = 0
    for j in range(weight_b.shape[0]):
        if first[j] == last[j]:
            continue
        w = weight_b[j]
        for i in range(first[j], last[j]):
            target = acc[rows[i] - r0]
            if spikes:
                for c in range(BLOCK):
                    target[c] += w[c]
            else:
                v = values[i]
                for c in range(BLOCK):
                    target[c] += v * w[c]


@njit(cache=True, nogil=True, parallel=True)
def linear(cuts, rows, values, bounds, weight_b, bias, out, spikes, scale):  # pragma: no cover
    """``out[N, O] = bias + x @ W^T`` for the column lists of ``x`` [N, K] (from
    :func:`by_column`) and the blocked weights ``weight_b`` [ceil(O / BLOCK), K, BLOCK]
    (``W^T``'s columns ``b · BLOCK ...`` in block ``b``, zeros past O); ``out`` is
    overwritten. Tasks are blocks times the row parts of ``bounds``; each sums into a
    contiguous scratch block, reading each weight slice once per row part, and writes
    ``bias + scale · sum``. For spikes (``spikes``: every value is ``scale``) the sums are
    of the weights alone; otherwise of value · weight, and ``scale`` is 1. Returns the
    multiply-accumulates done (non-zeros × O)."""
    o = out.shape[1]
    blocks = weight_b.shape[0]
    parts = bounds.shape[0] - 1
    for task in prange(blocks * parts):
        b, p = task // parts, task % parts
        lo, r0, r1 = b * BLOCK, bounds[p], bounds[p + 1]
        width = min(BLOCK, o - lo)
        acc = np.empty((r1 - r0, BLOCK), dtype=out.dtype)
        _accumulate(acc, cuts[p], cuts[p + 1], rows, values, weight_b[b], r0, spikes)
        for r in range(r1 - r0):
            target = out[r0 + r, lo : lo + width]
            for c in range(width):
                target[c] = bias[lo + c] + scale * acc[r, c]
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
