"""Variant families in the store: parents, the model page's records and verdicts, paired mode."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from karena.errors import ConfigError, Conflict, InvalidInput, NotFound
from karena.rating.variants import head_to_head
from karena.store import Store
from karena.store.arena_cache import load_catalog, load_match_state
from tests.conftest import SeededArena, TestClock, seed_arena
from tests.store.helpers import downgrade, relax, shown_models


def _vote(store: Store, slug: str, seed: int, ranks: list[int] | None = None) -> list[str]:
    """Cast one vote; returns the contestants' names in rank order (best first)."""
    battle = store.battles.create_battle(arena=slug, seed=seed)
    result = store.voting.submit_vote(
        token=battle.token, mode="rank", ranks=ranks or [1, 2, 3, 4], voter_id=f"v{seed % 9}"
    )
    return [c.model_name for c in sorted(result.contestants, key=lambda c: c.rank)]


def test_a_model_declares_a_parent_in_its_arena(store: Store, seeded: SeededArena) -> None:
    slug = seeded.slug
    added = store.catalog.add_model(arena=slug, name="model-0-int4", parent="model-0")
    assert added.parent == "model-0"
    assert store.catalog.get_model(arena=slug, name="model-0-int4").parent == "model-0"
    listed = {m.name: m.parent for m in store.catalog.list_models(arena=slug)}
    assert listed["model-0-int4"] == "model-0" and listed["model-0"] is None
    moved = store.catalog.set_model_parent(arena=slug, name="model-0-int4", parent="model-1")
    assert moved.parent == "model-1"
    cleared = store.catalog.set_model_parent(arena=slug, name="model-0-int4", parent=None)
    assert cleared.parent is None


def test_families_stay_trees_within_one_arena(store: Store, seeded: SeededArena) -> None:
    slug = seeded.slug
    store.catalog.set_model_parent(arena=slug, name="model-1", parent="model-0")
    store.catalog.set_model_parent(arena=slug, name="model-2", parent="model-1")
    with pytest.raises(Conflict, match="cycle"):
        store.catalog.set_model_parent(arena=slug, name="model-0", parent="model-2")
    with pytest.raises(Conflict, match="cycle"):
        store.catalog.set_model_parent(arena=slug, name="model-3", parent="model-3")
    with pytest.raises(NotFound):
        store.catalog.set_model_parent(arena=slug, name="model-3", parent="no-such-model")
    other = seed_arena(store, slug="other", n_models=4, n_prompts=1)
    with pytest.raises(NotFound):  # a parent is looked up in the model's own arena
        store.catalog.set_model_parent(arena=other.slug, name="model-0", parent="model-9")
    with pytest.raises(NotFound):
        store.catalog.add_model(arena=slug, name="variant", parent="absent")
    assert store.catalog.get_model(arena=slug, name="model-0").parent is None


def test_model_page_shows_the_record_against_the_parent(store: Store, seeded: SeededArena) -> None:
    """The record is counted from the reveals: votes that showed both, from the variant's side."""
    relax(store)
    slug = seeded.slug
    store.catalog.set_model_parent(arena=slug, name="model-1", parent="model-0")
    wins = losses = 0
    for seed in range(40):
        order = _vote(store, slug, seed)
        if "model-0" in order and "model-1" in order:
            if order.index("model-1") < order.index("model-0"):
                wins += 1
            else:
                losses += 1
    assert wins + losses > 0
    page = store.boards.model_page(arena=slug, name="model-1")
    assert page.model.parent == "model-0"
    assert page.family is not None and page.family.parent is not None
    record = page.family.parent.record
    assert (record.wins, record.losses, record.ties) == (wins, losses, 0)
    assert record == head_to_head(wins, losses, 0, margin=store.settings.variant_margin)
    parent_page = store.boards.model_page(arena=slug, name="model-0")
    assert parent_page.family is not None and parent_page.family.parent is None
    (child,) = parent_page.family.variants
    assert child.variant == "model-1" and child.record == record
    assert store.boards.model_page(arena=slug, name="model-3").family is None


def test_paired_mode_seats_the_pair_until_the_verdict(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    """Every battle shows variant and parent until the verdict; then the matchmaker is free."""
    relax(store)
    slug = seeded.slug
    store.catalog.set_model_parent(arena=slug, name="model-5", parent="model-0")
    store.catalog.set_paired_share(arena=slug, share=1.0)
    assert store.catalog.get_arena(slug=slug).matchmaker_params["paired"] == 1.0
    for seed in range(200):
        battle = store.battles.create_battle(arena=slug, seed=seed)
        shown = shown_models(store, battle.token)
        assert {"model-0", "model-5"} <= set(shown), f"battle {seed} did not seat the pair"
        # The variant first, the parent last: a "better" verdict within a few dozen votes.
        ranks = [1 if m == "model-5" else 4 if m == "model-0" else 2 for m in shown]
        store.voting.submit_vote(
            token=battle.token, mode="rank", ranks=ranks, voter_id=f"v{seed % 9}"
        )
        page = store.boards.model_page(arena=slug, name="model-5")
        assert page.family is not None and page.family.parent is not None
        if page.family.parent.record.verdict != "undecided":
            break
    assert page.family.parent.record.verdict == "better"
    assert 10 < page.family.parent.record.comparisons < 100
    with store.db.read_conn() as conn:
        catalog = load_catalog(conn, store.catalog.get_arena(slug=slug).id)
        state = load_match_state(conn, catalog, clock())
    assert state.paired == ()  # decided: no longer waiting
    store.catalog.set_model_parent(arena=slug, name="model-4", parent="model-0")
    with store.db.read_conn() as conn:
        catalog = load_catalog(conn, store.catalog.get_arena(slug=slug).id)
        state = load_match_state(conn, catalog, clock())
    index = {m.name: j for j, m in enumerate(catalog.models)}
    assert state.paired == ((index["model-4"], index["model-0"]),)
    store.catalog.set_model_enabled(arena=slug, name="model-4", enabled=False)
    with store.db.read_conn() as conn:
        catalog = load_catalog(conn, store.catalog.get_arena(slug=slug).id)
        assert load_match_state(conn, catalog, clock()).paired == ()


def test_paired_share_off_and_bad_shares(store: Store, seeded: SeededArena) -> None:
    slug = seeded.slug
    store.catalog.set_paired_share(arena=slug, share=0.5)
    assert store.catalog.get_arena(slug=slug).matchmaker_params == {"paired": 0.5}
    store.catalog.set_paired_share(arena=slug, share=0)
    assert "paired" not in store.catalog.get_arena(slug=slug).matchmaker_params
    for bad in (1.5, -1, float("nan"), True):
        with pytest.raises(InvalidInput):
            store.catalog.set_paired_share(arena=slug, share=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        store.catalog.create_arena(slug="bad", matchmaker_params={"paired": 2})


def _row_counts(store: Store) -> dict[str, int]:
    tables = ("models", "outputs", "battles", "battle_slots", "votes", "ratings", "pair_counts")
    with store.db.read_conn() as conn:
        return {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in tables}


def test_migration_0006_loses_no_rows_either_way(store: Store, seeded: SeededArena) -> None:
    """Regression: a rebuild of ``models`` on SQLite cascade-deleted outputs, slots and ratings.

    Down to 0005 and up again keeps every row; the parents themselves do not survive a downgrade
    (PostgreSQL drops the column; SQLite, which cannot drop it, empties it).
    """
    relax(store)
    for seed in range(5):
        _vote(store, seeded.slug, seed)
    store.catalog.set_model_parent(arena=seeded.slug, name="model-1", parent="model-0")
    before = _row_counts(store)
    assert before["outputs"] > 0 and before["ratings"] > 0 and before["votes"] == 5
    downgrade(store, "0005")
    assert _row_counts(store) == before
    with store.db.read_conn() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("models")}
        indexes = {i["name"] for i in inspect(conn).get_indexes("models")}
        if "parent_id" in columns:
            assert store.db.is_sqlite
            assert conn.execute(text("SELECT COUNT(parent_id) FROM models")).scalar_one() == 0
    assert "ix_models_parent_id" not in indexes
    assert ("parent_id" in columns) == store.db.is_sqlite
    store.db.migrate()
    assert _row_counts(store) == before
    assert store.catalog.get_model(arena=seeded.slug, name="model-1").parent is None
    store.catalog.set_model_parent(arena=seeded.slug, name="model-1", parent="model-0")
    assert store.catalog.get_model(arena=seeded.slug, name="model-1").parent == "model-0"
