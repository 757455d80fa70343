"""Migration 0004 rewrites ratings made with the old maths from the vote log (the tie fix)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.conftest import SeededArena, TestClock
from tests.store.helpers import downgrade


@pytest.mark.parametrize("mode", ["rank", "tie"])
def test_migration_0004_recomputes_stale_ratings(
    store: object, seeded: SeededArena, clock: TestClock, mode: str
) -> None:
    from karena.store import Store

    assert isinstance(store, Store)
    for seed in range(6):
        battle = store.battles.create_battle(arena=seeded.slug, seed=seed)
        clock.advance(5)
        ranks = [1 + (seed + i) % 4 for i in range(4)] if mode == "rank" else None
        store.voting.submit_vote(
            token=battle.token, mode=mode, ranks=ranks, voter_id=f"voter-{seed}"
        )
        clock.advance(61)
    want = {r.model_name: (r.mu, r.sigma) for r in store.boards.leaderboard(arena=seeded.slug)}
    downgrade(store, "0003")  # the schema as it was; then ratings as the old maths left them
    with store.db.write_conn() as conn:
        conn.execute(text("UPDATE ratings SET mu = 1.0, sigma = 0.083"))
    store.db.migrate()
    got = {r.model_name: (r.mu, r.sigma) for r in store.boards.leaderboard(arena=seeded.slug)}
    assert got == want  # bit for bit: the migration replays with the same update
    assert store.boards.recompute(arena=seeded.slug) == 6
    again = {r.model_name: (r.mu, r.sigma) for r in store.boards.leaderboard(arena=seeded.slug)}
    assert again == want
