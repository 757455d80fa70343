"""The leaderboard, written once for every rating model: rank by the conservative score μ − 3σ."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from karena.errors import InvalidInput
from karena.rating.types import Rating, Vote

__all__ = ["LeaderboardRow", "build_leaderboard", "count_votes"]

#: Two-sided 95% normal quantile.
Z_95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class LeaderboardRow:
    """One model's line: rank, conservative score, belief, 95% interval, votes, provisional.

    The one leaderboard row of karena: ``replay`` prints it, the store returns it (filling the
    catalog fields ``organization``, ``link``, ``enabled`` and ``last_updated``) and the web
    serves it.
    """

    rank: int
    model_id: Hashable
    model_name: str
    score: float
    mu: float
    sigma: float
    ci_low: float
    ci_high: float
    votes: int
    provisional: bool
    organization: str = ""
    link: str = ""
    enabled: bool = True
    last_updated: datetime | None = None
    #: Chatbot Arena's Rank (UB): 1 + the models whose interval lies wholly above this one's.
    rank_ub: int | None = None

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready mapping with the field names of the web API's leaderboard rows."""
        return {
            "rank": self.rank,
            "model": self.model_name,
            "score": self.score,
            "mu": self.mu,
            "sigma": self.sigma,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "votes": self.votes,
            "provisional": self.provisional,
            "rank_ub": self.rank_ub,
        }


def count_votes(votes: Iterable[Vote]) -> dict[Hashable, int]:
    """How many votes each model took part in."""
    counts: Counter[Hashable] = Counter()
    for vote in votes:
        counts.update(vote.models)
    return dict(counts)


def build_leaderboard(
    ratings: Mapping[Hashable, Rating],
    votes: Mapping[Hashable, int] | None = None,
    *,
    names: Mapping[Hashable, str] | None = None,
    provisional_sigma: float = 2.0,
    score_sigmas: float = 3.0,
    z: float = Z_95,
) -> tuple[LeaderboardRow, ...]:
    r"""Rows sorted best first by :math:`S_i = \mu_i - 3\sigma_i` (K-Sort Arena Eq. 6).

    Ties in S share a rank ("1, 2, 2, 4"); the order among them is by μ, then by the model id's
    text, so the table is deterministic. The interval is :math:`\mu \pm z\sigma` (95% by default);
    a point rating (Elo, σ = 0) has an empty one. A row is ``provisional`` while
    :math:`\sigma >` ``provisional_sigma`` (``Settings.provisional_sigma``, 2.0 by default: the
    ±3σ band is still wider than ±6 points on the default 25-point scale), and while it has no
    votes when ``votes`` are given. ``names`` gives display names (default: the id as text).
    ``rank_ub`` is Chatbot Arena's Rank (UB) over these intervals.
    """
    if not provisional_sigma > 0 or not z > 0 or score_sigmas < 0:
        raise InvalidInput("provisional_sigma and z must be > 0 and score_sigmas >= 0")
    counts = votes if votes is not None else {}
    shown = names if names is not None else {}
    scored = sorted(
        ratings.items(),
        key=lambda item: (
            -(item[1].mu - score_sigmas * item[1].sigma),
            -item[1].mu,
            str(item[0]),
        ),
    )
    lows = [r.mu - z * r.sigma for _, r in scored]
    rows: list[LeaderboardRow] = []
    previous_score: float | None = None
    rank = 0
    for position, (model, rating) in enumerate(scored, start=1):
        score = rating.mu - score_sigmas * rating.sigma
        if previous_score is None or score != previous_score:
            rank = position
        previous_score = score
        rows.append(
            LeaderboardRow(
                rank=rank,
                model_id=model,
                model_name=shown.get(model, str(model)),
                score=score,
                mu=rating.mu,
                sigma=rating.sigma,
                ci_low=rating.mu - z * rating.sigma,
                ci_high=rating.mu + z * rating.sigma,
                votes=int(counts.get(model, 0)),
                provisional=rating.sigma > provisional_sigma
                or (votes is not None and not counts.get(model, 0)),
                rank_ub=1 + sum(1 for low in lows if low > rating.mu + z * rating.sigma),
            )
        )
    return tuple(rows)
