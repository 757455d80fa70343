"""Numba kernel: one sequential pass of the pairwise Thurstone update over millions of pairs.

The scalar helpers mirror :mod:`karena.rating.gaussian` line for line (numba cannot call the
plain-Python originals), and the pair update mirrors :class:`karena.rating.thurstone.ThurstoneK`
for K = 2; tests/reward check agreement with ThurstoneK to 1e-9.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numpy.typing import NDArray

_SQRT2 = math.sqrt(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TAIL = -30.0


@numba.njit(cache=True)
def _pdf(x: float) -> float:
    return _INV_SQRT_2PI * math.exp(-0.5 * x * x)


@numba.njit(cache=True)
def _cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / _SQRT2)


@numba.njit(cache=True)
def _mills_lower(x: float) -> float:
    t = -x
    frac = t
    for n in range(40, 0, -1):
        frac = t + n / frac
    return 1.0 / frac


@numba.njit(cache=True)
def _log_cdf(x: float) -> float:
    if x > 0.0:
        return math.log1p(-0.5 * math.erfc(x / _SQRT2))
    if x > _TAIL:
        return math.log(_cdf(x))
    return -0.5 * x * x - _LOG_SQRT_2PI + math.log(_mills_lower(x))


@numba.njit(cache=True)
def _v_win(x: float) -> float:
    if x > _TAIL:
        return _pdf(x) / _cdf(x)
    return 1.0 / _mills_lower(x)


@numba.njit(cache=True)
def _w_win(x: float) -> float:
    v = _v_win(x)
    return min(max(v * (v + x), 0.0), 1.0)


@numba.njit(cache=True)
def _v_tie(x: float, t: float) -> float:
    xx = abs(x)
    upper = t - xx
    lower = -t - xx
    ratio = math.exp(_log_cdf(lower) - _log_cdf(upper))
    denom = 1.0 - ratio
    if denom <= 0.0:
        return -x
    value = (_v_win(lower) * ratio - _v_win(upper)) / denom
    return -value if x < 0.0 else value


@numba.njit(cache=True)
def _w_tie(x: float, t: float) -> float:
    xx = abs(x)
    upper = t - xx
    lower = -t - xx
    ratio = math.exp(_log_cdf(lower) - _log_cdf(upper))
    denom = 1.0 - ratio
    if denom <= 0.0:
        return 1.0
    vt = _v_tie(x, t)
    w = (upper * _v_win(upper) - lower * _v_win(lower) * ratio) / denom + vt * vt
    return min(max(w, 0.0), 1.0)


@numba.njit(cache=True)
def thurstone_pair_pass(
    first: NDArray[np.int64],
    second: NDArray[np.int64],
    tie: NDArray[np.bool_],
    order: NDArray[np.int64],
    mu: NDArray[np.float64],
    var: NDArray[np.float64],
    beta: float,
    tau: float,
    draw_margin: float,
    weng_lin_gamma: bool,
    kappa: float,
) -> None:
    """Apply the K = 2 update for pairs ``order[0], order[1], …`` in place on ``mu``/``var``.

    ``first`` beat ``second`` unless ``tie``. Self-pairs (first == second) carry no
    information about capabilities and are skipped.
    """
    two_beta_sq = 2.0 * beta * beta
    tau_sq = tau * tau
    for idx in order:
        a = first[idx]
        b = second[idx]
        if a == b:
            continue
        var_a = var[a] + tau_sq
        var_b = var[b] + tau_sq
        c = math.sqrt(var_a + var_b + two_beta_sq)
        t = draw_margin / c
        x = (mu[a] - mu[b]) / c
        if tie[idx]:
            if draw_margin <= 0.0:
                var[a] = var_a
                var[b] = var_b
                continue
            v_a = _v_tie(x, t)
            w_a = _w_tie(x, t)
            v_b = _v_tie(-x, t)
            w_b = _w_tie(-x, t)
        else:
            v_a = _v_win(x - t)
            w_a = _w_win(x - t)
            v_b = -v_a
            w_b = w_a
        gamma_a = math.sqrt(var_a) / c if weng_lin_gamma else 1.0
        gamma_b = math.sqrt(var_b) / c if weng_lin_gamma else 1.0
        mu[a] = mu[a] + var_a / c * v_a
        mu[b] = mu[b] + var_b / c * v_b
        var[a] = var_a * max(1.0 - gamma_a * var_a / (c * c) * w_a, kappa)
        var[b] = var_b * max(1.0 - gamma_b * var_b / (c * c) * w_b, kappa)
