"""The values every rating algorithm shares: a rating, the three vote outcomes, and a vote.

Positions, not model ids, appear in outcomes: position ``i`` is the ``i``-th contestant of the
vote as it was shown. Model ids live in :class:`Vote` (and in storage), never in :class:`Rating`.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Hashable, Iterator
from dataclasses import dataclass

from karena.errors import InvalidVote

__all__ = [
    "BestOfK",
    "Comparison",
    "InvalidVote",
    "Outcome",
    "PairResult",
    "Pairwise",
    "Ranking",
    "Rating",
    "Vote",
    "comparisons",
    "outcome_ranks",
    "validate_outcome",
]


@dataclass(frozen=True, slots=True)
class Rating:
    """A model's capability as a Gaussian belief N(mu, sigma²). ``sigma`` is 0 for point ratings."""

    mu: float
    sigma: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.mu) and math.isfinite(self.sigma)) or self.sigma < 0:
            raise InvalidVote(
                f"rating must be finite with sigma >= 0, got {self.mu!r}, {self.sigma!r}"
            )

    @property
    def conservative(self) -> float:
        """The leaderboard score mu − 3·sigma (K-Sort Arena, Eq. 6)."""
        return self.mu - 3.0 * self.sigma


@dataclass(frozen=True, slots=True)
class Ranking:
    """A full ranking with ties: ``ranks[i]`` is position ``i``'s rank, 1 = best; equal ranks tie.

    Ranks need not be dense: ``(1, 1, 3, 4)`` and ``(1, 1, 2, 3)`` mean the same thing.
    """

    ranks: tuple[int, ...]

    @property
    def k(self) -> int:
        return len(self.ranks)


@dataclass(frozen=True, slots=True)
class BestOfK:
    """The single best of ``k`` outputs; the others stay unordered among themselves.

    ``winner=None`` is a declared tie: no output was better than the rest.
    """

    k: int
    winner: int | None


class PairResult(enum.Enum):
    """The outcome of a two-way battle, from the first contestant's side."""

    WIN = "win"
    LOSS = "loss"
    TIE = "tie"
    BOTH_BAD = "both_bad"


@dataclass(frozen=True, slots=True)
class Pairwise:
    """A two-way vote: the first contestant won, lost, tied, or both were bad."""

    result: PairResult

    @property
    def k(self) -> int:
        return 2


Outcome = Ranking | BestOfK | Pairwise


@dataclass(frozen=True, slots=True)
class Comparison:
    """One pairwise fact implied by an outcome: ``winner`` beat ``loser``, or they tied."""

    winner: int
    loser: int
    tie: bool = False


def _check_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and math.isnan(value):
            raise InvalidVote(f"{what} is NaN")
        raise InvalidVote(f"{what} must be an integer, got {value!r}")
    return value


def validate_outcome(outcome: Outcome) -> None:
    """Raise :class:`InvalidVote` unless ``outcome`` is well formed."""
    if isinstance(outcome, Ranking):
        if not isinstance(outcome.ranks, tuple):
            raise InvalidVote("ranks must be a tuple of integers")
        if len(outcome.ranks) < 2:
            raise InvalidVote(f"a ranking needs K >= 2 contestants, got {len(outcome.ranks)}")
        for i, rank in enumerate(outcome.ranks):
            r = _check_int(rank, f"rank of position {i}")
            if r < 1 or r > len(outcome.ranks):
                raise InvalidVote(
                    f"rank of position {i} must be in 1..{len(outcome.ranks)}, got {r}"
                )
    elif isinstance(outcome, BestOfK):
        k = _check_int(outcome.k, "K")
        if k < 2:
            raise InvalidVote(f"best-of-K needs K >= 2, got {k}")
        if outcome.winner is not None:
            w = _check_int(outcome.winner, "winner")
            if not 0 <= w < k:
                raise InvalidVote(f"winner must be a position in 0..{k - 1}, got {w}")
    elif isinstance(outcome, Pairwise):
        if not isinstance(outcome.result, PairResult):
            raise InvalidVote(f"unknown pairwise result {outcome.result!r}")
    else:
        raise InvalidVote(f"unknown outcome type {type(outcome).__name__}")


def comparisons(outcome: Outcome) -> Iterator[Comparison]:
    """Decompose an outcome into the pairwise facts it states (K-Sort Arena §3.1).

    A ranking yields all C(K, 2) pairs; best-of-K yields the K−1 wins of the winner and says
    nothing among the rest; a declared tie (best-of-K with no winner, pairwise tie or both bad)
    yields ties. "Both bad" is a tie, as in FastChat and GenAI-Arena.
    """
    if isinstance(outcome, Ranking):
        ranks = outcome.ranks
        for i in range(len(ranks)):
            for j in range(i + 1, len(ranks)):
                if ranks[i] < ranks[j]:
                    yield Comparison(i, j)
                elif ranks[i] > ranks[j]:
                    yield Comparison(j, i)
                else:
                    yield Comparison(i, j, tie=True)
    elif isinstance(outcome, BestOfK):
        if outcome.winner is None:
            for i in range(outcome.k):
                for j in range(i + 1, outcome.k):
                    yield Comparison(i, j, tie=True)
        else:
            for j in range(outcome.k):
                if j != outcome.winner:
                    yield Comparison(outcome.winner, j)
    else:
        if outcome.result is PairResult.WIN:
            yield Comparison(0, 1)
        elif outcome.result is PairResult.LOSS:
            yield Comparison(1, 0)
        else:
            yield Comparison(0, 1, tie=True)


def outcome_ranks(outcome: Outcome) -> tuple[int, ...]:
    """The outcome as a rank vector (1 = best, equal = tie) for algorithms that need one.

    Best-of-K becomes ``winner = 1, rest = 2``: the rest tie. That is what the K-Sort Arena
    deployment passed to its factor graph; pairwise decompositions use :func:`comparisons`.
    """
    if isinstance(outcome, Ranking):
        return outcome.ranks
    if isinstance(outcome, BestOfK):
        if outcome.winner is None:
            return (1,) * outcome.k
        return tuple(1 if i == outcome.winner else 2 for i in range(outcome.k))
    return {
        PairResult.WIN: (1, 2),
        PairResult.LOSS: (2, 1),
        PairResult.TIE: (1, 1),
        PairResult.BOTH_BAD: (1, 1),
    }[outcome.result]


@dataclass(frozen=True, slots=True)
class Vote:
    """One cast vote: the contestants' model ids in display order, and the outcome."""

    models: tuple[Hashable, ...]
    outcome: Outcome

    def __post_init__(self) -> None:
        validate_outcome(self.outcome)
        if len(self.models) < 2:
            raise InvalidVote(f"a vote needs K >= 2 models, got {len(self.models)}")
        if len(set(self.models)) != len(self.models):
            raise InvalidVote(f"duplicate models in vote: {list(self.models)!r}")
        k = self.outcome.k
        if k != len(self.models):
            raise InvalidVote(f"outcome is for K={k} but the vote names {len(self.models)} models")
