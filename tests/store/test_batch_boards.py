"""The stored batch board: fitted from the counted votes, throttled, claimed, per category."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import numpy as np
import pytest

from karena.errors import NotFound
from karena.rating.batch_board import fit_batch_board
from karena.store import Store
from karena.store.batch_boards import OVERALL, board_votes, claim_arena
from karena.store.models import BatchBoardRow
from karena.store.voter_reliability import counted_votes
from tests.conftest import TestClock, png_bytes
from tests.store.helpers import downgrade, relax, shown_models

MODELS = 6


def _arena(store: Store, slug: str = "cats") -> str:
    """6 models; prompts in two categories ("animals", "cities") and one uncategorised."""
    relax(store)
    store.catalog.create_arena(slug=slug, k=4)
    for i in range(MODELS):
        store.catalog.add_model(arena=slug, name=f"model-{i}", organization="org")
    prompts = {"a1": "animals", "a2": "animals", "c1": "cities", "u1": ""}
    for j, (key, category) in enumerate(prompts.items()):
        store.catalog.add_prompt(arena=slug, text=f"prompt {key}", key=key, category=category)
        for i in range(MODELS):
            data = png_bytes((40 * i % 256, 30 * j % 256, 9))
            store.catalog.add_output(arena=slug, model=f"model-{i}", prompt_key=key, data=data)
    return slug


def _vote(store: Store, slug: str, seed: int) -> None:
    """model-0 best … model-5 worst, always (a clear truth)."""
    battle = store.battles.create_battle(arena=slug, seed=seed)
    shown = shown_models(store, battle.token)
    order = np.argsort([int(m.split("-")[1]) for m in shown])
    ranks = [0] * len(shown)
    for place, i in enumerate(order, start=1):
        ranks[int(i)] = place
    store.voting.submit_vote(token=battle.token, mode="rank", ranks=ranks, voter_id=f"v{seed}")


def test_no_board_before_a_fit_then_the_fit_of_every_counted_vote(store: Store) -> None:
    slug = _arena(store)
    empty = store.boards.batch_board(arena=slug)
    assert (
        empty.rows == ()
        and empty.fitted_at is None
        and empty.categories
        == (
            "animals",
            "cities",
        )
    )
    for seed in range(40):
        _vote(store, slug, seed)
    done = store.boards.refresh_batch_board(arena=slug)
    assert done.fitted and done.votes == 40 and set(done.categories) <= {"animals", "cities"}
    board = store.boards.batch_board(arena=slug)
    assert board.votes == 40 and board.votes_since == 0 and board.fitted_at == store.clock()
    assert [r.model_name for r in board.rows] == [f"model-{i}" for i in range(MODELS)]
    assert all(r.ci_low < r.mu < r.ci_high and r.rank_ub is not None for r in board.rows)
    assert board.rows[0].organization == "org" and board.rounds == 100
    # the same fit as the core's, on the same votes: the store adds nothing to the maths
    with store.db.read_conn() as conn:
        arena_id = store.catalog.get_arena(slug=slug).id
        votes, _ = counted_votes(conn, arena_id)
    names = {m.id: m.name for m in store.catalog.list_models(arena=slug)}
    core = fit_batch_board(votes, models=sorted(names), names=names)
    assert [(r.model_name, r.mu, r.ci_low, r.rank_ub) for r in core.rows] == [
        (r.model_name, r.mu, r.ci_low, r.rank_ub) for r in board.rows
    ]


def test_the_refresher_is_throttled_by_new_votes_and_time(store: Store, clock: TestClock) -> None:
    slug = _arena(store)
    store.settings = store.settings.model_copy(
        update={"batch_board_min_new_votes": 10, "batch_board_min_interval_seconds": 60}
    )
    assert store.boards.refresh_due_batch_boards() == ()  # no votes: nothing to fit
    _vote(store, slug, 0)
    first = store.boards.refresh_due_batch_boards()  # the first vote makes the first board
    assert [r.arena_slug for r in first] == [slug] and first[0].votes == 1
    for seed in range(1, 10):
        _vote(store, slug, seed)
    clock.advance(120)
    assert store.boards.refresh_due_batch_boards() == ()  # 9 new votes < 10
    _vote(store, slug, 10)
    clock.advance(-90)  # 10 new votes, but only 30 s since the fit
    assert store.boards.refresh_due_batch_boards() == ()
    assert not store.boards.refresh_batch_board(arena=slug, force=False).fitted
    assert store.boards.batch_board(arena=slug).votes_since == 10
    clock.advance(30)
    (done,) = store.boards.refresh_due_batch_boards()
    assert done.fitted and done.votes == 11
    assert store.boards.batch_board(arena=slug).votes_since == 0


def test_one_claim_at_a_time_and_a_stale_claim_is_taken_over(
    store: Store, clock: TestClock
) -> None:
    slug = _arena(store)
    _vote(store, slug, 0)
    arena_id = store.catalog.get_arena(slug=slug).id
    now = clock()
    stale = now - timedelta(seconds=600)
    with store.db.write_conn() as conn:
        assert claim_arena(conn, arena_id, now=now, stale_before=stale)
    with store.db.write_conn() as conn:  # a second worker: refused
        assert not claim_arena(conn, arena_id, now=now, stale_before=stale)
    assert store.boards.batch_board(arena=slug).fitting
    refused = store.boards.refresh_batch_board(arena=slug)
    assert not refused.fitted and "another worker" in refused.reason
    clock.advance(601)  # the claimer died: its claim goes stale and is taken over
    assert not store.boards.batch_board(arena=slug).fitting
    assert store.boards.refresh_batch_board(arena=slug).fitted
    with store.db.read() as s:  # the fit drops its claim
        row = s.get(BatchBoardRow, (arena_id, OVERALL))
        assert row is not None and row.fitting_since is None


def test_category_boards_fit_only_their_votes(store: Store) -> None:
    slug = _arena(store)
    for seed in range(60):
        _vote(store, slug, seed)
    store.boards.refresh_batch_board(arena=slug)
    arena_id = store.catalog.get_arena(slug=slug).id
    with store.db.read_conn() as conn:
        _, _, categories = board_votes(conn, arena_id)
    overall = store.boards.batch_board(arena=slug)
    for category in ("animals", "cities"):
        board = store.boards.batch_board(arena=slug, category=category)
        assert board.category == category and board.votes == categories.count(category) > 0
        assert board.votes < overall.votes and board.fitted_at == overall.fitted_at
        assert all(r.rank_ub is not None and r.ci_low < r.ci_high for r in board.rows)
        # a clear truth: every category ranks its models in the true order
        ranked = [int(r.model_name.split("-")[1]) for r in board.rows]
        assert ranked == sorted(ranked)
    with pytest.raises(NotFound, match="no prompts in category 'sports'"):
        store.boards.batch_board(arena=slug, category="sports")


def test_a_vote_never_waits_for_a_fit(store: Store) -> None:
    """Votes go through while another thread fits the batch board (no lock is shared)."""
    slug = _arena(store)
    for seed in range(60):
        _vote(store, slug, seed)
    store.settings = store.settings.model_copy(update={"batch_board_rounds": 3000})
    fitting = threading.Thread(target=store.boards.refresh_batch_board, kwargs={"arena": slug})
    fitting.start()
    deadline = time.monotonic() + 30
    while not store.boards.batch_board(arena=slug).fitting and time.monotonic() < deadline:
        time.sleep(0.01)
    latencies, seed = [], 1000
    while fitting.is_alive() and len(latencies) < 5 and time.monotonic() < deadline:
        started = time.perf_counter()
        _vote(store, slug, seed)
        latencies.append(time.perf_counter() - started)
        seed += 1
    voted_during_fit = fitting.is_alive()
    fitting.join(120)
    assert voted_during_fit and len(latencies) == 5, "the fit ended before 5 votes went in"
    assert max(latencies) < 2.0
    board = store.boards.batch_board(arena=slug)
    assert board.votes >= 60 and board.votes_since >= 1  # votes cast during the fit are next


def test_migration_0007_down_and_up(store: Store) -> None:
    slug = _arena(store)
    _vote(store, slug, 0)
    store.boards.refresh_batch_board(arena=slug)
    downgrade(store, "0006")
    with store.db.read_conn() as conn:
        names = conn.dialect.get_table_names(conn)
    assert "batch_boards" not in names
    store.db.migrate()
    assert store.boards.batch_board(arena=slug).rows == ()
    assert store.boards.refresh_batch_board(arena=slug).fitted


def test_two_workers_on_one_database_never_fit_an_arena_at_once(
    store: Store, clock: TestClock
) -> None:
    """A second Store (its own engine, as another worker has) is refused while the first fits."""
    slug = _arena(store)
    for seed in range(60):
        _vote(store, slug, seed)
    store.settings = store.settings.model_copy(update={"batch_board_rounds": 3000})
    other = Store.open(store.settings, clock=clock)
    try:
        first = threading.Thread(target=store.boards.refresh_batch_board, kwargs={"arena": slug})
        first.start()
        deadline = time.monotonic() + 30
        while not other.boards.batch_board(arena=slug).fitting and time.monotonic() < deadline:
            time.sleep(0.01)
        second = other.boards.refresh_batch_board(arena=slug)
        both_ran = first.is_alive()
        first.join(120)
        assert both_ran and not second.fitted and "another worker" in second.reason
        assert other.boards.refresh_due_batch_boards() == ()  # fitted, nothing new: not due
        assert other.boards.batch_board(arena=slug).votes == 60
    finally:
        other.close()


def test_a_category_without_votes_shows_when_it_was_last_looked_at(store: Store) -> None:
    slug = _arena(store)
    for seed in range(10):
        _vote(store, slug, seed)
    store.catalog.add_prompt(arena=slug, text="a quiet prompt", key="q1", category="quiet")
    store.boards.refresh_batch_board(arena=slug)
    quiet = store.boards.batch_board(arena=slug, category="quiet")
    overall = store.boards.batch_board(arena=slug)
    assert quiet.rows == () and quiet.votes == 0 and "quiet" in quiet.categories
    assert quiet.fitted_at == overall.fitted_at is not None and quiet.votes_since == 0
