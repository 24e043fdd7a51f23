"""Firing statistics and representational similarity on data with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from spikestack.analysis import similarity as sim
from spikestack.analysis import stats


def poisson(p: float, shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < p).float()


def regular(period: int, steps: int, trials: int, neurons: int) -> torch.Tensor:
    s = torch.zeros(steps, trials, neurons)
    s[::period] = 1
    return s


def test_rates_cv_and_fano_of_poisson_and_regular_trains() -> None:
    spikes = poisson(0.05, (4000, 20, 3))
    torch.testing.assert_close(stats.firing_rate(spikes), torch.full((3,), 0.05, dtype=torch.float64),
                               atol=0.003, rtol=0)  # fmt: skip
    # Bernoulli steps: geometric ISIs with CV sqrt(1 - p); counts binomial with Fano 1 - p
    assert torch.allclose(stats.isi_cv(spikes), torch.tensor(math.sqrt(0.95), dtype=torch.float64),
                          atol=0.03)  # fmt: skip
    assert torch.allclose(stats.fano_factor(spikes, window=100),
                          torch.tensor(0.95, dtype=torch.float64), atol=0.06)  # fmt: skip
    tick = regular(10, 1000, 5, 2)
    assert stats.isi_cv(tick).tolist() == [0.0, 0.0]
    assert stats.fano_factor(tick).tolist() == [0.0, 0.0]
    assert stats.firing_rate(tick[:, 0]).tolist() == [0.1, 0.1]  # a [T, N] train
    assert math.isnan(float(stats.isi_cv(torch.zeros(10, 1, 1))[0]))


def test_synchrony_of_copies_and_independent_trains() -> None:
    base = poisson(0.2, (50, 200, 1))
    copies = base.expand(50, 200, 4)
    assert stats.synchrony(copies) == pytest.approx(1.0)
    assert abs(stats.synchrony(poisson(0.2, (50, 200, 6), seed=1))) < 0.05
    with pytest.raises(ValueError, match="at least two neurons"):
        stats.synchrony(torch.zeros(5, 3, 4))
    with pytest.raises(ValueError, match=r"\[T, B, N\] or \[T, N\]"):
        stats.firing_rate(torch.zeros(3))


def random(shape: tuple[int, int], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def test_identical_representations_score_one_and_independent_ones_near_zero() -> None:
    x = random((60, 20), 0)
    y = random((60, 20), 1)
    for measure in (sim.rsa, sim.linear_cka, sim.rbf_cka, sim.svcca):
        assert measure(x, x) == pytest.approx(1.0), measure.__name__
    assert abs(sim.rsa(x, y)) < 0.1
    assert sim.linear_cka(x, y) < 0.4  # independent, 20 features on 60 stimuli: small
    assert sim.regression_similarity(x, x @ random((20, 5), 2)) > 0.99
    assert sim.regression_similarity(x, y) < 0.1
    big = random((300, 5), 3), random((300, 5), 4)
    assert sim.linear_cka(*big) < 0.05


def test_invariances() -> None:
    x = random((80, 10), 0)
    q, _ = np.linalg.qr(random((10, 10), 1))
    assert sim.linear_cka(x, 3.0 * x @ q) == pytest.approx(1.0)  # orthogonal map, scaling
    assert sim.rbf_cka(x, 3.0 * x @ q) == pytest.approx(1.0)  # distances scale: bandwidth too
    a = random((10, 10), 2) + 5 * np.eye(10)  # invertible
    assert sim.svcca(x, x @ a) == pytest.approx(1.0)
    assert sim.linear_cka(x, x @ a) < 0.999  # CKA is not invariant to any linear map


def test_permutation_p_values_and_time_series() -> None:
    x = random((30, 8), 0)
    related = x + 0.3 * random((30, 8), 1)
    strong = sim.rsa(x, related, permutations=200)
    assert strong["value"] > 0.5 and strong["p"] < 0.01
    weak = sim.linear_cka(x, random((30, 8), 2), permutations=200)
    assert weak["p"] > 0.05
    xs = np.stack([x, random((30, 8), 3)])  # time 0: the same geometry, time 1: unrelated
    ys = np.stack([x * 2, random((30, 8), 4)])
    scores = sim.tsrsa(xs, ys)
    assert scores[0] == pytest.approx(1.0) and abs(scores[1]) < 0.2
    with pytest.raises(ValueError, match="same stimuli"):
        sim.rsa(x, x[:10])
    with pytest.raises(ValueError, match=r"\[time, stimuli, features\]"):
        sim.tsrsa(x, x)
