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


def test_few_votes_give_wide_intervals_and_an_unvoted_model_its_prior_width() -> None:
    """One vote: a bootstrap of it repeats it, so alone it would claim certainty (σ ≈ 1e-14).
    The Laplace posterior keeps the interval honest; a model in no vote keeps the prior's σ0."""
    from karena.rating.models.thurstone import DEFAULT_SIGMA

    vote = Vote(models=("a", "b", "c", "d"), outcome=Ranking((1, 2, 2, 4)))
    board = fit_batch_board([vote], models=["a", "b", "c", "d", "e"])
    rows = {r.model_name: r for r in board.rows}
    assert rows["e"].sigma == pytest.approx(DEFAULT_SIGMA, rel=1e-9)
    assert rows["e"].mu == pytest.approx(25.0)
    for row in board.rows:
        assert row.sigma > 3.0  # one vote says little about anyone
        assert row.ci_high - row.ci_low > 2 * 1.96 * 3.0
        assert row.ci_low < row.mu < row.ci_high
        assert row.rank_ub == 1  # nobody can be told apart yet
    # The two models the voter tied share their rank, as on the online board.
    assert rows["b"].rank == rows["c"].rank == 3
    assert rows["a"].rank == 1 and rows["d"].rank == 5


def test_with_many_votes_the_laplace_and_bootstrap_widths_agree() -> None:
    """Both estimate the same asymptotic uncertainty: with 2,000 votes the Laplace σ is within
    25% of the σ shown (the larger of it and the bootstrap's spread) for every model."""
    import math

    from karena.rating.batch_board import PROBIT
    from karena.rating.models.thurstone import DEFAULT_BETA, DEFAULT_MU, DEFAULT_SIGMA
    from karena.rating.plackett_luce import laplace_sd, rankings_from_votes

    votes = _log(np.random.default_rng(3), n=2000)
    board = fit_batch_board(votes, rounds=60)
    ids, rankings = rankings_from_votes(votes)
    scale = math.sqrt(2.0) * DEFAULT_BETA / PROBIT
    ridge = (scale / DEFAULT_SIGMA) ** 2
    row = {r.model_id: r for r in board.rows}
    theta = np.array([(row[m].mu - DEFAULT_MU) / scale for m in ids])
    posterior = scale * laplace_sd(rankings, len(ids), theta, ridge=ridge)
    shown = np.array([row[m].sigma for m in ids])
    assert np.all(posterior <= shown + 1e-12)
    assert np.all(posterior / shown > 0.75)
    with pytest.raises(InvalidInput, match="positive ridge"):
        laplace_sd(rankings, len(ids), theta, ridge=0.0)
