"""Concurrent writers lose no vote and no rating update (PostgreSQL processes, SQLite threads)."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from karena.settings import Settings
from karena.store import Store
from karena.store.context import utc_now
from tests.conftest import seed_arena

WORKERS = 4
VOTES_EACH = 8
SHARED_BATTLES = 4


def _settings(database_url: str, data_dir: str) -> Settings:
    return Settings(
        data_dir=Path(data_dir),
        database_url=database_url,
        media_dir=Path(data_dir) / "media",
        min_vote_seconds=0,
        rate_limit_per_minute=0,
        voter_salt="test-salt",
    )


def voter_worker(args: tuple[str, str, int, list[str]]) -> list[tuple[str, int, bool]]:
    """Cast fresh votes, then re-submit every shared battle; return (token, seq, replayed)."""
    database_url, data_dir, worker, shared = args
    store = Store.open(_settings(database_url, data_dir), migrate=False)
    results = []
    try:
        for i in range(VOTES_EACH):
            battle = store.battles.create_battle(arena="img")
            ranks = [1 + (i + j + worker) % 4 for j in range(4)]
            r = store.voting.submit_vote(
                token=battle.token, mode="rank", ranks=ranks, voter_id=f"w{worker}"
            )
            results.append((battle.token, r.seq, r.replayed))
        for token in shared:
            r = store.voting.submit_vote(token=token, mode="best", winner=1, voter_id=f"w{worker}")
            results.append((token, r.seq, r.replayed))
    finally:
        store.close()
    return results


def _check(store: Store, results: list[tuple[str, int, bool]], shared: list[str]) -> None:
    votes = list(store.voting.iter_votes(arena="img"))
    total = WORKERS * VOTES_EACH + SHARED_BATTLES
    assert len(votes) == total
    assert [v.seq for v in votes] == list(range(1, total + 1))  # gap-free, no duplicates
    by_token = {v.token: v.seq for v in votes}
    for token, seq, _ in results:
        assert by_token[token] == seq  # every acknowledged vote is stored, as acknowledged
    for token in shared:
        replies = [(seq, replayed) for t, seq, replayed in results if t == token]
        assert len({seq for seq, _ in replies}) == 1
        assert sum(not replayed for _, replayed in replies) == 1
    assert store.catalog.get_arena(slug="img").vote_count == total
    board = {r.model_name: (r.mu, r.sigma, r.votes) for r in store.boards.leaderboard(arena="img")}
    assert sum(v for _, _, v in board.values()) == total * 4  # no lost rating update
    store.boards.recompute(arena="img")
    assert {
        r.model_name: (r.mu, r.sigma, r.votes) for r in store.boards.leaderboard(arena="img")
    } == board


@pytest.mark.slow
def test_concurrent_voters_lose_nothing(store: Store, tmp_path: Path, database_url: str) -> None:
    seed_arena(store, n_models=6, n_prompts=2)
    store.settings = store.settings.model_copy(update={"min_vote_seconds": 0})
    store.clock = utc_now  # the workers run on the real clock too
    shared = [store.battles.create_battle(arena="img").token for _ in range(SHARED_BATTLES)]
    jobs = [(database_url, str(tmp_path / "data"), w, shared) for w in range(WORKERS)]
    if database_url.startswith("postgresql"):
        # Separate processes, as separate app workers would be (forked: no re-import cost; each
        # child opens its own engine and never touches the parent's pooled connections).
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(WORKERS) as pool:
            per_worker = pool.map(voter_worker, jobs)
    else:
        # SQLite: one writer at a time; threads contend for the write lock (busy timeout).
        with ThreadPoolExecutor(WORKERS) as pool:
            per_worker = list(pool.map(voter_worker, jobs))
    _check(store, [r for rs in per_worker for r in rs], shared)
