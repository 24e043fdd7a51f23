"""Representational similarity between two sets of responses to the same stimuli.

``X [stimuli, features]`` and ``Y [stimuli, features']`` (numpy or torch; feature counts
may differ): RDMs (correlation distance) and RSA (Spearman correlation of their upper
triangles), linear and RBF CKA (Kornblith et al., ICML 2019), SVCCA (Raghu et al., NIPS
2017), and regression similarity (truncated SVD of X, ridge regression onto Y,
cross-validated R²). :func:`tsrsa` takes ``[time, stimuli, features]`` and gives RSA per
time step. ``permutations=K`` adds a permutation-test p-value (stimuli of Y shuffled).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "linear_cka",
    "rbf_cka",
    "rdm",
    "regression_similarity",
    "rsa",
    "svcca",
    "tsrsa",
]


def _matrix(a: Any, name: str) -> np.ndarray:
    arr = a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)
    arr = arr.astype(np.float64)
    if arr.ndim != 2 or arr.shape[0] < 3:
        raise ValueError(f"{name} must be [stimuli >= 3, features]; got shape {arr.shape}")
    return arr


def _pair(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    x, y = _matrix(x, "X"), _matrix(y, "Y")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"X and Y need the same stimuli; got {x.shape[0]} and {y.shape[0]}")
    return x, y


def rdm(x: Any) -> np.ndarray:
    """The representational dissimilarity matrix: 1 − Pearson correlation between the
    response patterns of each pair of stimuli, ``[stimuli, stimuli]``."""
    x = _matrix(x, "X")
    return 1.0 - np.corrcoef(x)


def _upper(m: np.ndarray) -> np.ndarray:
    return m[np.triu_indices(m.shape[0], k=1)]


def _with_p(value: float, null: list[float]) -> dict[str, float]:
    null_arr = np.asarray(null)
    return {"value": value, "p": float((1 + np.sum(null_arr >= value)) / (1 + len(null_arr)))}


def rsa(x: Any, y: Any, *, permutations: int = 0, seed: int = 0) -> float | dict[str, float]:
    """Spearman correlation between the RDMs of X and Y (1 for identical geometry).
    With ``permutations`` > 0: ``{"value", "p"}``, p from shuffling Y's stimuli."""
    from scipy import stats  # here, not at import: scipy.stats takes ~0.6 s to load

    x, y = _pair(x, y)
    a, b = rdm(x), rdm(y)
    value = float(stats.spearmanr(_upper(a), _upper(b))[0])
    if not permutations:
        return value
    rng = np.random.default_rng(seed)
    null = []
    for _ in range(permutations):
        order = rng.permutation(b.shape[0])
        null.append(float(stats.spearmanr(_upper(a), _upper(b[np.ix_(order, order)]))[0]))
    return _with_p(value, null)


def tsrsa(x: Any, y: Any) -> np.ndarray:
    """RSA at each time step of responses ``[time, stimuli, features]``: ``[time]``."""
    xs = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
    ys = y.detach().cpu().numpy() if hasattr(y, "detach") else np.asarray(y)
    if xs.ndim != 3 or ys.ndim != 3 or xs.shape[:2] != ys.shape[:2]:
        raise ValueError(
            f"tsrsa takes [time, stimuli, features] with the same time and stimuli; got "
            f"{xs.shape} and {ys.shape}"
        )
    return np.array([rsa(xs[t], ys[t]) for t in range(xs.shape[0])])


def _centered_gram(k: np.ndarray) -> np.ndarray:
    n = k.shape[0]
    h = np.eye(n) - 1.0 / n
    return h @ k @ h


def _cka_from_grams(kx: np.ndarray, ky: np.ndarray) -> float:
    kx, ky = _centered_gram(kx), _centered_gram(ky)
    hsic = np.sum(kx * ky)
    return float(hsic / np.sqrt(np.sum(kx * kx) * np.sum(ky * ky)))


def linear_cka(x: Any, y: Any, *, permutations: int = 0, seed: int = 0) -> Any:
    """Linear CKA: ‖Yᶜᵀ Xᶜ‖²_F / (‖Xᶜᵀ Xᶜ‖_F ‖Yᶜᵀ Yᶜ‖_F) with column-centred X, Y; 1 for
    representations equal up to an orthogonal map and isotropic scaling."""
    x, y = _pair(x, y)
    value = _cka_from_grams(x @ x.T, y @ y.T)
    if not permutations:
        return value
    rng = np.random.default_rng(seed)
    null = [
        _cka_from_grams(x @ x.T, (yp := y[rng.permutation(len(y))]) @ yp.T)
        for _ in range(permutations)
    ]
    return _with_p(value, null)


def _rbf(x: np.ndarray, sigma: float) -> np.ndarray:
    sq = np.sum(x * x, 1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0.0)
    median = np.median(np.sqrt(d2[np.triu_indices(len(x), 1)]))
    width = sigma * (median if median > 0 else 1.0)
    return np.exp(-d2 / (2 * width**2))


def rbf_cka(x: Any, y: Any, *, sigma: float = 0.8) -> float:
    """CKA with Gaussian kernels, bandwidth ``sigma`` × the median pairwise distance."""
    x, y = _pair(x, y)
    return _cka_from_grams(_rbf(x, sigma), _rbf(y, sigma))


def _svd_reduce(x: np.ndarray, keep: float) -> np.ndarray:
    x = x - x.mean(0)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    energy = np.cumsum(s**2) / max(np.sum(s**2), 1e-300)
    k = int(np.searchsorted(energy, keep) + 1)
    return u[:, :k] * s[:k]


def svcca(x: Any, y: Any, *, keep: float = 0.99) -> float:
    """SVCCA: keep the top singular directions of each (``keep`` of the variance), then
    the mean canonical correlation between them (invariant to invertible linear maps)."""
    x, y = _pair(x, y)
    a, b = _svd_reduce(x, keep), _svd_reduce(y, keep)
    qa, _ = np.linalg.qr(a)
    qb, _ = np.linalg.qr(b)
    rho = np.linalg.svd(qa.T @ qb, compute_uv=False)
    return float(np.mean(np.clip(rho[: min(a.shape[1], b.shape[1])], 0.0, 1.0)))


def regression_similarity(
    x: Any, y: Any, *, components: int | None = None, alpha: float = 1.0, folds: int = 5,
    seed: int = 0,
) -> float:  # fmt: skip
    """How well X predicts Y: truncated SVD of X (``components``, default all), ridge
    regression onto Y, R² on held-out stimuli (``folds``-fold), averaged over Y's features
    weighted by their variance. 1: Y is a linear function of X; about 0 or below: no relation."""
    x, y = _pair(x, y)
    n = x.shape[0]
    if not 2 <= folds <= n:
        raise ValueError(f"folds must be between 2 and the {n} stimuli; got {folds}")
    order = np.random.default_rng(seed).permutation(n)
    residual = total = 0.0
    for part in np.array_split(order, folds):
        train = np.setdiff1d(order, part)
        mx, my = x[train].mean(0), y[train].mean(0)
        xt, yt = x[train] - mx, y[train] - my
        u, s, vt = np.linalg.svd(xt, full_matrices=False)
        k = len(s) if components is None else min(components, len(s))
        u, s, vt = u[:, :k], s[:k], vt[:k]
        weights = vt.T @ np.diag(s / (s**2 + alpha)) @ u.T @ yt  # ridge on the kept directions
        pred = (x[part] - mx) @ weights + my
        residual += float(np.sum((y[part] - pred) ** 2))
        total += float(np.sum((y[part] - my) ** 2))
    return 1.0 - residual / total if total > 0 else float("nan")
