"""Scalar Gaussian helpers for the Thurstone updates, stable far into the tails.

Written with :mod:`math` only, so that :mod:`karena.rating.kernels` can compile the very same
functions with numba and the fast path matches the reference to rounding error.
"""

from __future__ import annotations

import math

SQRT2 = math.sqrt(2.0)
LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
#: Below this argument Φ(x) and φ(x) are computed through a continued fraction, not erfc.
TAIL = -30.0


def pdf(x: float) -> float:
    """Standard normal density φ(x)."""
    return INV_SQRT_2PI * math.exp(-0.5 * x * x)


def cdf(x: float) -> float:
    """Standard normal distribution function Φ(x), accurate in relative terms in the lower tail."""
    return 0.5 * math.erfc(-x / SQRT2)


def _mills_lower(x: float) -> float:
    """Φ(x)/φ(x) for x ≤ TAIL, by the Laplace continued fraction (converges fast for |x| ≥ 30)."""
    t = -x
    frac = t
    for n in range(40, 0, -1):
        frac = t + n / frac
    return 1.0 / frac


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
    return 1.0 / _mills_lower(x)


def w_win(x: float) -> float:
    """W(x) = V(x)·(V(x) + x), the variance correction; always in [0, 1]."""
    v = v_win(x)
    w = v * (v + x)
    return min(max(w, 0.0), 1.0)


def v_tie(x: float, t: float) -> float:
    """Ṽ(x, t): the mean correction when a pair drew, with draw margin ``t`` (> 0).

    Equals (φ(−t−x) − φ(t−x)) / (Φ(t−x) − Φ(−t−x)); computed from the side of the smaller
    ``|x|`` tail so that large mismatches neither cancel nor divide by zero.
    """
    xx = abs(x)
    upper = t - xx
    lower = -t - xx
    ratio = math.exp(log_cdf(lower) - log_cdf(upper))  # Φ(lower)/Φ(upper) in (0, 1)
    denom = 1.0 - ratio
    if denom <= 0.0:
        return -x
    # (φ(lower) − φ(upper)) / (Φ(upper) − Φ(lower)), divided through by Φ(upper).
    value = (v_win(lower) * ratio - v_win(upper)) / denom
    return -value if x < 0.0 else value


def w_tie(x: float, t: float) -> float:
    """W̃(x, t): the variance correction when a pair drew; clamped to [0, 1]."""
    xx = abs(x)
    upper = t - xx
    lower = -t - xx
    ratio = math.exp(log_cdf(lower) - log_cdf(upper))
    denom = 1.0 - ratio
    if denom <= 0.0:
        return 1.0
    vt = v_tie(x, t)
    w = (upper * v_win(upper) - lower * v_win(lower) * ratio) / denom + vt * vt
    return min(max(w, 0.0), 1.0)
