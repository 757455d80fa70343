"""Judge placements in the store (SQLite and PostgreSQL): on the board, never in the votes."""

from __future__ import annotations

import numpy as np
import pytest

from karena.errors import NotFound
from karena.rating.leaderboard import JudgePlacement
from tests.conftest import SeededArena, TestClock


def _placement(mu: float, sigma: float, runs: int = 55) -> JudgePlacement:
    q = np.sort(mu + sigma * np.random.default_rng(1).standard_normal(99))
    return JudgePlacement(mu=mu, sigma=sigma, skill_quantiles=tuple(float(x) for x in q),
                          rank=2, rank_low=1, rank_high=4, method="output",
                          judge="python:tests.judge.rank_functions:by_red", runs=runs)  # fmt: skip


def _vote(store: object, seeded: SeededArena, clock: TestClock, n: int) -> None:
    from karena.store import Store

    assert isinstance(store, Store)
    for seed in range(n):
        battle = store.battles.create_battle(arena=seeded.slug, seed=seed)
        clock.advance(5)
        ranks = [1 + (seed + i) % 4 for i in range(4)]
        store.voting.submit_vote(token=battle.token, mode="rank", ranks=ranks, voter_id=f"v{seed}")
        clock.advance(61)


def test_a_placement_is_on_the_board_and_never_in_the_votes(
    store: object, seeded: SeededArena, clock: TestClock
) -> None:
    from karena.store import Store

    assert isinstance(store, Store)
    _vote(store, seeded, clock, 8)
    store.catalog.add_model(arena=seeded.slug, name="newcomer")
    before = {r.model_name: (r.mu, r.sigma, r.votes) for r in store.boards.leaderboard(arena="img")}
    votes_before = [v.seq for v in store.voting.iter_votes(arena=seeded.slug)]
    row = store.boards.place_model(arena=seeded.slug, model="newcomer",
                                   placement=_placement(32.0, 1.1))  # fmt: skip
    assert row.placed_by_judge and row.model_name == "newcomer" and row.votes == 0
    assert (row.mu, row.sigma) == (32.0, 1.1) and not row.provisional
    assert row.judge_rank_interval is not None and row.judge_rank_interval[0] == 1 == row.rank
    board = store.boards.leaderboard(arena=seeded.slug)
    humans = {r.model_name: (r.mu, r.sigma, r.votes) for r in board if not r.placed_by_judge}
    assert humans == {m: v for m, v in before.items() if m != "newcomer"}  # untouched
    # Judge runs are not votes: the log, the counts and a full rebuild do not see the placement.
    assert [v.seq for v in store.voting.iter_votes(arena=seeded.slug)] == votes_before
    assert store.catalog.get_arena(slug=seeded.slug).vote_count == 8
    assert store.boards.recompute(arena=seeded.slug) == 8
    again = store.boards.leaderboard(arena=seeded.slug)
    assert [(r.model_name, r.placed_by_judge, r.mu) for r in again] == [
        (r.model_name, r.placed_by_judge, r.mu) for r in board
    ]
    page = store.boards.model_page(arena=seeded.slug, name="newcomer")
    assert page.row is not None and page.row.placed_by_judge
    stored = store.boards.placements(arena=seeded.slug)["newcomer"]
    assert stored.skill_quantiles == _placement(32.0, 1.1).skill_quantiles
    assert stored.judge.endswith("by_red") and stored.created_at is not None


def test_a_placement_gives_way_to_a_human_rating_that_is_as_certain(
    store: object, seeded: SeededArena, clock: TestClock
) -> None:
    from karena.store import Store

    assert isinstance(store, Store)
    _vote(store, seeded, clock, 12)
    human = next(r for r in store.boards.leaderboard(arena="img") if r.model_name == "model-0")
    assert human.votes > 0
    # A judge less certain than the votes already are: the human rating stands at once.
    row = store.boards.place_model(arena=seeded.slug, model="model-0",
                                   placement=_placement(40.0, human.sigma + 0.5))  # fmt: skip
    assert not row.placed_by_judge and (row.mu, row.sigma) == (human.mu, human.sigma)
    # Placing again replaces the placement; a more certain judge stands until votes catch up.
    row = store.boards.place_model(arena=seeded.slug, model="model-0",
                                   placement=_placement(40.0, human.sigma - 0.1))  # fmt: skip
    assert row.placed_by_judge and row.mu == 40.0 and row.votes == human.votes
    assert len(store.boards.placements(arena=seeded.slug)) == 1
    assert store.boards.remove_placement(arena=seeded.slug, model="model-0")
    assert not store.boards.remove_placement(arena=seeded.slug, model="model-0")
    back = next(r for r in store.boards.leaderboard(arena="img") if r.model_name == "model-0")
    assert not back.placed_by_judge and back.mu == human.mu
    with pytest.raises(NotFound):
        store.boards.place_model(arena=seeded.slug, model="nobody",
                                 placement=_placement(20.0, 1.0))  # fmt: skip
