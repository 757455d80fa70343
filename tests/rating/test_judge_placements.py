"""Judge-placed rows on the leaderboard: marked, with their interval, giving way to human votes."""

from __future__ import annotations

import numpy as np
import pytest

from karena.errors import InvalidInput
from karena.rating.leaderboard import JudgePlacement, build_leaderboard, judge_gives_way
from karena.rating.types import Rating

HUMANS = {f"m{i}": Rating(30.0 - 1.0 * i, 0.8) for i in range(10)}  # scores 27.6 .. 18.6
VOTES = {m: 200 for m in HUMANS}


def _placement(mu: float, sigma: float = 1.2) -> JudgePlacement:
    q = tuple(float(x) for x in mu + sigma * np.random.default_rng(0).standard_normal(99))
    return JudgePlacement(mu=mu, sigma=sigma, skill_quantiles=tuple(sorted(q)), rank=5,
                          rank_low=3, rank_high=7, method="output", judge="t", runs=50)  # fmt: skip


def test_a_placed_model_is_marked_scored_as_the_paper_does_and_has_its_interval() -> None:
    ratings = {**HUMANS, "new": Rating(25.0, 25.0 / 3.0)}  # no human votes yet: the prior
    rows = build_leaderboard(ratings, {**VOTES, "new": 0}, placements={"new": _placement(25.6)})
    row = next(r for r in rows if r.model_id == "new")
    assert row.placed_by_judge and not row.provisional and row.votes == 0
    assert (row.mu, row.sigma) == (25.6, 1.2)
    # Scored μ − 3·(mean σ of the human-rated rows) = 25.6 − 2.4: between m4 (23.6) and m3 (24.6).
    assert row.score == pytest.approx(23.2)
    assert row.rank == 6 and [r.model_id for r in rows][4:7] == ["m4", "new", "m5"]
    low, high = row.judge_rank_interval or (0, 0)
    assert low < row.rank < high
    others = [r for r in rows if r.model_id != "new"]
    assert not any(r.placed_by_judge or r.judge_rank_interval for r in others)
    d = row.to_dict()
    assert d["placed_by_judge"] is True and (d["judge_rank_low"], d["judge_rank_high"]) == (
        low,
        high,
    )


def test_the_placement_gives_way_once_the_human_rating_is_as_certain() -> None:
    """Pins the rule: human votes take over once σ_human ≤ σ_judge, and not before."""
    p = _placement(25.6, sigma=1.2)
    assert not judge_gives_way(Rating(22.0, 1.5), 30, p)
    assert judge_gives_way(Rating(22.0, 1.2), 30, p)
    assert not judge_gives_way(Rating(22.0, 0.5), 0, p)  # a rating without votes is a prior
    assert not judge_gives_way(None, 5, p)
    for sigma, placed in ((1.5, True), (1.1, False)):
        ratings = {**HUMANS, "new": Rating(22.0, sigma)}
        rows = build_leaderboard(ratings, {**VOTES, "new": 40}, placements={"new": p})
        row = next(r for r in rows if r.model_id == "new")
        assert row.placed_by_judge is placed
        assert row.mu == (25.6 if placed else 22.0) and row.votes == 40


def test_placements_of_models_not_on_the_board_are_ignored_and_bad_ones_refused() -> None:
    rows = build_leaderboard(HUMANS, VOTES, placements={"ghost": _placement(25.0)})
    assert len(rows) == len(HUMANS) and not any(r.placed_by_judge for r in rows)
    with pytest.raises(InvalidInput):
        JudgePlacement(mu=25.0, sigma=0.0, skill_quantiles=(25.0,), rank=1, rank_low=1,
                       rank_high=1, method="output", judge="t", runs=1)  # fmt: skip
    with pytest.raises(InvalidInput):
        JudgePlacement(mu=25.0, sigma=1.0, skill_quantiles=(), rank=1, rank_low=1, rank_high=1,
                       method="output", judge="t", runs=1)  # fmt: skip
