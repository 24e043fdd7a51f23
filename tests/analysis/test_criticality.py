"""Avalanches, power-law fits and branching ratios on synthetic branching processes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikestack.analysis.criticality import avalanches, branching_ratio, power_law_fit


def driven_branching(m: float, h: float, steps: int, seed: int) -> np.ndarray:
    """A[t] ~ Poisson(m A[t-1] + h): a branching process with drive h."""
    rng = np.random.default_rng(seed)
    a = np.zeros(steps)
    a[0] = h / (1 - m)
    for t in range(1, steps):
        a[t] = rng.poisson(m * a[t - 1] + h)
    return a


@pytest.mark.parametrize("m", [0.8, 0.9, 0.95])
def test_branching_ratio_recovered_even_when_subsampled(m: float) -> None:
    a = driven_branching(m, 10.0, 20_000, seed=0)
    assert branching_ratio(a) == pytest.approx(m, abs=0.05)
    observed = np.random.default_rng(1).binomial(a.astype(np.int64), 0.05)  # 5 % of neurons
    assert branching_ratio(observed) == pytest.approx(m, abs=0.05)


def test_avalanches_by_hand_and_from_spike_tensors() -> None:
    counts = [0, 2, 1, 0, 0, 3, 0, 1, 1, 1, 0, 4]  # the last run touches the end: incomplete
    sizes, durations = avalanches(counts)
    assert sizes.tolist() == [3, 3, 3] and durations.tolist() == [2, 1, 3]
    spikes = torch.zeros(12, 2, 5)
    for t, c in enumerate(counts):
        spikes[t, 0, :c] = 1  # the same counts spread over a [T, B, N] tensor
    assert avalanches(spikes)[0].tolist() == [3, 3, 3]
    assert avalanches([1, 1, 0, 2])[0].tolist() == []  # both runs are incomplete


def test_critical_avalanche_sizes_follow_a_three_halves_power_law() -> None:
    rng = np.random.default_rng(0)
    activity = []
    for _ in range(3000):  # critical (m = 1) avalanches from one seed spike each
        x, run = 1, [0]
        while x > 0 and len(run) < 10_000:
            run.append(x)
            x = rng.poisson(x)
        activity += run
    sizes, durations = avalanches(np.array([*activity, 0]))
    fit = power_law_fit(sizes)
    assert fit.alpha == pytest.approx(1.5, abs=0.1) and fit.ks < 0.05 and fit.n > 500
    assert 1.6 < power_law_fit(durations).alpha < 2.2  # theory: 2


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="at least 50 samples"):
        power_law_fit([1, 2, 3])
    with pytest.raises(ValueError, match="does not vary"):
        branching_ratio(np.ones(500))
    with pytest.raises(ValueError, match="at least 200 time bins"):
        branching_ratio(np.arange(100.0))
    with pytest.raises(ValueError, match="spike counts >= 0"):
        avalanches([1, -1, 0])


def test_power_law_p_value_accepts_a_power_law_and_rejects_an_exponential() -> None:
    from spikestack.analysis.criticality import _sample_power_law, power_law_p_value

    rng = np.random.default_rng(3)
    power = _sample_power_law(2.2, 1, 600, rng)
    fit = power_law_fit(power, s_min=1)
    assert fit.alpha == pytest.approx(2.2, abs=0.15)
    assert power_law_p_value(power, fit, n_boot=60, fixed_s_min=True) > 0.1
    geometric = rng.geometric(0.3, 600)  # exponential tail: no power law from s_min = 1
    p = power_law_p_value(geometric, power_law_fit(geometric, s_min=1), n_boot=60, fixed_s_min=True)
    assert p < 0.05
