"""A new model's rank on a board and its 90% interval (karena.rating.rank_interval)."""

from __future__ import annotations

import numpy as np
import pytest

from karena.errors import InvalidInput
from karena.rating.rank_interval import BoardRanks, quantile_points
from karena.rating.types import Rating

BOARD = [Rating(31.0 - 0.4 * i, 0.75 + 0.003 * i) for i in range(35)]


def test_rank_is_one_plus_the_board_scores_above_the_papers_score() -> None:
    ranks = BoardRanks(BOARD)
    offset = 3.0 * float(np.mean([r.sigma for r in BOARD]))
    for theta in np.linspace(10.0, 40.0, 61):
        want = 1 + sum(r.conservative > theta - offset for r in BOARD)
        assert int(ranks.rank(float(theta))) == want
    assert int(ranks.rank(100.0)) == 1 and int(ranks.rank(-100.0)) == len(BOARD) + 1


def test_a_sharp_belief_has_a_one_rank_interval_and_a_wide_one_spans_the_board() -> None:
    ranks = BoardRanks(BOARD)
    sharp = ranks.gaussian_interval(Rating(25.1, 1e-4))
    assert sharp.low == sharp.high == int(ranks.rank(25.1)) and sharp.mass == pytest.approx(1.0)
    wide = ranks.gaussian_interval(Rating(25.0, 8.0))
    assert wide.low <= 3 and wide.high >= len(BOARD) - 1


@pytest.mark.parametrize("sd", [0.3, 0.8, 1.3, 2.5])
def test_interval_mass_is_as_near_ninety_percent_as_whole_ranks_allow(sd: float) -> None:
    ranks = BoardRanks(BOARD)
    theta = 24.7 + sd * np.linspace(-6.0, 6.0, 4001)
    w = np.exp(-0.5 * ((theta - 24.7) / sd) ** 2)
    iv = ranks.interval(theta, w)
    p = ranks.distribution(theta, w)
    cdf = np.cumsum(p)
    # The equal-tailed run that holds at least 90%, found by brute force ...
    low = max(r for r in range(1, len(BOARD) + 2) if cdf[r - 1] <= 0.05)
    high = min(r for r in range(1, len(BOARD) + 2) if 1.0 - cdf[r] <= 0.05)
    assert low <= iv.low <= low + 1 and high - 1 <= iv.high <= high
    # ... and of it and its ends moved one rank inwards, none is nearer 90% than the chosen one.
    for lo in (low, low + 1):
        for hi in (high - 1, high):
            if lo <= hi:
                assert abs(iv.mass - 0.9) <= abs(cdf[hi] - cdf[lo - 1] - 0.9) + 1e-12
    assert iv.mass == pytest.approx(cdf[iv.high] - cdf[iv.low - 1])


def test_interval_covers_the_truth_as_often_as_its_mass_says() -> None:
    """Calibration by construction: θ drawn from the belief lands inside with the stated mass."""
    ranks = BoardRanks(BOARD)
    rng = np.random.default_rng(3)
    hits, masses = [], []
    for _ in range(400):
        mu, sd = rng.uniform(19.0, 29.0), rng.uniform(0.5, 2.0)
        iv = ranks.gaussian_interval(Rating(mu, sd))
        hits.append(iv.contains(int(ranks.rank(rng.normal(mu, sd)))))
        masses.append(iv.mass)
    assert abs(np.mean(masses) - 0.9) < 0.02
    assert abs(np.mean(hits) - np.mean(masses)) < 0.05  # 3.3 binomial standard errors


def test_quantile_points_reproduce_the_belief() -> None:
    ranks = BoardRanks(BOARD)
    theta = np.linspace(15.0, 35.0, 801)
    w = np.exp(-0.5 * ((theta - 23.0) / 1.4) ** 2) + 0.4 * np.exp(-0.5 * ((theta - 27) / 0.6) ** 2)
    q = quantile_points(theta, w)
    assert len(q) == 99 and list(q) == sorted(q)
    full, compact = ranks.interval(theta, w), ranks.interval(np.array(q), np.ones(len(q)))
    assert abs(full.low - compact.low) <= 1 and abs(full.high - compact.high) <= 1


def test_bad_beliefs_are_refused() -> None:
    ranks = BoardRanks(BOARD)
    with pytest.raises(InvalidInput):
        ranks.interval([1.0, 2.0], [0.0, 0.0])
    with pytest.raises(InvalidInput):
        ranks.interval([1.0, 2.0], [1.0])
    with pytest.raises(InvalidInput):
        ranks.interval([1.0], [1.0], level=1.0)
