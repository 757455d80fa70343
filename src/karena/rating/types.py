"""The one vote vocabulary: a rating, the vote kinds and their outcomes, and a vote.

Every layer speaks this vocabulary. The store keeps ``(kind, ranks)``
(:attr:`Outcome.kind`, :attr:`Outcome.ranks`) and reads it back with :func:`stored_outcome`; the
web API and vote files validate submissions with :func:`parse_outcome`; the simulator and the
compiled kernels see :meth:`Outcome.rank_row`. Adding a vote kind means adding one outcome class
here (and a button to the vote page); nothing else names the kinds.

Positions, not model ids, appear in outcomes: position ``i`` is the ``i``-th contestant of the
vote as it was shown. Model ids live in :class:`Vote` (and in storage), never in :class:`Rating`.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import ClassVar

from karena.errors import InvalidVote

__all__ = [
    "EMPTY",
    "OUTCOME_TYPES",
    "PAIR_RESULTS",
    "UNRANKED",
    "VOTE_KINDS",
    "BestOfK",
    "Comparison",
    "InvalidVote",
    "Outcome",
    "Ranking",
    "Rating",
    "Tie",
    "Vote",
    "VoteKind",
    "comparisons",
    "competition_ranks",
    "outcome_from_rank_row",
    "pairwise",
    "parse_outcome",
    "stored_outcome",
    "validate_outcome",
]

#: Model index of an empty slot in a kernel row (votes of different K share one matrix).
EMPTY = -1
#: Rank-row value of a contestant that lost to every ranked one and is unordered among its
#: peers (the losers of a best-of-K vote).
UNRANKED = 0


class VoteKind(enum.StrEnum):
    """How a vote was cast: the names the store, the API, vote files and the docs use."""

    RANK = "rank"  #: a full ranking of the K outputs, ties allowed
    BEST = "best"  #: the single best of K; the others stay unordered
    TIE = "tie"  #: "they are all equally good"
    ALL_BAD = "all_bad"  #: "they are all bad": rated as a tie, kept apart in the log


VOTE_KINDS: tuple[str, ...] = tuple(kind.value for kind in VoteKind)


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


def _check_k(k: object) -> int:
    k = _check_int(k, "K")
    if k < 2:
        raise InvalidVote(f"a vote needs K >= 2 contestants, got {k}")
    return k


def competition_ranks(ranks: Sequence[int]) -> tuple[int, ...]:
    """Competition ranking ("1224"): each rank becomes 1 + the number of strictly better ones."""
    return tuple(1 + sum(1 for other in ranks if other < r) for r in ranks)


@dataclass(frozen=True, slots=True)
class Ranking:
    """A full ranking with ties: ``ranks[i]`` is position ``i``'s rank, 1 = best; equal ranks tie.

    Ranks need not be dense: ``(1, 1, 3, 4)`` and ``(1, 1, 2, 3)`` mean the same thing.
    """

    ranks: tuple[int, ...]
    kind: ClassVar[VoteKind] = VoteKind.RANK

    @property
    def k(self) -> int:
        return len(self.ranks)

    def validate(self) -> None:
        if not isinstance(self.ranks, tuple):
            raise InvalidVote("ranks must be a tuple of integers")
        if len(self.ranks) < 2:
            raise InvalidVote(f"a ranking needs K >= 2 contestants, got {len(self.ranks)}")
        for i, rank in enumerate(self.ranks):
            r = _check_int(rank, f"rank of position {i}")
            if r < 1 or r > len(self.ranks):
                raise InvalidVote(f"rank of position {i} must be in 1..{len(self.ranks)}, got {r}")

    def rank_row(self) -> tuple[int, ...]:
        return self.ranks


@dataclass(frozen=True, slots=True)
class BestOfK:
    """The single best of ``k`` outputs; the others stay unordered among themselves."""

    k: int
    winner: int
    kind: ClassVar[VoteKind] = VoteKind.BEST

    def validate(self) -> None:
        k = _check_k(self.k)
        w = _check_int(self.winner, "winner")
        if not 0 <= w < k:
            raise InvalidVote(f"winner must be a position in 0..{k - 1}, got {w}")

    @property
    def ranks(self) -> tuple[int, ...]:
        """Winner 1, every other output 2 (as stored and shown)."""
        return tuple(1 if i == self.winner else 2 for i in range(self.k))

    def rank_row(self) -> tuple[int, ...]:
        return tuple(1 if i == self.winner else UNRANKED for i in range(self.k))


@dataclass(frozen=True, slots=True)
class Tie:
    """A declared K-way tie: "all equally good", or with ``all_bad`` "all of them are bad"."""

    k: int
    all_bad: bool = False

    @property
    def kind(self) -> VoteKind:
        return VoteKind.ALL_BAD if self.all_bad else VoteKind.TIE

    def validate(self) -> None:
        _check_k(self.k)
        if not isinstance(self.all_bad, bool):
            raise InvalidVote(f"all_bad must be true or false, got {self.all_bad!r}")

    @property
    def ranks(self) -> tuple[int, ...]:
        return (1,) * self.k

    def rank_row(self) -> tuple[int, ...]:
        return (1,) * self.k


Outcome = Ranking | BestOfK | Tie
OUTCOME_TYPES: tuple[type, ...] = (Ranking, BestOfK, Tie)

#: FastChat's two-way verdicts, from the first contestant's side, as outcomes.
PAIR_RESULTS: dict[str, Outcome] = {
    "win": Ranking((1, 2)),
    "loss": Ranking((2, 1)),
    "tie": Tie(2),
    "both_bad": Tie(2, all_bad=True),
}


def pairwise(result: str) -> Outcome:
    """A two-way verdict (``win``, ``loss``, ``tie``, ``both_bad``) as an outcome."""
    outcome = PAIR_RESULTS.get(result) if isinstance(result, str) else None
    if outcome is None:
        raise InvalidVote(
            f"pairwise result must be one of {', '.join(PAIR_RESULTS)}, got {result!r}"
        )
    return outcome


def validate_outcome(outcome: object) -> None:
    """Raise :class:`InvalidVote` unless ``outcome`` is a well-formed outcome."""
    if not isinstance(outcome, Ranking | BestOfK | Tie):
        raise InvalidVote(f"unknown outcome type {type(outcome).__name__}")
    outcome.validate()


def comparisons(outcome: Outcome) -> Iterator[Comparison]:
    """Decompose an outcome into the pairwise facts it states (K-Sort Arena §3.1).

    Read off :meth:`rank_row`: a ranking yields all C(K, 2) pairs; best-of-K yields the K−1 wins
    of the winner and says nothing among the rest; a declared tie yields ties. Pairs come in
    position order (i < j), the order every update sums them in.
    """
    row = outcome.rank_row()
    for i in range(len(row)):
        for j in range(i + 1, len(row)):
            a, b = row[i], row[j]
            if a == b:
                if a != UNRANKED:
                    yield Comparison(i, j, tie=True)
            elif b == UNRANKED or (a != UNRANKED and a < b):
                yield Comparison(i, j)
            else:
                yield Comparison(j, i)


def outcome_from_rank_row(row: Sequence[int]) -> Outcome:
    """The outcome a kernel rank row stands for (inverse of :meth:`rank_row`)."""
    values = tuple(int(r) for r in row if r != EMPTY)
    if UNRANKED in values:
        winners = [i for i, r in enumerate(values) if r != UNRANKED]
        if len(winners) != 1 or values[winners[0]] != 1:
            raise InvalidVote(f"rank row {list(values)} is neither a ranking nor best-of-K")
        return BestOfK(len(values), winners[0])
    return Ranking(values)


def _as_int(value: object, what: str) -> int:
    """An integer from JSON: integral floats such as 1.0 are accepted, anything else refused."""
    if isinstance(value, bool):
        raise InvalidVote(f"{what} must be an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            raise InvalidVote(f"{what} is NaN")
        if not math.isfinite(value):
            raise InvalidVote(f"{what} is not a finite number: {value!r}")
        if value.is_integer():
            return int(value)
    raise InvalidVote(f"{what} must be an integer, got {value!r}")


def parse_outcome(kind: object, *, k: int, ranks: object = None, winner: object = None) -> Outcome:
    """Validate a submission for a battle of ``k`` positions (InvalidVote; nothing is stored).

    ``rank`` needs ``ranks`` (position ``i``'s rank, 1 = best, equal = tie, integers in 1..K),
    stored as competition ranks; ``best`` needs ``winner`` (a position 0..K−1); ``tie`` and
    ``all_bad`` take neither.
    """
    if not isinstance(kind, str) or kind not in VOTE_KINDS:
        raise InvalidVote(f"mode must be one of {', '.join(VOTE_KINDS)}, got {kind!r}")
    k = _check_k(k)
    if kind == VoteKind.RANK:
        if winner is not None:
            raise InvalidVote("rank mode takes 'ranks', not 'winner'")
        if isinstance(ranks, str | bytes) or not isinstance(ranks, Sequence):
            raise InvalidVote("rank mode needs 'ranks': a list with one rank per position")
        if len(ranks) != k:
            raise InvalidVote(f"ranks must have {k} entries (one per position), got {len(ranks)}")
        values = [_as_int(r, f"rank of position {i}") for i, r in enumerate(ranks)]
        for i, r in enumerate(values):
            if not 1 <= r <= k:
                raise InvalidVote(f"rank of position {i} must be in 1..{k}, got {r}")
        return Ranking(competition_ranks(values))
    if ranks is not None:
        raise InvalidVote(f"{kind} mode takes no 'ranks'")
    if kind == VoteKind.BEST:
        if winner is None:
            raise InvalidVote("best mode needs 'winner': the position of the best output")
        w = _as_int(winner, "winner")
        if not 0 <= w < k:
            raise InvalidVote(f"winner must be a position in 0..{k - 1}, got {w}")
        return BestOfK(k, w)
    if winner is not None:
        raise InvalidVote(f"{kind} mode takes no 'winner'")
    return Tie(k, all_bad=kind == VoteKind.ALL_BAD)


def stored_outcome(kind: object, ranks: Sequence[object]) -> Outcome:
    """The outcome a stored ``(kind, ranks)`` stands for: the inverse of ``(o.kind, o.ranks)``."""
    k = len(ranks)
    if kind == VoteKind.RANK:
        return parse_outcome(kind, k=k, ranks=ranks)
    if kind == VoteKind.BEST:
        values = [_as_int(r, "rank") for r in ranks]
        if values.count(1) != 1:
            raise InvalidVote(f"a stored best-of-K vote needs exactly one rank 1, got {values}")
        return BestOfK(k, values.index(1))
    return parse_outcome(kind, k=k)


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
