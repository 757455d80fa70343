"""Dynamic matching: the overlap integral in closed form and the instance scores."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from karena.judge.matching import MatchingTable, gaussian_overlap, instance_diversity
from karena.rating.types import Rating


def _numeric_overlap(a: Rating, b: Rating) -> float:
    lo = min(a.mu - 12 * a.sigma, b.mu - 12 * b.sigma)
    hi = max(a.mu + 12 * a.sigma, b.mu + 12 * b.sigma)

    def f(x: float) -> float:
        return min(stats.norm.pdf(x, a.mu, a.sigma), stats.norm.pdf(x, b.mu, b.sigma))

    points = np.linspace(lo, hi, 41)
    return sum(integrate.quad(f, x0, x1, limit=200)[0] for x0, x1 in itertools.pairwise(points))


@settings(max_examples=40, deadline=None)
@given(st.floats(10, 35), st.floats(0.3, 9), st.floats(10, 35), st.floats(0.3, 9))
def test_closed_form_overlap_matches_numerical_integration(
    m1: float, s1: float, m2: float, s2: float
) -> None:
    a, b = Rating(m1, s1), Rating(m2, s2)
    assert gaussian_overlap(a, b) == pytest.approx(_numeric_overlap(a, b), abs=1e-6)
    assert gaussian_overlap(a, b) == pytest.approx(gaussian_overlap(b, a), abs=1e-12)


def test_overlap_reference_values() -> None:
    assert gaussian_overlap(Rating(20, 1), Rating(20, 1)) == pytest.approx(1.0)
    # Equal σ: 2Φ(−|Δμ|/2σ).
    assert gaussian_overlap(Rating(20, 1), Rating(22, 1)) == pytest.approx(2 * stats.norm.cdf(-1))
    assert gaussian_overlap(Rating(0, 1), Rating(100, 1)) < 1e-12
    assert gaussian_overlap(Rating(0, 0), Rating(1, 1)) == 0.0


def test_instance_diversity_sums_all_pairs() -> None:
    rs = [Rating(20, 1), Rating(21, 1), Rating(25, 2), Rating(30, 0.8)]
    expected = sum(gaussian_overlap(rs[i], rs[j]) for i in range(4) for j in range(i + 1, 4))
    assert instance_diversity(rs) == pytest.approx(expected)


def test_scores_follow_the_reference_code_and_the_paper_figure() -> None:
    instances = [
        [Rating(20, 0.8), Rating(22, 0.8), Rating(24, 0.8), Rating(26, 0.8)],
        [Rating(24, 0.8), Rating(24.5, 0.8), Rating(25, 0.8), Rating(25.5, 0.8)],
        [Rating(10, 0.8), Rating(12, 0.8), Rating(14, 0.8), Rating(16, 0.8)],
    ]
    mean_table = MatchingTable.build(instances, alpha=0.5, uncertainty="mean")
    div = np.array([instance_diversity(r) for r in instances])
    expected_mean = [abs(np.mean([r.mu for r in rs]) - 23.0) for rs in instances]
    np.testing.assert_allclose(mean_table.scores(23.0), np.array(expected_mean) + 0.5 * div)
    sum_table = MatchingTable.build(instances, alpha=0.5, uncertainty="sum")
    expected_sum = [sum(abs(23.0 - r.mu) for r in rs) for rs in instances]
    np.testing.assert_allclose(sum_table.scores(23.0), np.array(expected_sum) + 0.5 * div)
    # Instance 1 is nearest in mean but its models overlap heavily: the separated one wins.
    assert mean_table.select(23.0, set()) == [0]
    assert mean_table.select(23.0, {0}) == [1]
    assert mean_table.select(23.0, {0, 1, 2}) == []
    assert mean_table.select(23.0, set(), count=3) == [0, 1, 2]


def test_overlap_never_exceeds_one_or_goes_negative() -> None:
    rng = np.random.default_rng(0)
    for _ in range(500):
        a = Rating(float(rng.normal(25, 5)), float(rng.uniform(0.01, 10)))
        b = Rating(float(rng.normal(25, 5)), float(rng.uniform(0.01, 10)))
        v = gaussian_overlap(a, b)
        assert 0.0 <= v <= 1.0 and math.isfinite(v)
