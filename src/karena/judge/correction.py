"""Posterior correction of a judged run (K-Sort Eval §3.3; METHODS §2.2 step 5).

The judge's agreement with the human ranking on the K existing outputs of an instance says how
far to trust its verdict on the new model's output: a run the judge got right moves the rating
fully, a run it got backwards barely moves it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from karena.errors import InvalidInput
from karena.rating.types import Rating

__all__ = [
    "DEFAULT_KAPPA",
    "Correction",
    "correct",
    "correction_weights",
    "spearman",
    "trust",
    "variance_weight",
]

#: κ of the sigmoid λ = 1/(1 + exp(−κρ)) (reference code's ``sigmoid_k``).
DEFAULT_KAPPA = 5.0


def _average_ranks(values: Sequence[float]) -> list[float]:
    """Ranks 1..n of ``values`` (ascending), ties sharing their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for m in range(i, j + 1):
            ranks[order[m]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's ρ of two equally long sequences (average ranks for ties).

    A constant sequence has no order to agree with; ρ is then defined as 0 (no evidence either
    way, so λ = 0.5), where scipy would return NaN.
    """
    if len(a) != len(b):
        raise InvalidInput(f"spearman needs equal lengths, got {len(a)} and {len(b)}")
    if len(a) < 2:
        raise InvalidInput("spearman needs at least two items")
    ra, rb = _average_ranks(a), _average_ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb, strict=True))
    va = sum((x - ma) ** 2 for x in ra)
    vb = sum((y - mb) ** 2 for y in rb)
    if va == 0.0 or vb == 0.0:
        return 0.0
    return max(-1.0, min(1.0, cov / math.sqrt(va * vb)))


def trust(rho: float, kappa: float = DEFAULT_KAPPA) -> float:
    r"""λ = 1 / (1 + exp(−κρ)), the trust placed in one judged run.

    K-Sort Eval §3.3, METHODS §2.2 step 5: ρ is the Spearman correlation between the judge's
    order of the K existing outputs and the human order; κ = 5 by default.
    """
    if not math.isfinite(rho):
        raise InvalidInput(f"rho must be finite, got {rho!r}")
    x = -kappa * rho
    # Two branches keep exp() from overflowing for large |κρ|.
    if x >= 0:
        e = math.exp(-x)
        return e / (1.0 + e)
    return 1.0 / (1.0 + math.exp(x))


def variance_weight(lam: float) -> float:
    r"""w = λ² / (λ² + (1 − λ)²), the normalised weight of the posterior variance.

    This is the reference code's form (METHODS §2.2 step 5). It lies in [0, 1], equals ½ at
    λ = ½, and keeps σ² a convex combination of σ̂² and σ², so σ never collapses when the judge
    is unreliable (the unnormalised λ² of the paper's figure would).
    """
    if not 0.0 <= lam <= 1.0:
        raise InvalidInput(f"lambda must be in [0, 1], got {lam!r}")
    a, b = lam * lam, (1.0 - lam) * (1.0 - lam)
    return a / (a + b)


def correction_weights(rho: float, kappa: float = DEFAULT_KAPPA) -> tuple[float, float]:
    """(λ, w) for one run's Spearman ρ."""
    lam = trust(rho, kappa)
    return lam, variance_weight(lam)


@dataclass(frozen=True, slots=True)
class Correction:
    """The corrected rating of one run and the numbers that produced it."""

    rating: Rating
    rho: float
    lam: float
    w: float


def correct(prior: Rating, updated: Rating, rho: float, kappa: float = DEFAULT_KAPPA) -> Correction:
    r"""Blend the judge-driven update with the prior by the judge's measured reliability.

    .. math::

        \mu \leftarrow \lambda\hat\mu + (1-\lambda)\mu, \qquad
        \sigma^2 \leftarrow w\hat\sigma^2 + (1-w)\sigma^2

    K-Sort Eval §3.3 (posterior correction), METHODS §2.2 step 5.
    """
    lam, w = correction_weights(rho, kappa)
    mu = lam * updated.mu + (1.0 - lam) * prior.mu
    var = w * updated.sigma**2 + (1.0 - w) * prior.sigma**2
    return Correction(Rating(mu, math.sqrt(var)), rho, lam, w)
