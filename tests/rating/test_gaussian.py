"""The Gaussian helpers against independent references, branch by branch (issue 18).

scipy.special (``log_ndtr``, ``erfcx``) and mpmath at 60 digits give the expected values; none
comes from our code. Each case names the branch of :mod:`karena.rating.gaussian` it reaches:
the far tail (x ≤ ``TAIL`` = −30, Laplace's continued fraction), the fraction for W
(x ≤ ``W_FROM_FRACTION`` = −5), the upper half-line of ``log_cdf``, and the guards of the tie
functions for a margin that leaves no room for a draw (t ≤ 0).
"""

from __future__ import annotations

import math

import mpmath
import pytest
from scipy import special

from karena.rating import gaussian as g

mpmath.mp.dps = 60


def ref_v(x: float) -> float:
    """φ(x)/Φ(x) via erfcx: Φ(x)/φ(x) = √(π/2)·erfcx(−x/√2), exact in both tails."""
    return 1.0 / (math.sqrt(math.pi / 2.0) * float(special.erfcx(-x / math.sqrt(2.0))))


def ref_tie(x: float, t: float) -> tuple[float, float]:
    """Ṽ(x, t), W̃(x, t) from their closed forms (TrueSkill's v_draw / w_draw), at 60 digits."""
    xx, tt = mpmath.mpf(x), mpmath.mpf(t)
    a, b = tt - xx, -tt - xx  # upper and lower limits of the truncation
    z = mpmath.ncdf(a) - mpmath.ncdf(b)
    v = (mpmath.npdf(b) - mpmath.npdf(a)) / z
    w = v * v + (a * mpmath.npdf(a) - b * mpmath.npdf(b)) / z
    return float(v), float(w)


def test_constants_are_what_their_names_say() -> None:
    assert math.sqrt(2.0) == g.SQRT2
    assert pytest.approx(math.log(math.sqrt(2 * math.pi)), rel=1e-15, abs=0) == g.LOG_SQRT_2PI
    assert pytest.approx(1 / math.sqrt(2 * math.pi), rel=1e-15, abs=0) == g.INV_SQRT_2PI
    assert g.TAIL == -30.0 and g.W_FROM_FRACTION == -5.0


@pytest.mark.parametrize("x", [-3.0, -0.5, 0.0, 0.7, 2.0])
def test_pdf_and_cdf_match_scipy(x: float) -> None:
    assert g.pdf(x) == pytest.approx(
        math.exp(-x * x / 2) / math.sqrt(2 * math.pi), rel=1e-15, abs=0
    )
    assert g.cdf(x) == pytest.approx(float(special.ndtr(x)), rel=1e-14, abs=0)


@pytest.mark.parametrize(
    "x",
    [
        40.0,  # upper half-line: log1p branch, log Φ ≈ −Φ(−x), far below rounding of 1
        8.0,
        0.5,
        0.0,
        -0.5,
        -12.0,
        -29.99,  # last point of the erfc branch
        -30.0,  # first point of the continued fraction (x ≤ TAIL)
        -30.01,
        -45.0,
        -1e3,
        -1e8,
    ],
)
def test_log_cdf_matches_scipy_log_ndtr_on_every_branch(x: float) -> None:
    expected = float(special.log_ndtr(x))
    assert g.log_cdf(x) == pytest.approx(expected, rel=1e-13, abs=1e-300)


def test_log_cdf_upper_half_line_keeps_tiny_values() -> None:
    """At x = 10, log Φ = −7.6e−24: log(cdf(x)) would round it to 0; log1p keeps it."""
    assert g.log_cdf(10.0) == pytest.approx(float(special.log_ndtr(10.0)), rel=1e-12, abs=0)
    assert g.log_cdf(10.0) < 0.0


@pytest.mark.parametrize("x", [-30.0, -31.0, -60.0, -500.0, -1e6])
def test_far_tail_fraction_gives_exact_mills_ratio(x: float) -> None:
    """x ≤ −30: V comes from Laplace's continued fraction; erfcx is the reference."""
    assert g.v_win(x) == pytest.approx(ref_v(x), rel=1e-14, abs=0)
    # The fraction alone is V + x (it tends to −1/x): mpmath, since erfcx's V + x cancels.
    z = mpmath.mpf(x)
    assert g._tail_fraction(x) == pytest.approx(
        float(mpmath.npdf(z) / mpmath.ncdf(z) + z), rel=1e-13, abs=0
    )
    assert g._mills_lower(x) == pytest.approx(1.0 / ref_v(x), rel=1e-14, abs=0)


@pytest.mark.parametrize("x", [-5.0, -5.5, -8.0, -20.0, -31.0])
def test_w_from_the_fraction_matches_mpmath(x: float) -> None:
    z = mpmath.mpf(x)
    v = mpmath.npdf(z) / mpmath.ncdf(z)
    w = v * (v + z)
    # To rounding: at x = −5 itself φ/Φ would be off by 7e−14 in W and 2e−12 in 1 − W.
    assert g.w_win(x) == pytest.approx(float(w), rel=4e-16, abs=0)
    assert g.one_minus_w_win(x) == pytest.approx(float(1 - w), rel=1e-14, abs=0)


@pytest.mark.parametrize("x", [-4.99, -2.0, 0.0, 3.0])
def test_w_and_one_minus_w_above_the_fraction(x: float) -> None:
    v = ref_v(x)
    w = v * (v + x)
    assert g.w_win(x) == pytest.approx(w, rel=1e-12, abs=0)
    assert g.one_minus_w_win(x) == pytest.approx(1.0 - w, rel=1e-9, abs=0)


def test_w_is_clamped_to_the_unit_interval() -> None:
    assert g.w_win(40.0) == 0.0  # φ/Φ underflows to 0: W = 0 exactly, never negative
    assert g.w_win(-1e200) == 1.0
    assert g.one_minus_w_win(-1e200) == 0.0


@pytest.mark.parametrize(
    ("x", "t"),
    [(0.0, 0.3), (0.4, 0.3), (-0.4, 0.3), (1.5, 0.05), (-2.5, 0.2), (6.0, 0.5), (-9.0, 1.0)],
)
def test_tie_corrections_match_the_closed_form(x: float, t: float) -> None:
    v, w = ref_tie(x, t)
    assert g.v_tie(x, t) == pytest.approx(v, rel=1e-9, abs=1e-15)
    assert g.w_tie(x, t) == pytest.approx(w, rel=1e-9, abs=0)


def test_tie_corrections_are_odd_and_even_in_x() -> None:
    for x in (0.3, 1.7, 4.0):
        assert g.v_tie(-x, 0.4) == pytest.approx(-g.v_tie(x, 0.4), rel=1e-15, abs=0)
        assert g.w_tie(-x, 0.4) == pytest.approx(g.w_tie(x, 0.4), rel=1e-15, abs=0)
    assert g.v_tie(1.7, 0.4) < 0.0  # the stronger side is pulled down by a draw


def test_tie_one_sided_when_the_far_side_is_negligible() -> None:
    """ratio < 1e−17: Ṽ, W̃ are those of a one-sided truncation at t − |x|."""
    x, t = 40.0, 0.5
    assert g.v_tie(x, t) == -g.v_win(t - x)
    assert g.v_tie(-x, t) == g.v_win(t - x)
    assert g.w_tie(x, t) == g.w_win(t - x)


@pytest.mark.parametrize("t", [0.0, -0.25])
def test_tie_guards_for_a_margin_with_no_room(t: float) -> None:
    """t ≤ 0 gives Φ(t−|x|) − Φ(−t−|x|) ≤ 0: the guards return −x and 1, never divide."""
    for x in (1.3, -0.6, 0.0):
        assert g.v_tie(x, t) == -x
        assert g.w_tie(x, t) == 1.0


def test_at_minus_five_one_minus_w_comes_from_the_fraction() -> None:
    """x = W_FROM_FRACTION itself takes the fraction: 1 − W to rounding (φ/Φ is 7e−16 off)."""
    z = mpmath.mpf(-5.0)
    v = mpmath.npdf(z) / mpmath.ncdf(z)
    exact = float(1 - v * (v + z))
    assert g.one_minus_w_win(-5.0) == pytest.approx(exact, rel=5e-16, abs=0)


def test_w_tie_is_clamped_where_its_general_form_rounds_above_one() -> None:
    """A near-zero margin far from the mean: the general form gives 1 + 7e−8; W̃ stays ≤ 1."""
    x, t = 26.065441669242187, 2.8222540896974988e-05
    _, exact = ref_tie(x, t)
    assert g.w_tie(x, t) == 1.0
    assert g.w_tie(x, t) == pytest.approx(exact, rel=1e-9, abs=0)
