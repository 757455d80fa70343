"""Vote validation: every malformed vote raises a clear InvalidVote."""

from __future__ import annotations

import math

import pytest

from karena.errors import InvalidVote
from karena.rating.models.elo import Elo
from karena.rating.models.factor_graph import FactorGraphFFA
from karena.rating.models.thurstone import ThurstoneK
from karena.rating.types import (
    VOTE_KINDS,
    BestOfK,
    Comparison,
    Ranking,
    Rating,
    Tie,
    Vote,
    VoteKind,
    comparisons,
    outcome_from_rank_row,
    pairwise,
    parse_outcome,
    stored_outcome,
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
        (lambda: Vote(("a", "b", "c"), pairwise("win")), "K=2"),
        (lambda: pairwise("draw"), "win, loss, tie, both_bad"),
        (lambda: Vote(("a", "b"), BestOfK(2, None)), "integer"),  # type: ignore[arg-type]
        (lambda: Vote(("a", "b"), Tie(1)), "K >= 2"),
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
    assert list(comparisons(Tie(3))) == [
        Comparison(0, 1, tie=True),
        Comparison(0, 2, tie=True),
        Comparison(1, 2, tie=True),
    ]
    assert list(comparisons(pairwise("both_bad"))) == [Comparison(0, 1, tie=True)]
    assert BestOfK(4, 2).ranks == (2, 2, 1, 2)
    assert pairwise("loss").ranks == (2, 1)


def test_every_vote_kind_round_trips_through_its_stored_form() -> None:
    """What the store writes, (kind, ranks), reads back as the same outcome."""
    outcomes = [Ranking((1, 3, 2, 3)), BestOfK(4, 2), Tie(4), Tie(4, all_bad=True)]
    assert [o.kind for o in outcomes] == ["rank", "best", "tie", "all_bad"]
    assert {o.kind.value for o in outcomes} == set(VOTE_KINDS)
    for outcome in outcomes:
        assert stored_outcome(outcome.kind, list(outcome.ranks)) == outcome
    assert stored_outcome("best", [2, 1, 2]) == BestOfK(3, 1)
    with pytest.raises(InvalidVote, match="exactly one rank 1"):
        stored_outcome("best", [1, 1, 2])


def test_rank_rows_round_trip() -> None:
    assert BestOfK(4, 1).rank_row() == (0, 1, 0, 0)
    assert outcome_from_rank_row([0, 1, 0, 0]) == BestOfK(4, 1)
    assert outcome_from_rank_row([2, 1, -1]) == Ranking((2, 1))
    with pytest.raises(InvalidVote, match="neither"):
        outcome_from_rank_row([1, 2, 0])


@pytest.mark.parametrize(
    ("kind", "kwargs", "want"),
    [
        ("rank", {"ranks": [2, 2, 1, 4]}, Ranking((2, 2, 1, 4))),
        ("rank", {"ranks": [3, 3, 1, 1]}, Ranking((3, 3, 1, 1))),
        ("rank", {"ranks": [4, 4, 2, 2]}, Ranking((3, 3, 1, 1))),  # competition ranks
        ("rank", {"ranks": [1.0, 2.0, 3, 4]}, Ranking((1, 2, 3, 4))),  # integral floats
        ("best", {"winner": 3}, BestOfK(4, 3)),
        ("best", {"winner": 0.0}, BestOfK(4, 0)),
        ("tie", {}, Tie(4)),
        ("all_bad", {}, Tie(4, all_bad=True)),
    ],
)
def test_parse_outcome_accepts(kind: str, kwargs: dict[str, object], want: object) -> None:
    assert parse_outcome(kind, k=4, **kwargs) == want


@pytest.mark.parametrize(
    ("kind", "kwargs", "message"),
    [
        ("rank", {"ranks": [1, 2, 3]}, "ranks must have 4 entries"),
        ("rank", {"ranks": [1, 2, 3, 5]}, r"rank of position 3 must be in 1\.\.4, got 5"),
        ("rank", {"ranks": [1, 2, 3, 0]}, r"must be in 1\.\.4, got 0"),
        ("rank", {"ranks": [1, 2, 3, 1.5]}, "rank of position 3 must be an integer"),
        ("rank", {"ranks": [1, 2, 3, float("inf")]}, "not a finite number"),
        ("rank", {"ranks": [1, 2, 3, True]}, "must be an integer"),
        ("rank", {"ranks": "1234"}, "a list with one rank per position"),
        ("rank", {"ranks": [1, 2, 3, 4], "winner": 1}, "takes 'ranks', not 'winner'"),
        ("best", {}, "needs 'winner'"),
        ("best", {"winner": 4}, r"winner must be a position in 0\.\.3, got 4"),
        ("best", {"winner": -1}, r"0\.\.3, got -1"),
        ("best", {"winner": 1, "ranks": [1, 2, 3, 4]}, "best mode takes no 'ranks'"),
        ("tie", {"winner": 1}, "tie mode takes no 'winner'"),
        ("all_bad", {"ranks": [1, 1, 1, 1]}, "all_bad mode takes no 'ranks'"),
        ("draw", {}, "mode must be one of rank, best, tie, all_bad, got 'draw'"),
        (None, {}, "mode must be one of"),
    ],
)
def test_parse_outcome_refuses_with_a_message_that_names_the_problem(
    kind: object, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidVote, match=message):
        parse_outcome(kind, k=4, **kwargs)


def test_vote_kinds_are_named_once() -> None:
    assert VOTE_KINDS == ("rank", "best", "tie", "all_bad")
    assert VoteKind("all_bad") is VoteKind.ALL_BAD
