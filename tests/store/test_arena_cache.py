"""A worker's cached catalog follows catalog writes made by other workers (other Store objects)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from karena.settings import Settings
from karena.store import Store
from karena.store.arena_cache import ArenaCache
from tests.conftest import SeededArena, TestClock


@pytest.fixture
def other_worker(settings: Settings, clock: TestClock) -> Iterator[Store]:
    """A second Store on the same database: another worker with its own cache."""
    other = Store.open(settings, migrate=False, clock=clock)
    try:
        yield other
    finally:
        other.close()


def _shown_models(store: Store, arena: str, battles: int) -> set[str]:
    seen: set[str] = set()
    for _ in range(battles):
        battle = store.battles.create_battle(arena=arena)
        result = store.voting.submit_vote(token=battle.token, mode="tie", voter_id="cache-test")
        seen.update(c.model_name for c in result.contestants)
    return seen


def test_disabling_a_model_elsewhere_takes_effect_at_once(
    store: Store, seeded: SeededArena, other_worker: Store, clock: TestClock
) -> None:
    store.settings.min_vote_seconds = 0  # votes come right after their battle here
    store.settings.rate_limit_per_minute = 0
    store.battles.create_battle(arena=seeded.slug)  # warms this worker's catalog cache
    other_worker.catalog.set_model_enabled(arena=seeded.slug, name="model-0", enabled=False)
    other_worker.catalog.set_model_enabled(arena=seeded.slug, name="model-1", enabled=False)
    assert _shown_models(store, seeded.slug, 12) == {f"model-{i}" for i in range(2, 6)}


def test_a_model_added_elsewhere_is_served_at_once(
    store: Store, seeded: SeededArena, other_worker: Store, make_png: object
) -> None:
    store.settings.min_vote_seconds = 0
    store.settings.rate_limit_per_minute = 0
    store.battles.create_battle(arena=seeded.slug)  # warms this worker's catalog cache
    other_worker.catalog.add_model(arena=seeded.slug, name="late-model")
    for key in seeded.prompt_keys:
        other_worker.catalog.add_output(
            arena=seeded.slug,
            model="late-model",
            prompt_key=key,
            data=make_png((200, 10, 10)),  # type: ignore[operator]
        )
    for name in ("model-0", "model-1", "model-2"):
        other_worker.catalog.set_model_enabled(arena=seeded.slug, name=name, enabled=False)
    # K = 4 enabled models are left, the new one among them: every battle must show it.
    for _ in range(3):
        shown = _shown_models(store, seeded.slug, 1)
        cached = store._context.arena_cache.cached(seeded.slug)
        assert shown == {"late-model", "model-3", "model-4", "model-5"}, (
            shown,
            cached.version if cached else None,
            [m.name for m in cached.models] if cached else None,
        )


def test_catalog_versions_move_with_every_catalog_write(store: Store, seeded: SeededArena) -> None:
    from sqlalchemy import select

    from karena.store.models import Arena

    def version() -> int:
        with store.db.read() as s:
            return int(s.scalar(select(Arena.catalog_version).where(Arena.slug == seeded.slug)))

    before = version()
    store.catalog.add_prompt(arena=seeded.slug, text="a brand new prompt", key="p-new")
    after_prompt = version()
    store.catalog.set_model_enabled(arena=seeded.slug, name="model-2", enabled=False)
    after_disable = version()
    assert before < after_prompt < after_disable
    battle = store.battles.create_battle(
        arena=seeded.slug
    )  # battles and votes are not catalog writes
    store.settings.min_vote_seconds = 0
    store.voting.submit_vote(token=battle.token, mode="tie", voter_id="v")
    assert version() == after_disable


def test_match_state_is_reread_after_max_age(store: Store, seeded: SeededArena) -> None:
    now = [0.0]
    cache = ArenaCache(max_age=1.0, clock=lambda: now[0])
    with store.db.read_conn() as conn:
        catalog = cache.catalog(conn, seeded.slug)
    first = cache.match_state(store.db, catalog, store.clock())
    store.settings.min_vote_seconds = 0
    battle = store.battles.create_battle(arena=seeded.slug)
    store.voting.submit_vote(token=battle.token, mode="rank", ranks=[1, 2, 3, 4], voter_id="v")
    assert cache.match_state(store.db, catalog, store.clock()).ratings == first.ratings
    now[0] = 1.5
    assert cache.match_state(store.db, catalog, store.clock()).ratings != first.ratings


def test_every_store_hooks_its_catalog_writes(settings: Settings, clock: TestClock) -> None:
    """Regression: a store whose session class sat at a collected one's address was skipped
    (``event.contains`` keys by ``id()``), so its catalog writes moved no version."""
    import gc

    from karena.media.storage import MediaStore
    from karena.store.arena_cache import bump_catalog_versions
    from karena.store.db import Database

    media = MediaStore(settings.resolved_media_dir(), max_bytes=1024, image_size=16)
    for _ in range(50):
        db = Database.connect(settings.resolved_database_url())
        st = Store(settings, db, media, clock)
        with db.writes() as session:
            assert bump_catalog_versions in list(session.dispatch.before_flush)
        st.close()
        del st, db
        gc.collect()


def _vote_a_few(store: Store, slug: str, votes: int) -> None:
    store.settings.min_vote_seconds = 0
    store.settings.rate_limit_per_minute = 0
    for i in range(votes):
        battle = store.battles.create_battle(arena=slug, seed=i)
        store.voting.submit_vote(
            token=battle.token, mode="rank", ranks=[1, 2, 3, 4], voter_id=f"v{i}"
        )


def test_load_match_state_matches_the_rows(store: Store, seeded: SeededArena) -> None:
    """Ratings and sparse pair counts (with totals) read vectorised equal the stored rows."""
    import numpy as np
    from sqlalchemy import select

    from karena.matchmaking.base import RatingArrays
    from karena.matchmaking.pairs import SparsePairCounts
    from karena.store.arena_cache import load_match_state
    from karena.store.models import PairCount, RatingRow

    _vote_a_few(store, seeded.slug, 6)
    cache = ArenaCache(max_age=0.0)
    with store.db.read_conn() as conn:
        catalog = cache.catalog(conn, seeded.slug)
        state = load_match_state(conn, catalog, store.clock())
    n = len(catalog.models)
    expected = np.zeros((n, n), dtype=np.int64)
    with store.db.read() as s:
        for a, b, count in s.execute(
            select(PairCount.model_a, PairCount.model_b, PairCount.n).where(
                PairCount.arena_id == catalog.id
            )
        ):
            i, j = catalog.index[a], catalog.index[b]
            expected[i, j] = expected[j, i] = count
        rated = {
            m: (mu, sigma)
            for m, mu, sigma in s.execute(
                select(RatingRow.model_id, RatingRow.mu, RatingRow.sigma).where(
                    RatingRow.arena_id == catalog.id
                )
            )
        }
    assert expected.sum() > 0
    assert isinstance(state.pair_counts, SparsePairCounts)
    assert isinstance(state.ratings, RatingArrays)
    np.testing.assert_array_equal(state.pair_counts.to_dense()[0], expected)
    np.testing.assert_array_equal(state.pair_counts.totals[0], expected.sum(axis=1))
    assert int(state.pair_counts.total[0]) == expected.sum() // 2
    prior = catalog.prior()
    for j, model in enumerate(catalog.models):
        mu, sigma = rated.get(model.id, (prior.mu, prior.sigma))
        assert (state.mu[j], state.sigma[j]) == (mu, sigma)


def test_pair_counts_of_a_slow_read_are_reused_for_a_while(
    store: Store, seeded: SeededArena, monkeypatch: pytest.MonkeyPatch
) -> None:
    from karena.store import arena_cache

    now = [0.0]
    cache = ArenaCache(max_age=1.0, clock=lambda: now[0])
    with store.db.read_conn() as conn:
        catalog = cache.catalog(conn, seeded.slug)
    first = cache.match_state(store.db, catalog, store.clock())
    _vote_a_few(store, seeded.slug, 1)
    # As if the read were slow: the pair counts are kept, the ratings re-read.
    monkeypatch.setattr(arena_cache, "PAIR_RELOAD_FACTOR", 1e12)
    now[0] = 1.5
    second = cache.match_state(store.db, catalog, store.clock())
    assert second.pair_counts is first.pair_counts
    assert second.ratings != first.ratings
    monkeypatch.setattr(arena_cache, "PAIR_RELOAD_FACTOR", 0.0)
    now[0] = 3.0
    third = cache.match_state(store.db, catalog, store.clock())
    assert third.pair_counts is not first.pair_counts
    assert int(third.pair_counts.total[0]) == int(first.pair_counts.total[0]) + 6


def test_max_age_zero_rereads_pair_counts_every_time(
    store: Store, seeded: SeededArena, monkeypatch: pytest.MonkeyPatch
) -> None:
    from karena.store import arena_cache

    monkeypatch.setattr(arena_cache, "PAIR_RELOAD_FACTOR", 1e12)
    cache = ArenaCache(max_age=0.0)
    with store.db.read_conn() as conn:
        catalog = cache.catalog(conn, seeded.slug)
    first = cache.match_state(store.db, catalog, store.clock())
    _vote_a_few(store, seeded.slug, 1)
    second = cache.match_state(store.db, catalog, store.clock())
    assert int(second.pair_counts.total[0]) == int(first.pair_counts.total[0]) + 6
