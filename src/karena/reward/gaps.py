"""Truncated-normal quality gaps for preference pairs (ArenaPO, METHODS §3.2 step 2; reconstructed).

For a pair in which image ``w`` (from model ``a``) beat image ``l`` (from model ``b``), the quality
gap is Δ = q_w − q_l ~ N(m, s²) with m = μ_a − μ_b and s² = σ_a² + σ_b² + 2β². Conditioning on
the observed preference Δ > 0 gives a normal truncated to (0, ∞), whose mean and variance are
the per-pair reward and its uncertainty.

Everything here is vectorised over numpy arrays and stays finite for any finite m/s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import log_ndtr

__all__ = [
    "TAIL_SWITCH",
    "GapMoments",
    "normalise_gaps",
    "pair_gaps",
    "truncated_gap_moments",
    "truncated_gap_moments_naive",
]

#: Below this standardised mean z = m/s the moments come from a continued fraction: the
#: direct formula z + V(z) cancels catastrophically as V(z) → −z.
TAIL_SWITCH = -2.0
#: Depth of the continued fraction; at z ≤ TAIL_SWITCH it has converged to double precision.
_CF_TERMS = 120
_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


@dataclass(frozen=True, slots=True)
class GapMoments:
    """Mean and variance of the gap Δ | Δ > 0, one entry per pair."""

    mean: NDArray[np.float64]
    var: NDArray[np.float64]


def _standard_moments_direct(z: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
    """(E, Var) of Z | Z > −z for Z ~ N(z, 1), via V(z) = exp(log φ(z) − log Φ(z))."""
    v = np.exp(-0.5 * z * z - _LOG_SQRT_2PI - log_ndtr(z))
    mean = z + v
    var = 1.0 - v * mean
    return mean, var


def _standard_moments_tail(z: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
    """The same moments for z ≪ 0, free of cancellation.

    With t = −z > 0, the Laplace continued fraction of the Mills ratio gives
    V(z) = t + 1/F with F = t + 2/G, G = t + 3/(t + 4/(…)). Hence the mean z + V = 1/F needs no
    subtraction, and the variance 1 − V(V + z) = (F − t − 1/F)/F = (2/G − 1/F)/F subtracts two
    terms whose ratio is about 2, which loses at most one bit.
    """
    t = -z
    g = t.copy()
    for n in range(_CF_TERMS, 2, -1):
        g = t + n / g
    f = t + 2.0 / g
    mean = 1.0 / f
    var = (2.0 / g - mean) / f
    return mean, var


def truncated_gap_moments(m: ArrayLike, s: ArrayLike) -> GapMoments:
    r"""Mean and variance of Δ ~ N(m, s²) conditioned on Δ > 0.

    ArenaPO reconstruction (METHODS §3.2), with z = m/s and V(z) = φ(z)/Φ(z):

    .. math::

        E[\Delta \mid \Delta > 0] &= m + s\,V(z) \\
        \operatorname{Var}[\Delta \mid \Delta > 0] &= s^2\,[1 - V(z)\,(V(z) + z)]

    V is evaluated in log space (``scipy.special.log_ndtr``) for z ≥ :data:`TAIL_SWITCH` and by a
    cancellation-free continued fraction below, so the result is finite and accurate to a few
    ulps for every finite z (tested down to z = −1e6).

    Parameters
    ----------
    m, s :
        Gap means and standard deviations (s > 0), broadcast together.

    Returns
    -------
    GapMoments
        Arrays of the broadcast shape.
    """
    m_arr = np.asarray(m, dtype=np.float64)
    s_arr = np.asarray(s, dtype=np.float64)
    if np.any(~(s_arr > 0.0)):
        raise ValueError("gap standard deviations must be positive")
    m_arr, s_arr = np.broadcast_arrays(m_arr, s_arr)
    z = m_arr / s_arr
    mean = np.empty_like(z)
    var = np.empty_like(z)
    tail = z < TAIL_SWITCH
    if tail.all():
        mean[...], var[...] = _standard_moments_tail(z)
    elif not tail.any():
        mean[...], var[...] = _standard_moments_direct(z)
    else:
        mean[tail], var[tail] = _standard_moments_tail(z[tail])
        body = ~tail
        mean[body], var[body] = _standard_moments_direct(z[body])
    # Rounding can push 1 − W a hair below 0 only where it is ~1e-17; keep variances ≥ 0.
    np.maximum(var, 0.0, out=var)
    return GapMoments(mean=mean * s_arr, var=var * s_arr * s_arr)


def truncated_gap_moments_naive(m: ArrayLike, s: ArrayLike) -> GapMoments:
    """The same moments from ``scipy.stats.truncnorm``: the slow, independent baseline."""
    from scipy.stats import truncnorm

    m_arr, s_arr = np.broadcast_arrays(
        np.asarray(m, dtype=np.float64), np.asarray(s, dtype=np.float64)
    )
    dist = truncnorm(a=-m_arr / s_arr, b=np.inf, loc=m_arr, scale=s_arr)
    return GapMoments(mean=np.asarray(dist.mean()), var=np.asarray(dist.var()))


def pair_gaps(
    mu: NDArray[np.float64],
    sigma: NDArray[np.float64],
    winner: NDArray[np.integer],
    loser: NDArray[np.integer],
    tie: NDArray[np.bool_],
    beta: float,
) -> GapMoments:
    r"""Gap moments for every pair, from fitted capabilities.

    m = μ_winner − μ_loser and s² = σ_winner² + σ_loser² + 2β². When both images come from
    the same model they share its capability θ, so only the per-image noise remains: s² = 2β².

    Tied pairs get mean 0 and variance 0: no preference was observed, so there is no ordered
    gap to condition on (see docs/rewards.md, "Ties").
    """
    if beta <= 0.0:
        raise ValueError("beta must be positive")
    m = mu[winner] - mu[loser]
    s2 = sigma[winner] ** 2 + sigma[loser] ** 2
    s2 = np.where(winner == loser, 0.0, s2) + 2.0 * beta * beta
    moments = truncated_gap_moments(m, np.sqrt(s2))
    mean = np.where(tie, 0.0, moments.mean)
    var = np.where(tie, 0.0, moments.var)
    return GapMoments(mean=mean, var=var)


def normalise_gaps(gap_mean: NDArray[np.float64], tie: NDArray[np.bool_]) -> NDArray[np.float64]:
    """The training gap g = E[Δ|Δ>0] / mean over untied pairs; ties get 0.

    Scaling to mean 1 makes the adaptive margin γ·g average γ (comparable with a fixed margin
    γ) and the gap weights average 1 (comparable with plain DPO's loss scale).
    """
    untied = ~tie
    if not untied.any():
        return np.zeros_like(gap_mean)
    scale = float(gap_mean[untied].mean())
    if not scale > 0.0:
        raise ValueError("mean gap over untied pairs is not positive")
    return np.where(untied, gap_mean / scale, 0.0)
