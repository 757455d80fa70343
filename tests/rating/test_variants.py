"""The variant verdict: the anytime-valid interval, the gap scale, the verdict's regions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from karena.errors import InvalidInput
from karena.rating.models.thurstone import DEFAULT_BETA
from karena.rating.variants import confidence_radius, head_to_head


def test_radius_is_robbins_normal_mixture_boundary() -> None:
    """Hand-computed: t = 400, ρ = 10, α = 0.05, σ² = 1/4 gives sqrt(110·log(110/0.025))/400."""
    expected = math.sqrt(110 * math.log(110 / (10 * 0.05**2))) / 400
    assert confidence_radius(400) == pytest.approx(expected, rel=1e-12)
    assert confidence_radius(0) == math.inf
    # Wider than the fixed-sample interval (the price of looking at any time), and shrinking.
    assert confidence_radius(400) > 1.96 * 0.5 / 20
    assert confidence_radius(800) < confidence_radius(400)


def test_interval_holds_however_often_it_is_read() -> None:
    """Fair coins checked after every flip: P(ever outside) stays under α = 5 %."""
    rng = np.random.default_rng(7)
    runs, flips = 400, 3000
    x = rng.random((runs, flips)) < 0.5
    t = np.arange(1, flips + 1)
    radius = np.array([confidence_radius(int(i)) for i in t])
    outside = (np.abs(np.cumsum(x, axis=1) / t - 0.5) > radius).any(axis=1)
    assert outside.mean() < 0.05


def test_gap_is_the_thurstone_reading_of_the_win_rate() -> None:
    h = head_to_head(70, 30, 0)
    assert h.win_rate == pytest.approx(0.7)
    assert norm.cdf(h.gap / (math.sqrt(2) * DEFAULT_BETA)) == pytest.approx(0.7)
    assert h.gap_low < h.gap < h.gap_high
    assert h.margin_rate == pytest.approx(norm.cdf(1.0 / (math.sqrt(2) * DEFAULT_BETA)) - 0.5)


def test_ties_count_half() -> None:
    assert head_to_head(10, 10, 20).win_rate == pytest.approx(0.5)
    assert head_to_head(0, 0, 10).win_rate == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("wins", "losses", "ties", "verdict"),
    [
        (0, 0, 0, "undecided"),
        (6, 4, 0, "undecided"),
        (1500, 1500, 0, "indistinguishable"),
        (1000, 950, 1050, "indistinguishable"),
        (80, 20, 0, "better"),
        (20, 80, 0, "worse"),
    ],
)
def test_verdicts(wins: int, losses: int, ties: int, verdict: str) -> None:
    h = head_to_head(wins, losses, ties)
    assert h.verdict == verdict
    if verdict == "indistinguishable":
        assert -h.margin < h.gap_low and h.gap_high < h.margin
    if verdict == "better":
        assert h.gap_low > 0
    if verdict == "worse":
        assert h.gap_high < 0


def test_equivalence_takes_precedence_over_a_tiny_real_difference() -> None:
    """Slightly but surely better, yet within ±δ: still "indistinguishable" (documented)."""
    h = head_to_head(52_000, 48_000, 0)
    assert h.rate_low > 0.5
    assert h.verdict == "indistinguishable"


def test_a_wider_margin_decides_sooner() -> None:
    assert head_to_head(200, 200, 0).verdict == "undecided"
    assert head_to_head(300, 300, 0, margin=3.0).verdict == "indistinguishable"


def test_no_comparisons_has_no_rate_and_unbounded_gaps() -> None:
    h = head_to_head(0, 0, 0)
    assert math.isnan(h.win_rate) and math.isnan(h.gap)
    assert h.gap_low == -math.inf and h.gap_high == math.inf
    assert h.comparisons == 0


def test_all_wins_bound_the_rate_below_one() -> None:
    h = head_to_head(200, 0, 0)
    assert h.rate_high == 1.0 and h.gap_high == math.inf
    assert h.verdict == "better"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"wins": -1, "losses": 0, "ties": 0},
        {"wins": 1.5, "losses": 0, "ties": 0},
        {"wins": True, "losses": 0, "ties": 0},
        {"wins": 1, "losses": 0, "ties": 0, "margin": 0.0},
        {"wins": 1, "losses": 0, "ties": 0, "margin": float("nan")},
        {"wins": 1, "losses": 0, "ties": 0, "level": 1.0},
        {"wins": 1, "losses": 0, "ties": 0, "beta": -1.0},
    ],
)
def test_bad_input_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        head_to_head(**kwargs)  # type: ignore[arg-type]
