"""Posterior correction: λ, w and the corrected rating (METHODS §2.2 step 5)."""

from __future__ import annotations

import math
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from karena.errors import InvalidInput
from karena.judge.correction import correct, spearman, trust, variance_weight
from karena.rating.types import Rating


def test_lambda_is_the_kappa_five_sigmoid_of_rho() -> None:
    assert trust(0.0) == 0.5
    assert trust(1.0) == pytest.approx(1.0 / (1.0 + math.exp(-5.0)))  # 0.99331
    assert trust(-1.0) == pytest.approx(0.0066929, abs=1e-7)
    assert trust(0.4, kappa=2.0) == pytest.approx(1.0 / (1.0 + math.exp(-0.8)))
    assert trust(-1e6) == 0.0 and trust(1e6) == 1.0  # no overflow


def test_w_is_the_normalised_square() -> None:
    assert variance_weight(0.5) == 0.5
    assert variance_weight(1.0) == 1.0 and variance_weight(0.0) == 0.0
    lam = trust(0.8)
    assert variance_weight(lam) == pytest.approx(lam**2 / (lam**2 + (1 - lam) ** 2))
    with pytest.raises(InvalidInput):
        variance_weight(1.5)


@given(st.floats(-1.0, 1.0))
def test_w_is_symmetric_and_monotone(rho: float) -> None:
    lam = trust(rho)
    assert variance_weight(lam) + variance_weight(1.0 - lam) == pytest.approx(1.0)
    assert variance_weight(trust(min(rho + 0.1, 1.0))) >= variance_weight(lam) - 1e-12


def test_correction_blends_mu_and_variance() -> None:
    prior, updated = Rating(25.0, 8.0), Rating(30.0, 4.0)
    c = correct(prior, updated, rho=0.6)
    lam = 1.0 / (1.0 + math.exp(-3.0))
    w = lam**2 / (lam**2 + (1 - lam) ** 2)
    assert c.rating.mu == pytest.approx(lam * 30.0 + (1 - lam) * 25.0)
    assert c.rating.sigma == pytest.approx(math.sqrt(w * 16.0 + (1 - w) * 64.0))
    # A judge that gets the humans' order exactly backwards barely moves the rating.
    back = correct(prior, updated, rho=-1.0)
    assert abs(back.rating.mu - 25.0) < 0.05 and back.rating.sigma > 7.99


@given(
    st.lists(st.integers(1, 5), min_size=4, max_size=4),
    st.permutations([1, 2, 3, 4]),
)
def test_spearman_matches_scipy(a: list[int], b: list[int]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = stats.spearmanr(a, b).statistic
    got = spearman(a, b)
    if math.isnan(expected):
        assert got == 0.0  # a constant ranking carries no order: λ = ½
    else:
        assert got == pytest.approx(expected, abs=1e-12)
