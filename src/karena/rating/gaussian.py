"""Scalar Gaussian helpers for the Thurstone updates, exact across the whole real line.

Written with :mod:`math` only, so that :mod:`karena.rating.kernels` can compile the very same
functions with numba and the fast path matches the reference to rounding error.

Far in the lower tail (x ≤ :data:`TAIL`) the truncated-Gaussian corrections are computed from
Laplace's continued fraction for Mills' ratio instead of φ/Φ, and never as a difference of two
large numbers: V(x) + x and 1 − W(x) have closed forms in the fraction's tail, so an extreme upset
(x = −10¹¹) still gives W = 1 − 1/x² instead of 0 (Herbrich et al.'s trueskill fails there
without arbitrary precision; its own test cases are in tests/rating/test_gaussian.py).
"""

from __future__ import annotations

import math

SQRT2 = math.sqrt(2.0)
LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
#: Below this argument Φ(x) and φ(x) are computed through a continued fraction, not erfc.
TAIL = -30.0
#: Below this argument W and 1 − W come from the continued fraction: φ/Φ there leaves V + x
#: with a relative error that grows to 1e-10 by x = −30; the fraction stays at 1e-16.
W_FROM_FRACTION = -5.0
#: Terms of the continued fraction; from |x| = 5 on, forty terms are exact to rounding.
_TERMS = 40


def pdf(x: float) -> float:
    """Standard normal density φ(x)."""
    return INV_SQRT_2PI * math.exp(-0.5 * x * x)


def cdf(x: float) -> float:
    """Standard normal distribution function Φ(x), accurate in relative terms in the lower tail."""
    return 0.5 * math.erfc(-x / SQRT2)


def _tail_fraction(x: float) -> float:
    """f(x) for x ≤ W_FROM_FRACTION: Φ(x)/φ(x) = 1/(t + f), t = −x (Laplace's continued fraction).

    f = 1/(t + 2/(t + 3/(t + …))), so V(x) = t + f exactly and V(x) + x = f.
    """
    t = -x
    frac = t
    for n in range(_TERMS, 1, -1):
        frac = t + n / frac
    return 1.0 / frac


def _mills_lower(x: float) -> float:
    """Φ(x)/φ(x) for x ≤ TAIL."""
    return 1.0 / (-x + _tail_fraction(x))


def log_cdf(x: float) -> float:
    """log Φ(x) without underflow for very negative x."""
    if x > 0.0:
        return math.log1p(-0.5 * math.erfc(x / SQRT2))
    if x > TAIL:
        return math.log(cdf(x))
    return -0.5 * x * x - LOG_SQRT_2PI + math.log(_mills_lower(x))


def v_win(x: float) -> float:
    """V(x) = φ(x)/Φ(x), the mean correction of a truncated Gaussian (Weng & Lin 2011)."""
    if x > TAIL:
        return pdf(x) / cdf(x)
    return -x + _tail_fraction(x)


def w_win(x: float) -> float:
    """W(x) = V(x)·(V(x) + x), the variance correction; always in [0, 1]."""
    if x > W_FROM_FRACTION:
        v = pdf(x) / cdf(x)
        w = v * (v + x)
    else:
        f = _tail_fraction(x)
        w = (-x + f) * f  # V · (V + x) with V + x = f: no cancellation
    return min(max(w, 0.0), 1.0)


def one_minus_w_win(x: float) -> float:
    """1 − W(x), exact where W rounds to 1 (an extreme upset): about 1/x² there."""
    if x > W_FROM_FRACTION:
        return 1.0 - w_win(x)
    t = -x
    frac = t
    for n in range(_TERMS, 2, -1):
        frac = t + n / frac
    g = 2.0 / frac  # f = 1/(t + g)
    d = t + g
    # 1 − W = 1 − (t + f)·f with f = 1/d: (g·d − 1)/d², where g·d ≈ 2 (no cancellation).
    return max((g * d - 1.0) / (d * d), 0.0)


def v_tie(x: float, t: float) -> float:
    """Ṽ(x, t): the mean correction when a pair drew, with draw margin ``t`` (> 0).

    Equals (φ(−t−x) − φ(t−x)) / (Φ(t−x) − Φ(−t−x)); computed from the side of the smaller
    ``|x|`` tail so that large mismatches neither cancel nor divide by zero. Once the far side
    is negligible (ratio below 1e−17) it is exactly the one-sided correction.
    """
    xx = abs(x)
    upper = t - xx
    lower = -t - xx
    ratio = math.exp(log_cdf(lower) - log_cdf(upper))  # Φ(lower)/Φ(upper) in (0, 1)
    denom = 1.0 - ratio
    if denom <= 0.0:
        return -x
    # (φ(lower) − φ(upper)) / (Φ(upper) − Φ(lower)), divided through by Φ(upper); once the far
    # side is negligible, the one-sided correction.
    value = -v_win(upper) if ratio < 1e-17 else (v_win(lower) * ratio - v_win(upper)) / denom
    return -value if x < 0.0 else value


def w_tie(x: float, t: float) -> float:
    """W̃(x, t): the variance correction when a pair drew; clamped to [0, 1].

    When the far side is negligible the draw is a one-sided truncation at ``t − |x|`` and W̃ is
    W of that, computed without the cancellation of its general form.
    """
    xx = abs(x)
    upper = t - xx
    lower = -t - xx
    ratio = math.exp(log_cdf(lower) - log_cdf(upper))
    denom = 1.0 - ratio
    if denom <= 0.0:
        return 1.0
    if ratio < 1e-17:
        return w_win(upper)
    vt = v_tie(x, t)
    w = (upper * v_win(upper) - lower * v_win(lower) * ratio) / denom + vt * vt
    return min(max(w, 0.0), 1.0)
