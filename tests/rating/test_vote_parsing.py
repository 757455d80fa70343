"""Pins of the vote vocabulary (karena.rating.types) that the mutation run found loose (issue 18).

Best-of-K winners at K − 1, K and K + 1; integral floats (1.0) accepted by :func:`parse_outcome`
(JSON has no integers of its own) but refused by a directly built :class:`Ranking`; and the full
text of each refusal, since that is what a voter's client shows.
"""

from __future__ import annotations

import math

import pytest

from karena.errors import InvalidVote
from karena.rating.types import (
    EMPTY,
    UNRANKED,
    BestOfK,
    Comparison,
    Ranking,
    Rating,
    Tie,
    Vote,
    VoteKind,
    comparisons,
    competition_ranks,
    outcome_from_rank_row,
    pairwise,
    parse_outcome,
    stored_outcome,
    validate_outcome,
)


@pytest.mark.parametrize("k", [2, 4, 7])
def test_best_of_k_winner_boundaries(k: int) -> None:
    assert parse_outcome("best", k=k, winner=k - 1) == BestOfK(k, k - 1)
    assert parse_outcome("best", k=k, winner=0) == BestOfK(k, 0)
    for winner in (k, k + 1, -1):
        with pytest.raises(InvalidVote, match=rf"^winner must be a position in 0\.\.{k - 1}, got "):
            parse_outcome("best", k=k, winner=winner)
    BestOfK(k, k - 1).validate()
    with pytest.raises(InvalidVote, match=rf"^winner must be a position in 0\.\.{k - 1}, got {k}$"):
        BestOfK(k, k).validate()
    with pytest.raises(InvalidVote, match=r"got -1$"):
        BestOfK(k, -1).validate()


def test_integral_floats_are_integers_in_submissions_only() -> None:
    assert parse_outcome("rank", k=3, ranks=[1.0, 3.0, 2.0]) == Ranking((1, 3, 2))
    assert parse_outcome("best", k=3, winner=2.0) == BestOfK(3, 2)
    assert parse_outcome("rank", k=2, ranks=[-0.0 + 1, 2]) == Ranking((1, 2))
    with pytest.raises(InvalidVote, match=r"^rank of position 0 must be an integer, got 1\.0$"):
        Ranking((1.0, 2)).validate()  # type: ignore[arg-type]
    with pytest.raises(InvalidVote, match=r"^winner must be an integer, got 1\.5$"):
        parse_outcome("best", k=3, winner=1.5)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "^winner must be an integer, got True$"),
        (False, "^winner must be an integer, got False$"),
        (math.nan, "^winner is NaN$"),
        (math.inf, "^winner is not a finite number: inf$"),
        (-math.inf, "^winner is not a finite number: -inf$"),
        ("1", "^winner must be an integer, got '1'$"),
        ([1], r"^winner must be an integer, got \[1\]$"),
    ],
)
def test_non_integers_are_refused_by_name(value: object, message: str) -> None:
    with pytest.raises(InvalidVote, match=message):
        parse_outcome("best", k=3, winner=value)


def test_k_itself_is_checked() -> None:
    with pytest.raises(InvalidVote, match=r"^a vote needs K >= 2 contestants, got 1$"):
        parse_outcome("tie", k=1)
    with pytest.raises(InvalidVote, match=r"^K must be an integer, got True$"):
        parse_outcome("tie", k=True)  # type: ignore[arg-type]
    with pytest.raises(InvalidVote, match=r"^K is NaN$"):
        Tie(math.nan).validate()  # type: ignore[arg-type]
    assert parse_outcome("tie", k=2) == Tie(2)


def test_rank_mode_messages() -> None:
    with pytest.raises(
        InvalidVote, match=r"^ranks must have 3 entries \(one per position\), got 2$"
    ):
        parse_outcome("rank", k=3, ranks=[1, 2])
    with pytest.raises(InvalidVote, match=r"^rank mode needs 'ranks': a list with one rank"):
        parse_outcome("rank", k=3)
    with pytest.raises(InvalidVote, match=r"^rank mode needs 'ranks'"):
        parse_outcome("rank", k=2, ranks=b"12")
    with pytest.raises(InvalidVote, match=r"^rank of position 2 must be in 1\.\.3, got 4$"):
        parse_outcome("rank", k=3, ranks=[1, 2, 4])
    with pytest.raises(InvalidVote, match=r"^rank of position 0 must be in 1\.\.3, got 0$"):
        parse_outcome("rank", k=3, ranks=[0, 2, 3])
    assert parse_outcome("rank", k=3, ranks=(3, 3, 3)) == Ranking((1, 1, 1))
    assert parse_outcome("rank", k=3, ranks=[1, 3, 3]) == Ranking((1, 2, 2))
    with pytest.raises(InvalidVote, match=r"^best mode takes no 'ranks'$"):
        parse_outcome("best", k=3, ranks=[1, 2, 3], winner=0)
    with pytest.raises(InvalidVote, match=r"^all_bad mode takes no 'winner'$"):
        parse_outcome("all_bad", k=3, winner=0)
    with pytest.raises(InvalidVote, match=r"^mode must be one of rank, best, tie, all_bad, got 3$"):
        parse_outcome(3, k=3)


def test_direct_outcomes_validate_with_messages() -> None:
    with pytest.raises(InvalidVote, match=r"^ranks must be a tuple of integers$"):
        Ranking([1, 2]).validate()  # type: ignore[arg-type]
    with pytest.raises(InvalidVote, match=r"^a ranking needs K >= 2 contestants, got 1$"):
        Ranking((1,)).validate()
    with pytest.raises(InvalidVote, match=r"^rank of position 1 must be in 1\.\.2, got 3$"):
        Ranking((1, 3)).validate()
    with pytest.raises(InvalidVote, match=r"^rank of position 1 must be in 1\.\.2, got 0$"):
        Ranking((1, 0)).validate()
    Ranking((2, 2)).validate()
    with pytest.raises(InvalidVote, match=r"^rank of position 0 is NaN$"):
        Ranking((math.nan, 1)).validate()  # type: ignore[arg-type]
    with pytest.raises(InvalidVote, match=r"^all_bad must be true or false, got 1$"):
        Tie(3, all_bad=1).validate()  # type: ignore[arg-type]
    with pytest.raises(InvalidVote, match=r"^unknown outcome type tuple$"):
        validate_outcome((1, 2))
    with pytest.raises(
        InvalidVote, match=r"^pairwise result must be one of win, loss, tie, both_bad"
    ):
        pairwise(None)  # type: ignore[arg-type]


def test_outcome_forms() -> None:
    best = BestOfK(4, 2)
    assert best.kind is VoteKind.BEST and best.ranks == (2, 2, 1, 2)
    assert best.rank_row() == (UNRANKED, UNRANKED, 1, UNRANKED)
    assert Tie(3).kind is VoteKind.TIE and Tie(3, all_bad=True).kind is VoteKind.ALL_BAD
    assert Tie(3).ranks == (1, 1, 1) == Tie(3).rank_row()
    assert Ranking((2, 1)).k == 2 and Ranking((2, 1)).rank_row() == (2, 1)
    assert Ranking((1, 2)).kind is VoteKind.RANK
    assert pairwise("win") == Ranking((1, 2)) and pairwise("loss") == Ranking((2, 1))
    assert pairwise("tie") == Tie(2) and pairwise("both_bad") == Tie(2, all_bad=True)
    assert competition_ranks((4, 4, 2, 2)) == (3, 3, 1, 1)
    assert competition_ranks((1, 2, 2, 3)) == (1, 2, 2, 4)


def test_comparisons_of_each_kind() -> None:
    assert list(comparisons(BestOfK(3, 1))) == [Comparison(1, 0), Comparison(1, 2)]
    assert list(comparisons(Ranking((2, 1, 2)))) == [
        Comparison(1, 0),
        Comparison(0, 2, tie=True),
        Comparison(1, 2),
    ]
    assert list(comparisons(Tie(2))) == [Comparison(0, 1, tie=True)]
    assert list(comparisons(Ranking((1, 3, 2)))) == [
        Comparison(0, 1),
        Comparison(0, 2),
        Comparison(2, 1),
    ]


def test_rank_rows_read_back() -> None:
    assert outcome_from_rank_row([0, 1, 0, EMPTY]) == BestOfK(3, 1)
    assert outcome_from_rank_row([2, 1, EMPTY]) == Ranking((2, 1))
    for bad in ([0, 2, 0], [1, 0, 1], [0, 0, 0]):
        with pytest.raises(InvalidVote, match=r"is neither a ranking nor best-of-K"):
            outcome_from_rank_row(bad)
    with pytest.raises(InvalidVote, match=r"^rank row \[1, 0, 1\] is neither"):
        outcome_from_rank_row([1, 0, 1])


def test_stored_outcomes_read_back() -> None:
    assert stored_outcome("best", [2, 1, 2]) == BestOfK(3, 1)
    assert stored_outcome("best", [2.0, 2.0, 1.0]) == BestOfK(3, 2)
    with pytest.raises(
        InvalidVote, match=r"^a stored best-of-K vote needs exactly one rank 1, got"
    ):
        stored_outcome("best", [1, 1, 2])
    with pytest.raises(InvalidVote, match=r"exactly one rank 1, got \[2, 2, 2\]$"):
        stored_outcome("best", [2, 2, 2])
    assert stored_outcome("rank", [1, 1, 3]) == Ranking((1, 1, 3))
    assert stored_outcome("tie", [1, 1, 1]) == Tie(3)
    assert stored_outcome("all_bad", [1, 1]) == Tie(2, all_bad=True)


def test_vote_and_rating_messages() -> None:
    with pytest.raises(InvalidVote, match=r"^outcome is for K=3 but the vote names 2 models$"):
        Vote(("a", "b"), Tie(3))
    with pytest.raises(InvalidVote, match=r"^duplicate models in vote: \['a', 'b', 'a'\]$"):
        Vote(("a", "b", "a"), Tie(3))
    with pytest.raises(InvalidVote, match=r"^a vote needs K >= 2 models, got 1$"):
        Vote(("a",), Tie(2))
    with pytest.raises(
        InvalidVote, match=r"^rating must be finite with sigma >= 0, got nan, 1\.0$"
    ):
        Rating(math.nan, 1.0)
    with pytest.raises(InvalidVote, match=r"got 1\.0, -0\.5$"):
        Rating(1.0, -0.5)
    assert Rating(1.0, 0.0).conservative == 1.0
    assert Rating(10.0, 2.0).conservative == 4.0


def test_kernel_row_constants_and_public_names() -> None:
    from karena.rating import types

    assert (EMPTY, UNRANKED) == (-1, 0)  # the compiled kernels and stored rows use these values
    assert outcome_from_rank_row([0, 0, 1, -1, -1]) == BestOfK(3, 2)
    assert BestOfK(3, 0).rank_row() == (1, 0, 0)
    missing = [name for name in types.__all__ if not hasattr(types, name)]
    assert missing == []


def test_value_types_are_frozen_and_a_comparison_is_a_win_by_default() -> None:
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        Rating(1.0, 1.0).mu = 2.0  # type: ignore[misc]
    for value, field in (
        (Comparison(1, 0), "tie"),
        (Vote(("a", "b"), Tie(2)), "models"),
        (Ranking((1, 2)), "ranks"),
        (BestOfK(2, 0), "winner"),
        (Tie(2), "all_bad"),
    ):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, field, None)
    assert Comparison(1, 0).tie is False
    assert Comparison(1, 0) == Comparison(1, 0, tie=False)
    best = r"^best mode needs 'winner': the position of the best output$"
    with pytest.raises(InvalidVote, match=best):
        parse_outcome("best", k=3)
