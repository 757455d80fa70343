"""The calibrated weights are the information ratios they claim to be (numerical integration).

A K-wise vote counted as C(K,2) (or K−1) independent pairs overstates what it says about each
model; ThurstoneK weighs the pairs by the exact ratio at equal skills. This recomputes the ratio
from first principles: the Fisher information of one model's place in the vote, over that of its
pairs counted as independent.
"""

from __future__ import annotations

from math import comb

import pytest
from scipy import integrate, stats

from karena.rating.models.thurstone import best_of_k_weight, vote_weight

STEP = 1e-4
PAIR_INFO = stats.norm.pdf(0.0) ** 2 / 0.25 / 2.0  # one probit comparison at d = 0, β = 1


def _quad(f: object) -> float:
    return float(integrate.quad(f, -12, 12, epsabs=1e-13)[0])  # type: ignore[arg-type]


def ranking_ratio(k: int) -> float:
    info = 0.0
    for r in range(1, k + 1):

        def density(p: float, s: float, r: int = r) -> float:
            below = stats.norm.cdf(p) ** (k - r)
            above = stats.norm.sf(p) ** (r - 1)
            return float(stats.norm.pdf(p - s) * comb(k - 1, r - 1) * above * below)

        prob = _quad(lambda p, r=r: density(p, 0.0, r))
        up = _quad(lambda p, r=r: density(p, STEP, r))
        down = _quad(lambda p, r=r: density(p, -STEP, r))
        slope = (up - down) / (2 * STEP)
        info += slope * slope / prob
    return info / ((k - 1) * PAIR_INFO)


def best_ratio(k: int) -> float:
    def p_top(s: float) -> float:
        return _quad(lambda p: stats.norm.pdf(p - s) * stats.norm.cdf(p) ** (k - 1))

    h = 1e-4
    p1 = p_top(0.0)
    d1 = (p_top(h) - p_top(-h)) / (2 * h)
    info = d1 * d1 / p1 + (k - 1) * (d1 / (k - 1)) ** 2 / ((1 - p1) / (k - 1))
    composite = ((k - 1) / k + (k - 1) / k) * PAIR_INFO
    return info / composite


@pytest.mark.parametrize("k", [2, 3, 4, 6, 9, 12])
def test_ranking_weight_is_three_over_k_plus_one(k: int) -> None:
    assert vote_weight(tuple(range(1, k + 1)), tuple(range(k))) == pytest.approx(3 / (k + 1))
    assert ranking_ratio(k) == pytest.approx(3 / (k + 1), rel=0.02)


@pytest.mark.parametrize("k", [2, 3, 4, 5, 8, 12, 16])
def test_best_of_k_weight_is_the_information_ratio(k: int) -> None:
    row = [1] + [0] * (k - 1)
    assert vote_weight(row, list(range(k))) == best_of_k_weight(k)
    assert best_of_k_weight(k) == pytest.approx(best_ratio(k), abs=2e-3)
    assert best_of_k_weight(20) == pytest.approx(2 / (1 + 19**0.5))
