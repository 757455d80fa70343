"""Online Elo with FastChat's defaults, for K-wise votes decomposed into pairs.

The per-pair maths (:func:`elo_expected`) is written with :mod:`math` only so that
:mod:`karena.rating.fast` compiles the very same function with numba.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from karena.errors import InvalidInput
from karena.rating.base import OnlineRatingModel, check_order
from karena.rating.types import Outcome, Rating, comparisons

__all__ = ["DEFAULT_ELO", "Elo", "elo_expected"]

DEFAULT_ELO = 1000.0


def elo_expected(r_a: float, r_b: float, scale: float, log_base: float) -> float:
    """E_a = 1 / (1 + base^((r_b − r_a)/scale)), computed without overflow for any gap."""
    x = (r_a - r_b) / scale * log_base
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@dataclass(frozen=True, slots=True)
class Elo(OnlineRatingModel):
    r"""Online Elo (Elo 1978) as FastChat's Chatbot Arena ran it, extended to K-wise votes.

    A vote is split into its pairwise facts (:func:`~karena.rating.types.comparisons`). Every
    pair's expected score uses the ratings from *before* the vote, and the K−1 pair updates of
    a model are summed:

    .. math::

        E_{aq} = \frac{1}{1 + b^{(r_q - r_a)/s}}, \qquad
        r_a \leftarrow r_a + k \sum_q (S_{aq} - E_{aq}),

    with :math:`S_{aq} = 1` for a win, 0.5 for a tie, 0 for a loss. For K = 2 this is exactly
    FastChat's ``compute_online_elo``. Summing simultaneous pair updates (rather than applying
    them one after another) makes the result independent of the display order.

    Parameters
    ----------
    k :
        K-factor, 4 (FastChat). Small because Chatbot Arena has millions of votes; the
        K-Sort Arena paper does not give the value its Elo baseline used.
    scale, base :
        400 and 10: a 400-point gap means 10:1 odds.
    initial_rating :
        1000 (FastChat).
    """

    k: float = 4.0
    scale: float = 400.0
    base: float = 10.0
    initial_rating: float = DEFAULT_ELO
    name: str = "elo"

    def __post_init__(self) -> None:
        if not (self.k > 0 and self.scale > 0 and self.base > 1):
            raise InvalidInput(f"Elo needs k > 0, scale > 0 and base > 1, got {self}")

    @property
    def log_base(self) -> float:
        return math.log(self.base)

    def initial(self) -> Rating:
        return Rating(self.initial_rating, 0.0)

    def _update(self, ratings: tuple[Rating, ...], outcome: Outcome) -> tuple[Rating, ...]:
        before = [r.mu for r in ratings]
        change = [0.0] * len(ratings)
        log_base = self.log_base
        for comp in comparisons(outcome):
            a, b = comp.winner, comp.loser
            score = 0.5 if comp.tie else 1.0
            step = self.k * (score - elo_expected(before[a], before[b], self.scale, log_base))
            change[a] += step
            change[b] -= step
        return tuple(Rating(before[i] + change[i], 0.0) for i in range(len(ratings)))

    def win_probability(self, a: Rating, b: Rating) -> float:
        """The logistic expected score of ``a`` against ``b``."""
        return elo_expected(a.mu, b.mu, self.scale, self.log_base)

    def ranking_probability(self, ratings: Sequence[Rating], order: Sequence[int]) -> float:
        """Plackett–Luce with strengths base^(r/scale): the K-wise model whose pairs are Elo's."""
        check_order(order, len(ratings))
        logs = [ratings[i].mu / self.scale * self.log_base for i in order]
        log_p = 0.0
        for j in range(len(logs) - 1):
            rest = logs[j:]
            top = max(rest)
            log_p += logs[j] - top - math.log(sum(math.exp(x - top) for x in rest))
        return math.exp(log_p)
