"""Rating history and the leaderboard's movement, on real SQLite and PostgreSQL stores.

The agreement tests hold the history to the store's own ratings: the last online point of
every model is its live rating bit for bit (the same floats as ``recompute``), through new
votes, a rebuild and a ban. The movement test crafts a tiny log whose rank changes are
known, and checks them against an independent scalar replay too.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
from sqlalchemy import inspect, text

from karena.errors import NotFound
from karena.rating.batch_board import fit_batch_board
from karena.rating.leaderboard import build_leaderboard
from karena.rating.registry import rating_model
from karena.rating.types import Ranking, Rating, Vote, stored_outcome
from karena.store import Store, reads
from karena.store.batch_history import BatchJob, fit_point, fit_point_in_child
from karena.store.db import head_revision
from karena.store.lookups import find_arena
from karena.store.types import ModelHistory
from tests.conftest import seed_arena
from tests.store.helpers import downgrade, relax, shown_models


def _vote(store: Store, slug: str, seed: int, order: list[str], voter: str = "v") -> None:
    """One battle, ranked by ``order`` (best first) among the models shown."""
    battle = store.battles.create_battle(arena=slug, seed=seed)
    shown = shown_models(store, battle.token)
    ranks = [order.index(m) for m in shown]
    ranks = [int(r) for r in np.argsort(np.argsort(ranks)) + 1]
    store.voting.submit_vote(token=battle.token, mode="rank", ranks=ranks, voter_id=voter)


def _noisy_votes(store: Store, slug: str, n: int, start: int, voters: int = 4) -> None:
    rng = np.random.default_rng(start)
    models = [f"model-{i}" for i in range(6)]
    for i in range(n):
        quality = {m: -i_m + rng.normal(0.0, 1.5) for i_m, m in enumerate(models)}
        order = sorted(models, key=lambda m: -quality[m])
        _vote(store, slug, start + i, order, voter=f"voter-{i % voters}")


def _assert_last_points_are_live(store: Store, slug: str) -> dict[str, ModelHistory]:
    rows = {r.model_name: r for r in store.boards.leaderboard(arena=slug)}
    out = {}
    for name, row in rows.items():
        history = store.boards.history(arena=slug, name=name)
        out[name] = history
        if row.votes == 0:
            assert history.online == ()
            continue
        last = history.online[-1]
        # Bit for bit, not approximately: the replay is the live arithmetic.
        assert (last.mu, last.sigma, last.votes) == (row.mu, row.sigma, row.votes), name
        assert last.vote <= history.arena_votes
    return out


def _wait_for_batch(store: Store, slug: str, name: str, seconds: float = 60.0) -> ModelHistory:
    deadline = time.monotonic() + seconds
    while (history := store.boards.history(arena=slug, name=name)).batch_pending:
        assert time.monotonic() < deadline, "batch history points were not fitted in time"
        time.sleep(0.05)
    return history


def test_last_online_point_is_the_live_rating_through_votes_rebuilds_and_bans(
    store: Store,
) -> None:
    relax(store)
    slug = seed_arena(store, slug="hist", n_models=6).slug
    _noisy_votes(store, slug, 30, start=0)
    first = _assert_last_points_are_live(store, slug)
    assert all(h.arena_votes == 30 for h in first.values())
    # The cache is extended by the new votes only, and still agrees.
    _noisy_votes(store, slug, 17, start=100)
    _assert_last_points_are_live(store, slug)
    # A rebuild writes a snapshot: the cache reads the log again and agrees with the rebuild.
    store.boards.recompute(arena=slug)
    _assert_last_points_are_live(store, slug)
    # A ban stops a voter's votes counting: fewer votes, new ratings, the same agreement.
    store.voting.ban_voter(voter_id="voter-1")
    after = _assert_last_points_are_live(store, slug)
    assert all(h.arena_votes < 47 for h in after.values())


def test_online_series_samples_the_models_own_votes_and_resolution_changes_nothing(
    store: Store,
) -> None:
    relax(store)
    slug = seed_arena(store, slug="res", n_models=6).slug
    _noisy_votes(store, slug, 40, start=0)
    full = store.boards.history(arena=slug, name="model-2", points=1000)
    coarse = store.boards.history(arena=slug, name="model-2", points=5)
    page = store.boards.model_page(arena=slug, name="model-2", limit=500)
    assert len(full.online) == page.battles_total  # one point after each of its votes
    assert [p.votes for p in full.online] == list(range(1, len(full.online) + 1))
    assert len(coarse.online) == 5
    assert coarse.online[0] == full.online[0] and coarse.online[-1] == full.online[-1]
    by_vote = {p.vote: p for p in full.online}
    assert all(by_vote[p.vote] == p for p in coarse.online)  # same floats, any chunking
    times = [p.time for p in full.online]
    assert times == sorted(times) and all(t.tzinfo is not None for t in times)


def test_batch_series_is_the_batch_board_of_each_prefix(store: Store) -> None:
    relax(store)
    store.settings = store.settings.model_copy(update={"history_batch_points": 4})
    slug = seed_arena(store, slug="batch", n_models=6).slug
    _noisy_votes(store, slug, 24, start=0)
    history = _wait_for_batch(store, slug, "model-0")
    assert history.batch_step == 8 and [p.vote for p in history.batch] == [8, 16, 24]
    log = list(reads.iter_votes(store.db, slug, counted_only=True))
    model_id = store.catalog.get_model(arena=slug, name="model-0").id
    prefix = [Vote(tuple(v.model_ids), stored_outcome(v.mode, v.ranks)) for v in log[:16]]
    board = fit_batch_board(prefix, rounds=0, rng=np.random.default_rng(0))
    row = next(r for r in board.rows if r.model_id == model_id)
    point = history.batch[1]
    assert point.mu == pytest.approx(row.mu, abs=1e-9) and point.rank == row.rank
    # A ban changes every prefix: the points are fitted again, and agree with the new log.
    store.voting.ban_voter(voter_id="voter-0")
    again = _wait_for_batch(store, slug, "model-0")
    assert again.arena_votes == 18 and [p.vote for p in again.batch] == [4, 8, 12, 16]


def test_movement_is_the_rank_change_over_the_last_votes(store: Store) -> None:
    relax(store)
    store.settings = store.settings.model_copy(update={"movement_votes": 4})
    slug = seed_arena(store, slug="move", n_models=3, k=3).slug
    assert all(r.movement is None for r in store.boards.leaderboard(arena=slug))
    _vote(store, slug, 0, ["model-0", "model-1", "model-2"])
    store.catalog.add_model(arena=slug, name="late", organization="")
    store.catalog.set_model_enabled(arena=slug, name="late", enabled=False)
    for seed in range(1, 4):  # 4 votes in all: no more votes than the window yet
        _vote(store, slug, seed, ["model-2", "model-1", "model-0"])
    assert all(r.movement is None for r in store.boards.leaderboard(arena=slug))
    _vote(store, slug, 4, ["model-2", "model-1", "model-0"])  # the window: 4 reversals
    rows = {r.model_name: r for r in store.boards.leaderboard(arena=slug)}
    assert {m: rows[m].movement for m in rows} == {
        "model-2": 3,  # 4th then: the late model, at the prior, stood above its one loss
        "model-1": 0,
        "model-0": -2,
        "late": None,  # no votes 4 votes ago
    }
    # Independently: the first vote through the scalar update, ranked by build_leaderboard.
    model = rating_model("thurstone")
    state = {m: model.initial() for m in ("model-0", "model-1", "model-2")}
    state = dict(zip(state, model.update(tuple(state.values()), Ranking((1, 2, 3))), strict=True))
    state["late"] = model.initial()
    then = build_leaderboard(
        state, {"model-0": 1, "model-1": 1, "model-2": 1, "late": 0}, provisional_sigma=2.0
    )
    then_rank = {r.model_id: r.rank for r in then}
    for name in ("model-0", "model-1", "model-2"):
        assert rows[name].movement == then_rank[name] - rows[name].rank
    assert isinstance(state["late"], Rating)


def test_history_names_unknown_arenas_and_models(store: Store) -> None:
    slug = seed_arena(store, slug="empty", n_models=2, k=2).slug
    history = store.boards.history(arena=slug, name="model-0")
    assert history.online == () and history.batch == () and history.arena_votes == 0
    with pytest.raises(NotFound):
        store.boards.history(arena=slug, name="nobody")
    with pytest.raises(NotFound):
        store.boards.history(arena="nowhere", name="model-0")


def test_migration_adds_and_drops_only_the_batch_history_table(store: Store) -> None:
    """One step down drops ``batch_history`` and keeps every other row; up again it is back."""
    relax(store)
    store.settings = store.settings.model_copy(update={"history_batch_points": 2})
    slug = seed_arena(store, slug="mig", n_models=6).slug
    _noisy_votes(store, slug, 8, start=0)
    assert _wait_for_batch(store, slug, "model-0").batch

    def counts() -> dict[str, int]:
        with store.db.read_conn() as conn:
            return {
                t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                for t in ("votes", "ratings", "outputs", "battle_slots", "rating_snapshots")
            }

    before = counts()
    downgrade(store, "0008")  # the later migrations first: this test is about 0008's step
    with store.db.read_conn() as conn:
        tables = set(inspect(conn).get_table_names())
    downgrade(store, "0007")
    with store.db.read_conn() as conn:
        assert tables - set(inspect(conn).get_table_names()) == {"batch_history"}
    assert counts() == before
    store.db.migrate()
    with store.db.read_conn() as conn:
        assert "batch_history" in inspect(conn).get_table_names()
    assert store.db.current_revision() == head_revision()
    assert _wait_for_batch(store, slug, "model-0").batch  # fitted again into the new table


def test_the_log_cache_grows_by_new_votes_and_is_read_again_only_after_a_rebuild(
    store: Store,
) -> None:
    relax(store)
    slug = seed_arena(store, slug="grow", n_models=6).slug
    _noisy_votes(store, slug, 60, start=0)
    store.boards.history(arena=slug, name="model-0")
    arena_id = store.catalog.get_arena(slug=slug).id
    entry = store._context.vote_logs._logs[arena_id]
    _noisy_votes(store, slug, 45, start=200)  # past vote 100: the vote path's periodic snapshot
    _assert_last_points_are_live(store, slug)
    assert store._context.vote_logs._logs[arena_id] is entry and entry.n == 105
    store.boards.recompute(arena=slug)
    _assert_last_points_are_live(store, slug)
    assert store._context.vote_logs._logs[arena_id] is not entry


def test_a_cold_worker_reads_a_long_log_in_the_background_before_showing_movement(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    relax(store)
    store.settings = store.settings.model_copy(update={"movement_votes": 5})
    slug = seed_arena(store, slug="cold", n_models=6).slug
    _noisy_votes(store, slug, 30, start=0)
    expected = {r.model_name: r.movement for r in store.boards.leaderboard(arena=slug)}
    assert any(v is not None for v in expected.values())  # 30 votes: read at once
    monkeypatch.setattr("karena.store.history.COLD_READ_VOTES", 10)  # now 30 votes are "long"
    cold = Store.open(store.settings, clock=store.clock)  # a second worker, its cache empty
    try:
        assert all(r.movement is None for r in cold.boards.leaderboard(arena=slug))
        deadline = time.monotonic() + 30
        while not any(r.movement is not None for r in cold.boards.leaderboard(arena=slug)):
            assert time.monotonic() < deadline, "the background read did not finish"
            time.sleep(0.02)
        assert {r.model_name: r.movement for r in cold.boards.leaderboard(arena=slug)} == expected
    finally:
        cold.close()


def test_batch_points_are_fitted_again_when_their_settings_change(store: Store) -> None:
    relax(store)
    store.settings = store.settings.model_copy(update={"history_batch_points": 2})
    slug = seed_arena(store, slug="rounds", n_models=6).slug
    _noisy_votes(store, slug, 16, start=0)
    bare = _wait_for_batch(store, slug, "model-0")
    assert all(p.ci_low == p.mu == p.ci_high for p in bare.batch)
    store.settings = store.settings.model_copy(update={"history_batch_rounds": 5})
    booted = _wait_for_batch(store, slug, "model-0")
    assert [p.vote for p in booted.batch] == [p.vote for p in bare.batch] == [8, 16]
    assert all(p.ci_low < p.ci_high for p in booted.batch)  # bootstrapped this time


def test_a_large_point_is_fitted_alike_in_a_child_process(store: Store) -> None:
    """What the fitter does for points of CHILD_FIT_VOTES votes and more (the GIL stays free)."""
    relax(store)
    slug = seed_arena(store, slug="child", n_models=6).slug
    _noisy_votes(store, slug, 20, start=0)
    with store.db.read() as s:
        arena = find_arena(s, slug)
        cache = store._context.vote_logs
        with cache.lock(arena.id):
            log = cache.log(s, arena)
            job = BatchJob(arena.id, 20, "d", tuple(log.ids), log.models, log.ranks, 25 / 6, 0)
    assert fit_point_in_child(job) == fit_point(job)
    with pytest.raises(RuntimeError, match="InvalidInput"):  # rounds = 1 is refused, there
        fit_point_in_child(dataclasses.replace(job, rounds=1))
