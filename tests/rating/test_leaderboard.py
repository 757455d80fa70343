"""The leaderboard: conservative-score order, ranks, intervals, vote counts, provisional flag."""

from __future__ import annotations

import pytest

from karena.errors import InvalidInput
from karena.rating.leaderboard import build_leaderboard, count_votes
from karena.rating.types import BestOfK, Ranking, Rating, Vote


def test_rows_rank_by_mu_minus_three_sigma_not_by_mu() -> None:
    ratings = {
        "steady": Rating(28.0, 1.0),  # S = 25
        "lucky": Rating(31.0, 3.0),  # S = 22, higher mu but less certain
        "new": Rating(25.0, 25 / 3),  # S = 0
    }
    rows = build_leaderboard(ratings, {"steady": 40, "lucky": 5})
    assert [r.model_id for r in rows] == ["steady", "lucky", "new"]
    assert [r.rank for r in rows] == [1, 2, 3]
    assert rows[0].score == pytest.approx(25.0)
    assert rows[1].ci_low == pytest.approx(31.0 - 1.959963984540054 * 3.0)
    assert rows[1].ci_high == pytest.approx(31.0 + 1.959963984540054 * 3.0)
    assert [r.votes for r in rows] == [40, 5, 0]
    assert [r.provisional for r in rows] == [False, True, True]


def test_provisional_threshold_is_an_argument() -> None:
    rows = build_leaderboard({"a": Rating(30.0, 3.0)}, provisional_sigma=5.0)
    assert rows[0].provisional is False
    with pytest.raises(InvalidInput):
        build_leaderboard({}, provisional_sigma=0.0)


def test_equal_scores_share_a_rank_and_order_is_deterministic() -> None:
    ratings = {"b": Rating(25.0, 1.0), "a": Rating(25.0, 1.0), "c": Rating(31.0, 3.0)}
    rows = build_leaderboard(ratings)
    assert [(r.rank, r.model_id) for r in rows] == [(1, "c"), (1, "a"), (1, "b")]
    rows = build_leaderboard({"x": Rating(1010.0, 0.0), "y": Rating(990.0, 0.0)})
    assert [r.rank for r in rows] == [1, 2]
    assert rows[0].ci_low == rows[0].ci_high == 1010.0


def test_count_votes_and_json_rows() -> None:
    votes = [
        Vote(("a", "b", "c", "d"), BestOfK(4, 0)),
        Vote(("a", "b"), Ranking((2, 1))),
    ]
    assert count_votes(votes) == {"a": 2, "b": 2, "c": 1, "d": 1}
    row = build_leaderboard({1: Rating(20.0, 1.0)}, {1: 3})[0].to_dict()
    assert row["model"] == "1" and row["votes"] == 3 and row["rank"] == 1
