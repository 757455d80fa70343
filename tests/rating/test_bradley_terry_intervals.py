"""Bootstrap and sandwich intervals: coverage of the truth on simulated data, and agreement."""

from __future__ import annotations

import math

import numpy as np
import pytest

from karena.errors import InvalidInput
from karena.rating.bradley_terry import (
    PairCounts,
    bootstrap_intervals,
    fit_bradley_terry,
    sandwich_intervals,
)

FACTOR = 400.0 / math.log(10.0)
N_MODELS = 8
TIE_RATE = 0.3


def simulate(rng: np.random.Generator, theta: np.ndarray, per_pair: int) -> PairCounts:
    """Every pair meets ``per_pair`` times. Ties occur with P = 2τσ(1−σ) and take half of each
    side's win mass, so E[win + tie/2] = σ(θ_i − θ_j): the model the "half" fit is consistent for.
    """
    i, j = np.triu_indices(len(theta), 1)
    s = 1.0 / (1.0 + np.exp(-(theta[i] - theta[j])))
    p_tie = 2.0 * TIE_RATE * s * (1.0 - s)
    probs = np.stack([s - p_tie / 2, 1.0 - s - p_tie / 2, p_tie], axis=1)
    table = np.array([rng.multinomial(per_pair, p) for p in probs], dtype=float)
    names = tuple(f"m{k}" for k in range(len(theta)))
    return PairCounts(names, i, j, table[:, 0], table[:, 1], table[:, 2])


def true_ratings(theta: np.ndarray) -> np.ndarray:
    return 1000.0 + FACTOR * (theta - theta.mean())


@pytest.mark.slow
def test_intervals_cover_the_truth_at_about_the_nominal_rate() -> None:
    """30 seeded datasets × 8 models = 240 intervals per method, 95% nominal.

    Over 400 datasets the sandwich covers 0.948 and the 100-round percentile bootstrap 0.93 (it
    runs a little short at 40 battles per pair, as percentile intervals do). Intervals within one
    dataset are correlated, so the bounds [0.87, 0.99] allow for that; a wrong scale (×2 or ×½)
    would give ~0.999 or ~0.67 and fail.
    """
    rng = np.random.default_rng(2024)
    covered = {"bootstrap": 0, "sandwich": 0}
    width_ratio = []
    total = 0
    for _ in range(30):
        theta = rng.normal(0.0, 0.8, N_MODELS)
        counts = simulate(rng, theta, per_pair=40)
        truth = true_ratings(theta)
        boot = bootstrap_intervals(counts, rounds=80, rng=rng)
        sand = sandwich_intervals(counts)
        for name, iv in (("bootstrap", boot), ("sandwich", sand)):
            covered[name] += int(np.sum((iv.lower <= truth) & (truth <= iv.upper)))
        width_ratio.append(np.median((boot.upper - boot.lower) / (sand.upper - sand.lower)))
        total += N_MODELS
    for name, hits in covered.items():
        assert 0.87 <= hits / total <= 0.99, f"{name} coverage {hits / total:.3f}"
    # Two estimates of one sampling distribution: widths agree to within ~15%.
    assert 0.85 <= float(np.median(width_ratio)) <= 1.15


def test_sandwich_is_narrower_than_fisher_when_ties_are_common() -> None:
    """With "half" ties, a tie is less variable than a coin flip, so the naive inverse-Fisher
    variance overstates uncertainty; the sandwich corrects it."""
    rng = np.random.default_rng(7)
    i, j = np.triu_indices(6, 1)
    table = np.array([rng.multinomial(400, [0.25, 0.25, 0.5]) for _ in i], dtype=float)
    counts = PairCounts(tuple("abcdef"), i, j, table[:, 0], table[:, 1], table[:, 2])
    sand = sandwich_intervals(counts)
    fit = sand.fit
    d = fit.strengths[i] - fit.strengths[j]
    w = table.sum(1) * np.exp(d) / (1 + np.exp(d)) ** 2
    info = np.zeros((6, 6))
    np.add.at(info, (i, i), w)
    np.add.at(info, (j, j), w)
    np.add.at(info, (i, j), -w)
    np.add.at(info, (j, i), -w)
    fisher_se = FACTOR * np.sqrt(np.diag(np.linalg.pinv(info)))
    sandwich_se = (sand.upper - sand.lower) / (2 * 1.959963984540054)
    # Var(y) for y ∈ {1, 0, ½} w.p. ¼, ¼, ½ is 1/8, half the Bernoulli ¼.
    np.testing.assert_allclose(sandwich_se / fisher_se, math.sqrt(0.5), rtol=0.05)


def test_bootstrap_is_reproducible_and_brackets_the_estimate() -> None:
    counts = simulate(np.random.default_rng(1), np.linspace(-1, 1, 5), per_pair=60)
    a = bootstrap_intervals(counts, rounds=50, rng=np.random.default_rng(3))
    b = bootstrap_intervals(counts, rounds=50, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a.lower, b.lower)
    assert a.draws is not None and a.draws.shape == (50, 5)
    np.testing.assert_allclose(a.ratings, fit_bradley_terry(counts).ratings)
    assert np.all(a.lower < a.ratings) and np.all(a.ratings < a.upper)
    rows = a.rows()
    assert [r.rating for r in rows] == sorted((r.rating for r in rows), reverse=True)


@pytest.mark.parametrize("method", ["bootstrap", "sandwich"])
def test_anchored_model_has_zero_width_and_davidson_works(method: str) -> None:
    counts = simulate(np.random.default_rng(2), np.linspace(-1, 1, 5), per_pair=60)
    if method == "bootstrap":
        iv = bootstrap_intervals(counts, rounds=30, anchor=("m2", 1200.0), ties="davidson")
    else:
        iv = sandwich_intervals(counts, anchor=("m2", 1200.0), ties="davidson")
    assert iv.lower[2] == pytest.approx(1200.0) and iv.upper[2] == pytest.approx(1200.0)
    assert np.all(iv.upper[[0, 1, 3, 4]] - iv.lower[[0, 1, 3, 4]] > 1.0)
    assert iv.fit.ties == "davidson" and iv.fit.tie_strength is not None


def test_davidson_sandwich_matches_its_bootstrap() -> None:
    rng = np.random.default_rng(5)
    counts = simulate(rng, rng.normal(0, 0.7, 6), per_pair=200)
    sand = sandwich_intervals(counts, ties="davidson")
    boot = bootstrap_intervals(counts, rounds=150, rng=rng, ties="davidson")
    ratio = (boot.upper - boot.lower) / (sand.upper - sand.lower)
    assert 0.8 <= float(np.median(ratio)) <= 1.2


def test_interval_arguments_are_checked() -> None:
    counts = simulate(np.random.default_rng(4), np.zeros(3), per_pair=10)
    with pytest.raises(InvalidInput):
        bootstrap_intervals(counts, rounds=1)
    with pytest.raises(InvalidInput):
        sandwich_intervals(counts, level=1.5)
    fractional = PairCounts(("a", "b"), [0], [1], [1.5], [1.0], [0.0])
    with pytest.raises(InvalidInput, match="integer"):
        bootstrap_intervals(fractional, rounds=10)


def test_interval_values_are_read_only() -> None:
    counts = simulate(np.random.default_rng(6), np.zeros(3), per_pair=20)
    iv = sandwich_intervals(counts)
    with pytest.raises(ValueError):
        iv.lower[0] = 0.0
    with pytest.raises(ValueError):
        iv.ratings[0] = 0.0
