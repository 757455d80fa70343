"""Exact in the tails: V and W across the whole line, and trueskill's published extreme upsets.

``gaussian.w_win(x)`` used to return 0 below x ≈ −5e7 (V + x cancelled), so the factor graph
dropped an extreme upset without a word (R-TAIL-1). The expected values here are computed with
mpmath at 60 digits from the closed form of a one-on-one truncation, not taken from our code.
"""

from __future__ import annotations

import math

import mpmath
import pytest

from karena.rating.gaussian import one_minus_w_win, v_tie, v_win, w_tie, w_win
from karena.rating.models.factor_graph import FactorGraphFFA
from karena.rating.types import Ranking, Rating

mpmath.mp.dps = 60


def exact_v_w(x: float) -> tuple[mpmath.mpf, mpmath.mpf]:
    z = mpmath.mpf(x)
    v = mpmath.npdf(z) / mpmath.ncdf(z)
    return v, v * (v + z)


@pytest.mark.parametrize(
    "x", [5.0, 0.0, -4.9, -5.0, -12.0, -29.0, -31.0, -1e3, -5e7, -1e8, -7.6e10]
)
def test_v_and_w_are_exact_everywhere(x: float) -> None:
    v, w = exact_v_w(x)
    assert v_win(x) == pytest.approx(float(v), rel=1e-12)
    assert w_win(x) == pytest.approx(float(w), rel=1e-12)
    assert one_minus_w_win(x) == pytest.approx(float(1 - w), rel=1e-9)


def test_beyond_mpmath_w_tends_to_one_minus_one_over_x_squared() -> None:
    """At x = −1e15 even 60-digit mpmath loses Φ; the asymptote 1 − W = 1/x² − 6/x⁴ holds."""
    x = -1e15
    assert one_minus_w_win(x) == pytest.approx(1 / x**2, rel=1e-12)
    assert w_win(x) == 1.0 and v_win(x) == pytest.approx(-x, rel=1e-15)


def test_extreme_ties_fall_back_to_the_one_sided_correction() -> None:
    """Far from the margin a draw is a one-sided truncation; no NaN, no cancellation."""
    for x in (1e3, 1e4, 1e9):
        assert math.isfinite(v_tie(x, 0.05)) and math.isfinite(w_tie(x, 0.05))
        assert w_tie(x, 0.05) == pytest.approx(w_win(0.05 - x), rel=1e-12)
        assert v_tie(-x, 0.05) == pytest.approx(v_win(0.05 - x), rel=1e-12)


def exact_one_on_one(winner: Rating, loser: Rating, model: FactorGraphFFA) -> tuple[Rating, ...]:
    """The factor graph's 1-vs-1 result in closed form: a Gaussian truncated at the margin."""
    beta, tau = mpmath.mpf(model.beta), mpmath.mpf(model.tau)
    var_w = mpmath.mpf(winner.sigma) ** 2 + tau**2
    var_l = mpmath.mpf(loser.sigma) ** 2 + tau**2
    c = mpmath.sqrt(var_w + var_l + 2 * beta**2)
    eps = mpmath.sqrt(2) * beta * mpmath.sqrt(2) * mpmath.erfinv(mpmath.mpf(model.draw_probability))
    z = (mpmath.mpf(winner.mu) - mpmath.mpf(loser.mu) - eps) / c
    v = mpmath.npdf(z) / mpmath.ncdf(z)
    w = v * (v + z)
    return (
        Rating(
            float(winner.mu + var_w / c * v), float(mpmath.sqrt(var_w * (1 - var_w / c**2 * w)))
        ),
        Rating(float(loser.mu - var_l / c * v), float(mpmath.sqrt(var_l * (1 - var_l / c**2 * w)))),
    )


@pytest.mark.parametrize(
    ("winner", "loser", "published_sigma"),
    [
        # trueskill's own suite (test_issue5*), which needs mpmath at 50-100 digits for these:
        (Rating(-323.263, 2.965), Rating(-48.441, 2.190), (2.683, 2.080)),
        (Rating(25.0, 25 / 3), Rating(1000.0, 25 / 3), (6.455, 6.455)),
        (Rating(25.0, 25 / 3), Rating(1e6, 25 / 3), (6.455, 6.455)),
        (Rating(25.0, 25 / 3), Rating(1e12, 25 / 3), (6.455, 6.455)),
    ],
)
def test_trueskill_extreme_upsets_in_plain_floats(
    winner: Rating, loser: Rating, published_sigma: tuple[float, float]
) -> None:
    """σ as trueskill publishes; μ as the exact closed form (the package's own μ for these cases
    differ from it in the fifth digit, e.g. 415.298 for an exact 415.375)."""
    model = FactorGraphFFA()
    got = model.update((winner, loser), Ranking((1, 2)))
    want = exact_one_on_one(winner, loser, model)
    for rating, exact, sigma in zip(got, want, published_sigma, strict=True):
        assert rating.sigma == pytest.approx(sigma, abs=1e-3)  # published to 3 decimals
        assert rating.mu == pytest.approx(exact.mu, rel=1e-12, abs=1e-9)
        assert rating.sigma == pytest.approx(exact.sigma, rel=1e-9)
