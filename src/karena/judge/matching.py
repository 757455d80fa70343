"""Dynamic matching: which reference instance to judge next (K-Sort Eval §3.2; METHODS §2.2 step 1).

An instance scores ``uncertainty + α · diversity``; the unused instance with the smallest score
is judged next. ``uncertainty`` prefers instances whose models sit near the new model's current
μ (their verdicts are the least predictable, so the most informative); ``diversity`` is the summed
overlap of the existing models' capability Gaussians, so instances whose models are well
separated (a less ambiguous human ranking) are preferred.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations, pairwise
from typing import Literal

import numpy as np

from karena.errors import InvalidInput
from karena.rating.types import Rating

__all__ = [
    "DEFAULT_ALPHA",
    "MatchingTable",
    "UncertaintyKind",
    "gaussian_overlap",
    "instance_diversity",
]

DEFAULT_ALPHA = 0.5

#: ``"mean"``: |mean_k μ_k − μ_new| (the reference code); ``"sum"``: Σ_k |μ_new − μ_k| (the
#: paper's figure).
UncertaintyKind = Literal["mean", "sum"]


def _norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def gaussian_overlap(a: Rating, b: Rating) -> float:
    r"""∫ min(N(θ; μ_a, σ_a²), N(θ; μ_b, σ_b²)) dθ in closed form (the overlapping coefficient).

    The two densities cross where their log-densities are equal, a quadratic in θ with at most
    two roots. Between consecutive crossings one density is the smaller throughout, so the
    integral is a sum of normal-CDF masses of the smaller density over each interval.
    Equal σ: the single crossing is the midpoint, and the result is 2Φ(−|μ_a − μ_b| / 2σ).
    A point rating (σ = 0) overlaps nothing.
    """
    if a.sigma <= 0.0 or b.sigma <= 0.0:
        return 1.0 if (a.sigma == b.sigma and a.mu == b.mu) else 0.0
    m1, s1, m2, s2 = a.mu, a.sigma, b.mu, b.sigma
    if math.isclose(s1, s2, rel_tol=1e-12):
        return 2.0 * _norm_cdf(-abs(m1 - m2) / (2.0 * s1))
    # log N1 − log N2 = 0  ⇔  qa θ² + qb θ + qc = 0
    qa = 1.0 / (2.0 * s2 * s2) - 1.0 / (2.0 * s1 * s1)
    qb = m1 / (s1 * s1) - m2 / (s2 * s2)
    qc = m2 * m2 / (2.0 * s2 * s2) - m1 * m1 / (2.0 * s1 * s1) + math.log(s2 / s1)
    disc = qb * qb - 4.0 * qa * qc
    # With σ1 ≠ σ2 the wider density always dominates both tails, so two real roots exist.
    root = math.sqrt(max(disc, 0.0))
    r1, r2 = sorted(((-qb - root) / (2.0 * qa), (-qb + root) / (2.0 * qa)))
    bounds = (-math.inf, r1, r2, math.inf)
    total = 0.0
    for lo, hi in pairwise(bounds):
        probe = _probe(lo, hi)
        d1 = -((probe - m1) ** 2) / (2.0 * s1 * s1) - math.log(s1)
        d2 = -((probe - m2) ** 2) / (2.0 * s2 * s2) - math.log(s2)
        m, s = (m1, s1) if d1 <= d2 else (m2, s2)
        total += _mass(m, s, lo, hi)
    return min(max(total, 0.0), 1.0)


def _probe(lo: float, hi: float) -> float:
    if math.isinf(lo):
        return hi - 1.0
    if math.isinf(hi):
        return lo + 1.0
    return 0.5 * (lo + hi)


def _mass(m: float, s: float, lo: float, hi: float) -> float:
    upper = 1.0 if math.isinf(hi) else _norm_cdf((hi - m) / s)
    lower = 0.0 if math.isinf(lo) else _norm_cdf((lo - m) / s)
    return upper - lower


def instance_diversity(ratings: Sequence[Rating]) -> float:
    """Σ over pairs (k1, k2) of the instance's models of their capability overlap."""
    return sum(gaussian_overlap(a, b) for a, b in combinations(ratings, 2))


@dataclass(frozen=True)
class MatchingTable:
    """Per-instance quantities of dynamic matching, precomputed once from the fixed leaderboard.

    ``mus[i]`` holds the K existing models' μ of instance ``i``; ``diversity[i]`` its overlap sum.
    """

    mus: np.ndarray
    diversity: np.ndarray
    alpha: float = DEFAULT_ALPHA
    uncertainty: UncertaintyKind = "mean"

    @classmethod
    def build(
        cls,
        instance_ratings: Sequence[Sequence[Rating]],
        alpha: float = DEFAULT_ALPHA,
        uncertainty: UncertaintyKind = "mean",
    ) -> MatchingTable:
        """Precompute μ's and diversities for every instance."""
        if not instance_ratings:
            raise InvalidInput("the reference set is empty")
        if uncertainty not in ("mean", "sum"):
            raise InvalidInput(f"uncertainty must be 'mean' or 'sum', got {uncertainty!r}")
        if not (math.isfinite(alpha) and alpha >= 0):
            raise InvalidInput(f"alpha must be a finite number >= 0, got {alpha!r}")
        width = max(len(r) for r in instance_ratings)
        mus = np.full((len(instance_ratings), width), np.nan)
        for i, ratings in enumerate(instance_ratings):
            mus[i, : len(ratings)] = [r.mu for r in ratings]
        diversity = np.array([instance_diversity(r) for r in instance_ratings])
        return cls(mus, diversity, alpha, uncertainty)

    def scores(self, mu_new: float) -> np.ndarray:
        """uncertainty + α·diversity of every instance for the new model's current μ."""
        if self.uncertainty == "mean":
            unc = np.abs(np.nanmean(self.mus, axis=1) - mu_new)
        else:
            unc = np.nansum(np.abs(self.mus - mu_new), axis=1)
        result: np.ndarray = unc + self.alpha * self.diversity
        return result

    def select(self, mu_new: float, used: set[int] | frozenset[int], count: int = 1) -> list[int]:
        """The ``count`` unused instances with the smallest score, best first."""
        scores = self.scores(mu_new)
        if used:
            scores[list(used)] = np.inf
        order = np.argsort(scores, kind="stable")
        return [int(i) for i in order[:count] if np.isfinite(scores[i])]
