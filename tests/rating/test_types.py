"""Vote validation: every malformed vote raises a clear InvalidVote."""

from __future__ import annotations

import math

import pytest

from karena.errors import InvalidVote
from karena.rating.elo import Elo
from karena.rating.factor_graph import FactorGraphFFA
from karena.rating.thurstone import ThurstoneK
from karena.rating.types import (
    BestOfK,
    Comparison,
    PairResult,
    Pairwise,
    Ranking,
    Rating,
    Vote,
    comparisons,
    outcome_ranks,
)

MODELS = [ThurstoneK(), FactorGraphFFA(), Elo()]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Vote(("a", "a"), Ranking((1, 2))), "duplicate"),
        (lambda: Vote(("a", "b", "c"), Ranking((1, 2))), "K=2"),
        (lambda: Vote(("a", "b"), BestOfK(3, 0)), "K=3"),
        (lambda: Vote(("a",), Ranking((1,))), "K >= 2"),
        (lambda: Vote(("a", "b"), BestOfK(1, 0)), "K >= 2"),
        (lambda: Vote(("a", "b"), Ranking((1, math.nan))), "NaN"),  # type: ignore[arg-type]
        (lambda: Vote(("a", "b"), Ranking((1, 3))), "1..2"),
        (lambda: Vote(("a", "b"), Ranking((0, 1))), "1..2"),
        (lambda: Vote(("a", "b"), Ranking((1.0, 2))), "integer"),  # type: ignore[arg-type]
        (lambda: Vote(("a", "b"), Ranking([1, 2])), "tuple"),  # type: ignore[arg-type]
        (lambda: Vote(("a", "b"), BestOfK(2, 2)), "winner"),
        (lambda: Vote(("a", "b", "c"), Pairwise(PairResult.WIN)), "K=2"),
        (lambda: Vote(("a", "b"), Pairwise("win")), "unknown"),  # type: ignore[arg-type]
        (lambda: Vote(("a", "b"), (1, 2)), "unknown outcome"),  # type: ignore[arg-type]
        (lambda: Rating(math.nan, 1.0), "finite"),
        (lambda: Rating(25.0, math.inf), "finite"),
        (lambda: Rating(25.0, -1.0), "sigma >= 0"),
    ],
)
def test_malformed_votes_raise_invalid_vote(build: object, message: str) -> None:
    with pytest.raises(InvalidVote, match=message):
        build()  # type: ignore[operator]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_update_checks_the_outcome_against_the_ratings(model: ThurstoneK) -> None:
    three = (Rating(25, 8), Rating(25, 8), Rating(25, 8))
    with pytest.raises(InvalidVote, match="K=2"):
        model.update(three, Ranking((1, 2)))
    with pytest.raises(InvalidVote, match="K >= 2"):
        model.update(three[:1], Ranking((1,)))
    with pytest.raises(InvalidVote):
        model.update(three, Ranking((1, 2, math.nan)))  # type: ignore[arg-type]


def test_comparisons_state_the_facts_of_each_outcome() -> None:
    assert list(comparisons(Ranking((2, 1, 2)))) == [
        Comparison(1, 0),
        Comparison(0, 2, tie=True),
        Comparison(1, 2),
    ]
    assert list(comparisons(BestOfK(3, 1))) == [Comparison(1, 0), Comparison(1, 2)]
    assert list(comparisons(BestOfK(3, None))) == [
        Comparison(0, 1, tie=True),
        Comparison(0, 2, tie=True),
        Comparison(1, 2, tie=True),
    ]
    assert list(comparisons(Pairwise(PairResult.BOTH_BAD))) == [Comparison(0, 1, tie=True)]
    assert outcome_ranks(BestOfK(4, 2)) == (2, 2, 1, 2)
    assert outcome_ranks(Pairwise(PairResult.LOSS)) == (2, 1)
