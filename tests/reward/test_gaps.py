"""Truncated-normal gap moments (METHODS §3.2 step 2): accuracy, stability, ties, normalisation."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from karena.reward.gaps import (
    normalise_gaps,
    pair_gaps,
    truncated_gap_moments,
    truncated_gap_moments_naive,
)


def _mp_moments(z: float) -> tuple[float, float]:
    """E and Var of Z | Z > 0 for Z ~ N(z, 1), in 60-digit arithmetic."""
    with mpmath.workdps(60):
        x = mpmath.mpf(z)
        v = mpmath.npdf(x) / mpmath.ncdf(x)
        return float(x + v), float(1 - v * (v + x))


def _grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z = np.linspace(-40.0, 40.0, 801)
    s = np.array([0.1, 1.0, 7.3])
    m = (z[:, None] * s[None, :]).ravel()
    ss = np.broadcast_to(s, (len(z), len(s))).ravel()
    return m, ss, m / ss


def test_agrees_with_scipy_truncnorm_on_grid_to_1e9_in_standard_units() -> None:
    m, s, _ = _grid()
    ours = truncated_gap_moments(m, s)
    ref = truncated_gap_moments_naive(m, s)
    assert np.max(np.abs(ours.mean - ref.mean) / s) < 1e-9
    assert np.max(np.abs(ours.var - ref.var) / s**2) < 1e-9


def test_agrees_with_scipy_truncnorm_relatively_where_truncnorm_is_accurate() -> None:
    """truncnorm's mean is good to ~1e-10 for |z| <= 40, its variance only for z >= -12."""
    m, s, z = _grid()
    ours = truncated_gap_moments(m, s)
    ref = truncated_gap_moments_naive(m, s)
    assert np.max(np.abs(ours.mean - ref.mean) / ref.mean) < 1e-9
    ok = z >= -12.0
    assert np.max(np.abs(ours.var[ok] - ref.var[ok]) / ref.var[ok]) < 1e-9


@pytest.mark.parametrize("z", [-1e6, -1e3, -40.0, -12.0, -2.5, -2.0, -1.999, -0.5, 0.0, 3.0, 40.0])
def test_matches_high_precision_far_into_the_tail(z: float) -> None:
    ours = truncated_gap_moments(np.array([z]), np.array([1.0]))
    mean, var = _mp_moments(z)
    assert ours.mean[0] == pytest.approx(mean, rel=1e-12)
    assert ours.var[0] == pytest.approx(var, rel=1e-12)


def test_no_nan_or_negative_for_extreme_negative_means() -> None:
    z = -np.logspace(0, 300, 301)
    g = truncated_gap_moments(z, np.ones_like(z))
    assert np.all(np.isfinite(g.mean)) and np.all(np.isfinite(g.var))
    assert np.all(g.mean >= 0.0) and np.all(g.var >= 0.0)


def test_rejects_non_positive_scale() -> None:
    with pytest.raises(ValueError, match="positive"):
        truncated_gap_moments([1.0], [0.0])


@given(
    m=st.floats(-200, 200),
    s=st.floats(0.01, 50),
    dm=st.floats(0.001, 10),
)
def test_gap_is_positive_above_m_and_increasing_in_m(m: float, s: float, dm: float) -> None:
    g = truncated_gap_moments([m, m + dm], [s, s])
    assert g.mean[0] > 0.0 and g.mean[0] >= m - 1e-12 * abs(m)
    assert g.mean[1] >= g.mean[0]
    assert 0.0 <= g.var[0] <= s * s * (1 + 1e-12)


def test_pair_gaps_uses_capabilities_beta_ties_and_self_pairs() -> None:
    mu = np.array([27.0, 24.0])
    sigma = np.array([1.0, 2.0])
    beta = 25.0 / 6.0
    winner = np.array([0, 1, 0, 0])
    loser = np.array([1, 0, 1, 0])
    tie = np.array([False, False, True, False])
    g = pair_gaps(mu, sigma, winner, loser, tie, beta)
    s = np.sqrt(1.0 + 4.0 + 2 * beta**2)
    expected = truncated_gap_moments([3.0, -3.0], [s, s])
    np.testing.assert_allclose(g.mean[:2], expected.mean, rtol=1e-15)
    np.testing.assert_allclose(g.var[:2], expected.var, rtol=1e-15)
    assert g.mean[0] > g.mean[1]  # an upset (weaker model won) earns a smaller gap
    assert g.mean[2] == 0.0 and g.var[2] == 0.0  # tie
    self_pair = truncated_gap_moments([0.0], [np.sqrt(2.0) * beta])  # shared θ: only 2β²
    assert g.mean[3] == pytest.approx(self_pair.mean[0], rel=1e-15)


def test_normalised_gap_has_mean_one_over_untied_pairs() -> None:
    gap = np.array([1.0, 3.0, 0.0, 2.0])
    tie = np.array([False, False, True, False])
    g = normalise_gaps(gap, tie)
    np.testing.assert_allclose(g, [0.5, 1.5, 0.0, 1.0])
    assert normalise_gaps(np.zeros(2), np.array([True, True])).tolist() == [0.0, 0.0]
