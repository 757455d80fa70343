r"""Variant families: a variant's head-to-head record against its parent, and a verdict.

A compressed (quantised, pruned, cached) variant is compared with its parent where both were in
the same vote: a win when the voter placed the variant above the parent, a loss below, a tie
when level (:func:`~karena.rating.types.comparisons`; a best-of-K vote says something only when
one of the two won). Each comparison is a score :math:`x_t \in \{0, \tfrac12, 1\}` with mean
:math:`p`, the variant's win rate against the parent (ties count half).

**Interval.** A confidence *sequence* rather than a fixed-sample interval, so that the verdict
stays valid however often it is looked at: the model page is read at any time, and paired
mode stops pairing the first time a verdict is reached. Each :math:`x_t` lies in [0, 1], so
:math:`x_t - p` is sub-Gaussian with variance proxy :math:`\sigma^2 = 1/4` (Hoeffding), and
Robbins' normal mixture (Howard et al. 2021, "Time-uniform, nonparametric, nonasymptotic
confidence sequences", §3) gives, for every :math:`t` at once with probability
:math:`\ge 1 - \alpha`,

.. math::

    |\hat p_t - p| \le \frac{1}{t}\sqrt{(\sigma^2 t + \rho)\,
        \log\frac{\sigma^2 t + \rho}{\rho\,\alpha^2}},

where ρ sets the number of comparisons at which the interval is tightest (ρ = 10: tight
from about 200 to 800 comparisons). It is wider than a fixed-sample interval (about 1.6× at
400 comparisons), which is the price of peeking.

**Gap.** The online models' scale (Thurstone's case V, K-Sort Arena Eq. 2): a rating gap
:math:`d` wins with probability :math:`\Phi(d / (\sqrt2\beta))`, so a win rate :math:`p`
is the gap :math:`d = \sqrt2\beta\,\Phi^{-1}(p)` rating points, and the interval maps through
the same increasing function.

**Verdict** at level :math:`1-\alpha` (95 %), with margin δ rating points:

* ``indistinguishable``: the whole interval of the gap lies inside (−δ, +δ). This is the
  two one-sided tests (TOST) of equivalence, each at level α (conservative: a TOST at α
  needs only the 1 − 2α interval inside);
* ``better`` / ``worse``: the interval lies above / below 0;
* ``undecided``: neither yet. Equivalence takes precedence: a variant shown to be within δ is
  "indistinguishable" even if it is also measurably, slightly, better or worse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from scipy.special import ndtr, ndtri

from karena.errors import InvalidInput
from karena.rating.models.thurstone import DEFAULT_BETA

__all__ = [
    "DEFAULT_MARGIN",
    "MIXTURE_RHO",
    "VERDICTS",
    "HeadToHead",
    "Verdict",
    "confidence_radius",
    "head_to_head",
]

Verdict = Literal["indistinguishable", "better", "worse", "undecided"]
VERDICTS: tuple[Verdict, ...] = ("indistinguishable", "better", "worse", "undecided")
#: δ in rating points (≈ β/4 at β = 25/6): a win rate within 50 % ± 6.7 points.
DEFAULT_MARGIN = 1.0
#: ρ of the normal mixture (the interval is tightest from ~200 to ~800 comparisons).
MIXTURE_RHO = 10.0
_SUBGAUSSIAN_VARIANCE = 0.25


@dataclass(frozen=True, slots=True)
class HeadToHead:
    """A variant's record against its parent, its intervals and its verdict.

    ``win_rate`` is NaN and the intervals are the whole line before the first comparison.
    Gaps are in rating points (μ units); ±inf where the win-rate bound is 0 or 1.
    """

    wins: int
    losses: int
    ties: int
    win_rate: float
    rate_low: float
    rate_high: float
    gap: float
    gap_low: float
    gap_high: float
    margin: float
    margin_rate: float
    level: float
    verdict: Verdict

    @property
    def comparisons(self) -> int:
        return self.wins + self.losses + self.ties


def confidence_radius(t: int, level: float = 0.95, rho: float = MIXTURE_RHO) -> float:
    """Half-width of the anytime-valid interval of a [0, 1] mean after ``t`` observations."""
    if t <= 0:
        return math.inf
    alpha = 1.0 - level
    v = _SUBGAUSSIAN_VARIANCE * t + rho
    return math.sqrt(v * math.log(v / (rho * alpha * alpha))) / t


def _gap(p: float, scale: float) -> float:
    if p <= 0.0:
        return -math.inf
    if p >= 1.0:
        return math.inf
    return float(scale * ndtri(p))


def head_to_head(
    wins: int,
    losses: int,
    ties: int,
    *,
    margin: float = DEFAULT_MARGIN,
    beta: float = DEFAULT_BETA,
    level: float = 0.95,
    rho: float = MIXTURE_RHO,
) -> HeadToHead:
    """The record, its anytime-valid interval and the verdict (see the module docstring)."""
    counts = (wins, losses, ties)
    if any(isinstance(c, bool) or not isinstance(c, int) or c < 0 for c in counts):
        raise InvalidInput(f"wins, losses and ties must be integers >= 0, got {counts}")
    if not (math.isfinite(margin) and margin > 0):
        raise InvalidInput(f"the margin must be > 0 rating points, got {margin!r}")
    if not (math.isfinite(beta) and beta > 0) or not 0.5 < level < 1.0 or not rho > 0:
        raise InvalidInput("beta and rho must be > 0 and level in (0.5, 1)")
    scale = math.sqrt(2.0) * beta
    margin_rate = float(ndtr(margin / scale)) - 0.5
    t = wins + losses + ties
    if t == 0:
        return HeadToHead(
            0, 0, 0, math.nan, 0.0, 1.0, math.nan, -math.inf, math.inf, margin, margin_rate,
            level, "undecided",
        )  # fmt: skip
    rate = (wins + 0.5 * ties) / t
    radius = confidence_radius(t, level, rho)
    low, high = max(rate - radius, 0.0), min(rate + radius, 1.0)
    verdict: Verdict = "undecided"
    if low > 0.5 - margin_rate and high < 0.5 + margin_rate:
        verdict = "indistinguishable"
    elif low > 0.5:
        verdict = "better"
    elif high < 0.5:
        verdict = "worse"
    return HeadToHead(
        wins, losses, ties, rate, low, high, _gap(rate, scale), _gap(low, scale),
        _gap(high, scale), margin, margin_rate, level, verdict,
    )  # fmt: skip
