"""The leaderboard, written once for every rating model: rank by the conservative score μ − 3σ.

A model may also stand on the board by a judge's placement (K-Sort Eval, ``karena eval
--place``): :class:`JudgePlacement` is kept apart from the votes, shown marked ``placed_by_judge``
with its 90% rank interval, and gives way to the model's human rating by :func:`judge_gives_way`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np

from karena.errors import InvalidInput
from karena.rating.rank_interval import DEFAULT_LEVEL, BoardRanks
from karena.rating.types import Rating, Vote

__all__ = [
    "JudgePlacement",
    "LeaderboardRow",
    "build_leaderboard",
    "count_votes",
    "judge_gives_way",
    "with_movement",
]

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
    #: The row stands by a judge's placement, not by human votes (``mu``/``sigma`` are the
    #: judge's; ``votes`` still counts the human votes, which are rated apart).
    placed_by_judge: bool = False
    #: A judge-placed row's 90% rank interval on this board, best end first.
    judge_rank_interval: tuple[int, int] | None = None
    #: Places gained (+) or lost (−) over the last ``Settings.movement_votes`` counted votes:
    #: the rank on the board as it stood then minus the rank now (:func:`with_movement`);
    #: None when the model had no votes then, or the arena has no more votes than the window.
    movement: int | None = None

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
            "placed_by_judge": self.placed_by_judge,
            "judge_rank_low": self.judge_rank_interval[0] if self.judge_rank_interval else None,
            "judge_rank_high": self.judge_rank_interval[1] if self.judge_rank_interval else None,
            "movement": self.movement,
        }


@dataclass(frozen=True, slots=True)
class JudgePlacement:
    """A judge's placement of a model on a board: its belief about the skill θ, summarised.

    ``mu``/``sigma`` are the method's estimate; ``skill_quantiles`` are 99 quantiles of the
    posterior behind its interval (:func:`karena.rating.rank_interval.quantile_points`), from
    which the interval is recomputed on the board as it is now. ``rank``/``rank_low``/
    ``rank_high`` are what the report said at placement time.
    """

    mu: float
    sigma: float
    skill_quantiles: tuple[float, ...]
    rank: int
    rank_low: int
    rank_high: int
    method: str
    judge: str
    runs: int
    created_at: datetime | None = None
    extra: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (self.sigma > 0 and np.isfinite(self.mu)) or not self.skill_quantiles:
            raise InvalidInput("a placement needs a finite mu, sigma > 0 and skill quantiles")
        if not all(np.isfinite(q) for q in self.skill_quantiles):
            raise InvalidInput("skill quantiles must be finite")


def judge_gives_way(human: Rating | None, votes: int, placement: JudgePlacement) -> bool:
    """Whether a judge-placed model is shown by its human rating instead.

    The rule: once the model has human votes and its human rating is at least as certain as the
    judge's placement (σ_human ≤ σ_judge), the human rating stands; until then the placement
    does. "Enough human votes" is thus the number that says as much as the judge's runs did,
    whatever the judge or the method. The human rating never starts from the placement: judge
    runs are not votes.
    """
    return human is not None and votes > 0 and human.sigma <= placement.sigma


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
    placements: Mapping[Hashable, JudgePlacement] | None = None,
) -> tuple[LeaderboardRow, ...]:
    r"""Rows sorted best first by :math:`S_i = \mu_i - 3\sigma_i` (K-Sort Arena Eq. 6).

    Ties in S share a rank ("1, 2, 2, 4"); the order among them is by μ, then by the model id's
    text, so the table is deterministic. The interval is :math:`\mu \pm z\sigma` (95% by default);
    a point rating (Elo, σ = 0) has an empty one. A row is ``provisional`` while
    :math:`\sigma >` ``provisional_sigma`` (``Settings.provisional_sigma``, 2.0 by default: the
    ±3σ band is still wider than ±6 points on the default 25-point scale), and while it has no
    votes when ``votes`` are given. ``names`` gives display names (default: the id as text).
    ``rank_ub`` is Chatbot Arena's Rank (UB) over these intervals.

    ``placements`` are judge placements by model id. A placed model that has not given way
    (:func:`judge_gives_way`) is shown by its placement: scored as the paper scores a new model,
    μ − 3·(mean σ of the human-rated rows), marked ``placed_by_judge``, with its 90% rank
    interval among the human-rated rows. It is never provisional for want of votes, and a
    placement for a model missing from ``ratings`` is ignored.
    """
    if not provisional_sigma > 0 or not z > 0 or score_sigmas < 0:
        raise InvalidInput("provisional_sigma and z must be > 0 and score_sigmas >= 0")
    counts = votes if votes is not None else {}
    shown = names if names is not None else {}
    placed = _placed(ratings, counts, votes is not None, placements or {})
    humans = [r for m, r in ratings.items() if m not in placed]
    voted = [r for m, r in ratings.items() if m not in placed and counts.get(m, 0)]
    offset = score_sigmas * float(np.mean([r.sigma for r in voted])) if voted else 0.0
    beliefs = {m: Rating(placed[m].mu, placed[m].sigma) if m in placed else r
               for m, r in ratings.items()}  # fmt: skip

    def score_of(model: Hashable) -> float:
        r = beliefs[model]
        return r.mu - (offset if model in placed else score_sigmas * r.sigma)

    scored = sorted(beliefs.items(), key=lambda it: (-score_of(it[0]), -it[1].mu, str(it[0])))
    lows = [r.mu - z * r.sigma for _, r in scored]
    board = BoardRanks(humans, offset=offset)
    rows: list[LeaderboardRow] = []
    previous_score: float | None = None
    rank = 0
    for position, (model, rating) in enumerate(scored, start=1):
        score = score_of(model)
        interval = None
        if model in placed:
            q = placed[model].skill_quantiles
            iv = board.interval(np.asarray(q), np.ones(len(q)), DEFAULT_LEVEL)
            interval = (iv.low, iv.high)
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
                provisional=model not in placed
                and (
                    rating.sigma > provisional_sigma
                    or (votes is not None and not counts.get(model, 0))
                ),
                rank_ub=1 + sum(1 for low in lows if low > rating.mu + z * rating.sigma),
                placed_by_judge=model in placed,
                judge_rank_interval=interval,
            )
        )
    return tuple(rows)


def _placed(
    ratings: Mapping[Hashable, Rating],
    counts: Mapping[Hashable, int],
    counted: bool,
    placements: Mapping[Hashable, JudgePlacement],
) -> dict[Hashable, JudgePlacement]:
    """The placements that stand: on the board, and not yet given way to human votes."""
    out: dict[Hashable, JudgePlacement] = {}
    for model, placement in placements.items():
        if model not in ratings:
            continue
        votes = int(counts.get(model, 0)) if counted else 1
        if not judge_gives_way(ratings[model], votes, placement):
            out[model] = placement
    return out


def with_movement(
    rows: Iterable[LeaderboardRow],
    earlier: Iterable[LeaderboardRow],
    *,
    counted: Collection[Hashable],
) -> tuple[LeaderboardRow, ...]:
    """``rows`` with ``movement`` set: the model's rank on ``earlier`` minus its rank now.

    ``earlier`` is the same board built from the ratings as they stood some votes ago; only
    models in ``counted`` (those that had votes then) get a movement, the rest keep None. A
    positive movement is places gained.
    """
    before = {row.model_id: row.rank for row in earlier}
    return tuple(
        replace(row, movement=before[row.model_id] - row.rank)
        if row.model_id in counted and row.model_id in before
        else row
        for row in rows
    )
