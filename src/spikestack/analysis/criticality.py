"""Criticality: neuronal avalanches, power-law fits and the branching ratio.

- :func:`avalanches`: from population activity binned in time (spike tensors ``[T, ...]``
  summed over everything but time, or a count sequence ``[T]``), an avalanche is a run of
  non-empty bins between empty ones; its size is the number of spikes, its duration the
  number of bins (Beggs & Plenz 2003).
- :func:`power_law_fit`: the discrete power law p(s) ∝ s^−α for s ≥ s_min fitted by
  maximum likelihood (Clauset, Shalizi & Newman 2009: the α maximising the likelihood with
  the Hurwitz zeta normaliser, s_min chosen by the smallest Kolmogorov–Smirnov distance),
  returning α, s_min, the number of samples in the fitted range and the KS distance;
  :func:`power_law_p_value` turns the distance into the goodness-of-fit p-value of
  Clauset et al. by their semi-parametric bootstrap (p ≥ 0.1: a power law is plausible).
- :func:`branching_ratio`: the multistep-regression estimator of Wilting & Priesemann
  (Nat. Commun. 2018): the regression slopes r_k of A[t+k] on A[t] follow b·m^k even when
  only part of the network is observed (b absorbs the subsampling), so m comes from
  fitting that exponential over k = 1..K rather than from r_1 alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from spikestack.validation import check_int

__all__ = ["PowerLawFit", "avalanches", "branching_ratio", "power_law_fit", "power_law_p_value"]


def _counts(activity: Any) -> np.ndarray:
    a = activity.detach().cpu().numpy() if hasattr(activity, "detach") else np.asarray(activity)
    if a.ndim == 0 or a.shape[0] < 2:
        raise ValueError(f"activity must have a time axis first; got shape {a.shape}")
    a = a.reshape(a.shape[0], -1).sum(1) if a.ndim > 1 else a
    if np.any(a < 0) or not np.all(np.isfinite(a)):
        raise ValueError("activity must hold spike counts >= 0")
    return a.astype(np.float64)


def avalanches(binned_spikes: Any) -> tuple[np.ndarray, np.ndarray]:
    """(sizes, durations) of the avalanches in ``binned_spikes`` (see the module docstring).
    Runs that touch the first or last bin are incomplete and left out."""
    a = _counts(binned_spikes)
    active = a > 0
    edges = np.diff(active.astype(np.int8))
    starts = list(np.flatnonzero(edges == 1) + 1)
    ends = list(np.flatnonzero(edges == -1) + 1)
    if active[0]:
        ends = ends[1:] if ends else []  # the run at the start is incomplete
    if active[-1]:
        starts = starts[: len(ends)]
    sizes = np.array([a[s:e].sum() for s, e in zip(starts, ends, strict=True)], dtype=np.int64)
    durations = np.array([e - s for s, e in zip(starts, ends, strict=True)], dtype=np.int64)
    return sizes, durations


@dataclass(frozen=True)
class PowerLawFit:
    alpha: float  # the exponent of p(s) ∝ s^-alpha
    s_min: int  # the fitted range starts here
    n: int  # samples in the fitted range
    ks: float  # Kolmogorov-Smirnov distance between the data and the fit (smaller: better)


def _fit_alpha(x: np.ndarray, s_min: int) -> float:
    from scipy import optimize, special  # scipy loads in the functions that use it

    logs = np.log(x).sum()
    n = len(x)

    def nll(alpha: float) -> float:
        return n * np.log(special.zeta(alpha, s_min)) + alpha * logs

    return float(optimize.minimize_scalar(nll, bounds=(1.01, 6.0), method="bounded").x)


def _ks(x: np.ndarray, alpha: float, s_min: int) -> float:
    from scipy import special

    values, counts = np.unique(x, return_counts=True)
    empirical = np.cumsum(counts) / len(x)
    model = 1.0 - special.zeta(alpha, values + 1) / special.zeta(alpha, s_min)
    return float(np.max(np.abs(empirical - model)))


def power_law_fit(samples: Any, *, s_min: int | None = None, min_tail: int = 50) -> PowerLawFit:
    """Fit p(s) ∝ s^−α to integer ``samples`` ≥ 1 (see the module docstring); ``s_min``
    fixed, or chosen among the sample values leaving at least ``min_tail`` samples."""
    x = np.asarray(samples).astype(np.int64).reshape(-1)
    x = x[x >= 1]
    if len(x) < min_tail:
        raise ValueError(f"a power-law fit needs at least {min_tail} samples >= 1; got {len(x)}")
    candidates = [check_int("s_min", s_min)] if s_min is not None else np.unique(x)
    best: PowerLawFit | None = None
    for start in candidates:
        tail = x[x >= start]
        if len(tail) < min_tail:
            break
        alpha = _fit_alpha(tail, int(start))
        fit = PowerLawFit(alpha, int(start), len(tail), _ks(tail, alpha, int(start)))
        if best is None or fit.ks < best.ks:
            best = fit
    assert best is not None
    return best


def _sample_power_law(alpha: float, s_min: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` draws of the discrete power law p(s) = s^-alpha / zeta(alpha, s_min), s >= s_min:
    exactly (inverse of the tabulated distribution) up to 1000 s_min, and beyond it from
    the continuous law, rounded, which is accurate that far out (Clauset et al., App. D)."""
    from scipy import special

    cut = 1000 * s_min
    values = np.arange(s_min, cut + 1)
    cdf = np.cumsum(values.astype(np.float64) ** -alpha) / special.zeta(alpha, s_min)
    u = rng.random(n)
    inside = u < cdf[-1]
    out = np.empty(n, dtype=np.int64)
    out[inside] = values[np.searchsorted(cdf, u[inside], side="right").clip(max=len(values) - 1)]
    far = rng.random(int((~inside).sum()))
    out[~inside] = np.floor((cut + 0.5) * (1.0 - far) ** (-1.0 / (alpha - 1.0)) + 0.5)
    return out


def power_law_p_value(
    samples: Any,
    fit: PowerLawFit | None = None,
    *,
    n_boot: int = 200,
    fixed_s_min: bool = False,
    min_tail: int = 50,
    seed: int = 0,
) -> float:
    """The goodness-of-fit p-value of a power-law fit (Clauset, Shalizi & Newman 2009,
    section 4.1): synthetic data sets draw from the fitted power law above s_min (with the
    fitted range's share of samples) and from the data below it; each is fitted the same
    way (s_min chosen again unless ``fixed_s_min``), and p is the fraction whose KS
    distance is at least the data's. p < 0.1 rules the power law out; a large p says only
    that it is plausible. ``n_boot`` = 200 resolves p to about ±0.03."""
    check_int("n_boot", n_boot)
    x = np.asarray(samples).astype(np.int64).reshape(-1)
    x = x[x >= 1]
    fit = fit or power_law_fit(x, min_tail=min_tail)
    rng = np.random.default_rng(seed)
    below = x[x < fit.s_min]
    p_tail = fit.n / len(x)
    exceed = 0
    for _ in range(n_boot):
        n_tail = rng.binomial(len(x), p_tail)
        synthetic = np.concatenate([
            _sample_power_law(fit.alpha, fit.s_min, n_tail, rng),
            rng.choice(below, len(x) - n_tail) if len(below) else np.empty(0, np.int64),
        ])  # fmt: skip
        refit = power_law_fit(
            synthetic, s_min=fit.s_min if fixed_s_min else None, min_tail=min(min_tail, n_tail)
        )
        exceed += refit.ks >= fit.ks
    return exceed / n_boot


def branching_ratio(counts: Any, *, max_lag: int = 20) -> float:
    """The branching ratio m of population activity ``counts`` (``[T]`` or ``[T, ...]``)
    by multistep regression: fit r_k = b m^k to the slopes r_k of A[t+k] on A[t]."""
    from scipy import optimize

    a = _counts(counts)
    max_lag = check_int("max_lag", max_lag)
    if len(a) < 10 * max_lag:
        raise ValueError(f"need at least {10 * max_lag} time bins for max_lag={max_lag}")
    lags = np.arange(1, max_lag + 1)
    slopes = []
    for k in lags:
        x, y = a[:-k], a[k:]
        vx = x.var()
        if vx == 0:
            raise ValueError("the activity does not vary: no branching ratio")
        slopes.append(float(((x - x.mean()) * (y - y.mean())).mean() / vx))
    r = np.asarray(slopes)

    def model(k: np.ndarray, b: float, m: float) -> np.ndarray:
        return b * m**k

    (b, m), _ = optimize.curve_fit(model, lags, r, p0=(max(r[0], 1e-3), 0.9),
                                   bounds=([-np.inf, 0.0], [np.inf, 1.5]), maxfev=10_000)  # fmt: skip
    return float(m)
