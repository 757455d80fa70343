"""The batch board: order-free, each vote its own likelihood, bootstrap intervals, Rank (UB)."""

from __future__ import annotations

import numpy as np
import pytest

from karena.errors import InvalidInput
from karena.rating.batch_board import fit_batch_board, rank_upper_bound
from karena.rating.types import BestOfK, Ranking, Tie, Vote


def _log(rng: np.random.Generator, n: int = 400) -> list[Vote]:
    strength = {"a": 2.0, "b": 1.0, "c": 0.5, "d": 0.0, "e": -1.0}
    names = list(strength)
    votes = []
    for i in range(n):
        shown = [str(m) for m in rng.choice(names, size=4, replace=False)]
        perf = [strength[m] + rng.gumbel() for m in shown]
        order = np.argsort(np.argsort(-np.array(perf))) + 1
        if i % 5 == 0:
            votes.append(Vote(tuple(shown), BestOfK(4, int(np.argmin(order)))))
        elif i % 11 == 0:
            votes.append(Vote(tuple(shown), Tie(4)))
        else:
            votes.append(Vote(tuple(shown), Ranking(tuple(int(r) for r in order))))
    return votes


def test_the_board_does_not_depend_on_the_vote_order() -> None:
    votes = _log(np.random.default_rng(1))
    board = fit_batch_board(votes, rounds=20)
    shuffled = list(votes)
    np.random.default_rng(2).shuffle(shuffled)
    again = fit_batch_board(shuffled, rounds=20)
    assert [r.model_id for r in board.rows] == ["a", "b", "c", "d", "e"]
    assert [r.model_id for r in again.rows] == [r.model_id for r in board.rows]
    for x, y in zip(board.rows, again.rows, strict=True):
        assert x.mu == pytest.approx(y.mu, abs=1e-9)


def test_intervals_cover_the_rating_and_rank_ub_groups_the_unresolved() -> None:
    board = fit_batch_board(_log(np.random.default_rng(3), 200), rounds=50)
    for row in board.rows:
        assert row.ci_low <= row.mu <= row.ci_high
        assert row.rank_ub is not None and row.rank_ub <= row.rank
    assert board.votes == 200 and board.rounds == 50
    assert rank_upper_bound([10, 5, 4.5], [12, 8, 6]) == [1, 2, 2]
    assert rank_upper_bound([10, 9, 4.5], [12, 11, 9.5]) == [1, 1, 2]


def test_models_without_votes_sit_at_the_prior() -> None:
    votes = [Vote(("a", "b"), Ranking((1, 2)))]
    board = fit_batch_board(votes, models=["a", "b", "new"], rounds=5)
    new = next(r for r in board.rows if r.model_id == "new")
    assert new.mu == pytest.approx(25.0) and new.votes == 0 and new.provisional
    assert board.rows[0].model_id == "a"


def test_zero_rounds_fits_the_point_estimates_alone() -> None:
    votes = _log(np.random.default_rng(5), 150)
    full = {r.model_id: r for r in fit_batch_board(votes, rounds=10).rows}
    bare = fit_batch_board(votes, rounds=0)
    assert bare.rounds == 0
    for row in bare.rows:
        assert row.mu == full[row.model_id].mu and row.rank == full[row.model_id].rank
        assert row.ci_low == row.mu == row.ci_high and row.sigma == 0.0
    with pytest.raises(InvalidInput):
        fit_batch_board(votes, rounds=1)
