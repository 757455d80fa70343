"""The batch board: one Plackett–Luce fit of every vote, with bootstrap intervals and Rank (UB).

The online models update one vote at a time, so their order can depend on the order of the votes.
The batch board fits all counted votes at once, each with its own likelihood
(:func:`~karena.rating.plackett_luce.rankings_from_votes`: a ranking's places, a best-of-K vote
as Luce's top-1 choice, a tie as one shared place), so it is the same whatever order the votes
came in. Intervals come from a percentile bootstrap over votes, and Rank (UB) is Chatbot
Arena's: 1 + the number of models whose lower bound is above this model's upper bound, so
models that cannot be told apart share a rank.

Ratings are shown on the online models' scale: a Plackett–Luce strength gap d (logit units) is
the probit gap d/1.702, i.e. a μ gap of d·√2β/1.702 (3.46 points per unit at β = 25/6), around
μ0 = 25. The fit is a MAP estimate under the online prior N(μ0, σ0²) (a ridge of
(3.46/σ0)² on the strengths), so the board exists from the first vote, even while a model has
never lost.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from karena.errors import InvalidInput
from karena.rating.leaderboard import Z_95, LeaderboardRow
from karena.rating.models.thurstone import DEFAULT_BETA, DEFAULT_MU, DEFAULT_SIGMA
from karena.rating.plackett_luce import fit_plackett_luce, laplace_sd, rankings_from_votes
from karena.rating.types import Vote

__all__ = ["BatchBoard", "fit_batch_board", "rank_upper_bound"]

FloatArray = npt.NDArray[np.float64]

#: The logistic-to-probit factor: logistic(d) ≈ Φ(d / 1.702).
PROBIT = 1.702


@dataclass(frozen=True, slots=True)
class BatchBoard:
    """A batch fit as leaderboard rows (best first), and how it was made."""

    rows: tuple[LeaderboardRow, ...]
    votes: int
    rounds: int
    level: float


def rank_upper_bound(lower: Sequence[float], upper: Sequence[float]) -> list[int]:
    """Chatbot Arena's Rank (UB): 1 + how many models have a lower bound above my upper bound."""
    lo = np.asarray(lower, dtype=np.float64)
    return [1 + int(np.count_nonzero(lo > u)) for u in upper]


def _unique(
    rankings: list[list[tuple[int, ...]]],
) -> tuple[list[list[tuple[int, ...]]], FloatArray]:
    """Identical rankings once, with their counts as weights (the fit and resamples use these)."""
    seen: dict[tuple[object, ...], int] = {}
    unique: list[list[tuple[int, ...]]] = []
    counts: list[float] = []
    for ranking in rankings:
        key = tuple((type(place).__name__, tuple(place)) for place in ranking)
        at = seen.get(key)
        if at is None:
            seen[key] = len(unique)
            unique.append(ranking)
            counts.append(1.0)
        else:
            counts[at] += 1.0
    return unique, np.asarray(counts)


def fit_batch_board(
    votes: Iterable[Vote],
    *,
    models: Sequence[Hashable] | None = None,
    names: Mapping[Hashable, str] | None = None,
    rounds: int = 100,
    level: float = 0.95,
    rng: np.random.Generator | None = None,
    beta: float = DEFAULT_BETA,
    mu0: float = DEFAULT_MU,
    sigma0: float = DEFAULT_SIGMA,
    provisional_votes: int = 10,
    weights: Sequence[float] | None = None,
) -> BatchBoard:
    """Fit every vote at once and bootstrap the intervals.

    Parameters
    ----------
    votes :
        Counted votes (order does not matter).
    models :
        Every model to show, including ones without votes (they sit at the prior); by default
        the models of the votes.
    names :
        Display names by model id (default: the id as text).
    rounds :
        Bootstrap resamples of the votes (≥ 2; 100 by default). ``rng`` defaults to a fixed
        seed so the same log gives the same board. 0 fits the point estimates alone: each row's
        interval is then its rating and its ``sigma`` 0 (the rating history's batch points).
    level :
        Two-sided interval level.
    beta, mu0, sigma0 :
        The online models' scale and prior (see the module docstring).
    provisional_votes :
        A row is provisional while its model has fewer votes than this.
    weights :
        A weight per vote (e.g. a voter's reliability); 1 by default.
    """
    if rounds < 0 or rounds == 1 or not 0.0 < level < 1.0:
        raise InvalidInput("the batch board needs rounds = 0 or >= 2 and a level in (0, 1)")
    vote_list = list(votes)
    ids, rankings = rankings_from_votes(vote_list, models=models)
    n = len(ids)
    per_model = np.zeros(n)
    index = {m: i for i, m in enumerate(ids)}
    for vote in vote_list:
        for m in vote.models:
            per_model[index[m]] += 1
    shown = names if names is not None else {}
    scale = math.sqrt(2.0) * beta / PROBIT
    if not vote_list or n < 2:
        low, high = mu0 - Z_95 * sigma0, mu0 + Z_95 * sigma0
        rows = tuple(
            LeaderboardRow(
                1, m, shown.get(m, str(m)), mu0, mu0, sigma0, low, high, 0, True, rank_ub=1
            )
            for m in ids
        )
        return BatchBoard(rows, 0, rounds, level)
    ridge = (scale / sigma0) ** 2
    if weights is not None:
        if len(weights) != len(vote_list):
            raise InvalidInput(f"{len(weights)} weights given for {len(vote_list)} votes")
        unique, counts = rankings, np.asarray(weights, dtype=np.float64)
    else:
        unique, counts = _unique(rankings)
    fit = fit_plackett_luce(unique, n, weights=counts, ridge=ridge)
    gen = rng if rng is not None else np.random.default_rng(0)
    total = len(vote_list)
    draws = np.empty((rounds, n))
    for r in range(rounds):
        resample = gen.multinomial(total, counts / counts.sum()) * (counts.sum() / total)
        draws[r] = fit_plackett_luce(
            unique, n, weights=resample, start=fit.strengths, ridge=ridge
        ).strengths
    rating = mu0 + scale * fit.strengths
    tail = 0.5 * (1.0 - level)
    lows: FloatArray = rating
    highs: FloatArray = rating
    spread: FloatArray = np.zeros(n)
    if rounds:
        # The interval is the wider of the percentile bootstrap and the Laplace posterior: with
        # many votes they agree; with few, every resample repeats the same votes and the
        # bootstrap alone would claim certainty (one vote gave zero-width intervals), and a
        # model in no vote would show none of its prior's width.
        z = float(NormalDist().inv_cdf(1.0 - tail))
        posterior = scale * laplace_sd(unique, n, fit.strengths, weights=counts, ridge=ridge)
        boot_low, boot_high = np.quantile(mu0 + scale * draws, [tail, 1.0 - tail], axis=0)
        lows = np.minimum(boot_low, rating - z * posterior)
        highs = np.maximum(boot_high, rating + z * posterior)
        spread = np.maximum((mu0 + scale * draws).std(axis=0), posterior)
    ub = rank_upper_bound(list(lows), list(highs))
    order = sorted(range(n), key=lambda i: (-rating[i], str(ids[i])))
    # Equal ratings share a rank (a tie in the votes is a tie on the board, as online).
    tied = 1e-9 * max(1.0, float(np.max(np.abs(rating))))
    rows = tuple(
        LeaderboardRow(
            rank=1 + int(np.sum(rating > rating[i] + tied)),
            model_id=ids[i],
            model_name=shown.get(ids[i], str(ids[i])),
            score=float(rating[i]),
            mu=float(rating[i]),
            sigma=float(spread[i]),
            ci_low=float(lows[i]),
            ci_high=float(highs[i]),
            votes=int(per_model[i]),
            provisional=per_model[i] < provisional_votes,
            rank_ub=ub[i],
        )
        for i in order
    )
    return BatchBoard(rows, total, rounds, level)
