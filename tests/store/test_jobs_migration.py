"""The generation-jobs migration: two new tables, down and up again without losing a row."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

import karena.store.db
from karena.store import Store
from tests.conftest import SeededArena
from tests.store.helpers import downgrade

TABLES = ("arenas", "models", "prompts", "outputs", "battles", "battle_slots", "ratings")


def _jobs_revision() -> tuple[str, str]:
    """(the revision that adds generation_jobs, the one before it), found by its file."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option(
        "script_location", str(Path(karena.store.db.__file__).parent / "migrations")
    )
    for script in ScriptDirectory.from_config(config).walk_revisions():
        if script.path.endswith("_generation_jobs.py"):
            assert isinstance(script.down_revision, str)
            return script.revision, script.down_revision
    raise AssertionError("no generation_jobs migration")


def _counts(store: Store) -> dict[str, int]:
    with store.db.read_conn() as conn:
        return {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in TABLES}


def test_down_and_up_again_keeps_every_row(store: Store, seeded: SeededArena) -> None:
    store.battles.create_battle(arena=seeded.slug, seed=1)
    ids = [m.id for m in store.catalog.list_models(arena=seeded.slug)][:4]
    prompt = store.catalog.add_prompt(arena=seeded.slug, text="a new prompt")
    store.jobs.enqueue_battle(arena=seeded.slug, prompt_id=prompt.id, model_ids=ids, missing=ids)
    before = _counts(store)
    _, previous = _jobs_revision()
    downgrade(store, previous)
    with store.db.read_conn() as conn:
        tables = set(inspect(conn).get_table_names())
    assert "generation_jobs" not in tables and "pending_battles" not in tables
    assert _counts(store) == before
    store.db.migrate()
    assert _counts(store) == before
    assert store.jobs.counts().queued == 0  # the queue itself did not survive the downgrade
    with store.db.read_conn() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM pending_battles")).scalar_one() == 0
    store.jobs.enqueue_battle(arena=seeded.slug, prompt_id=prompt.id, model_ids=ids, missing=ids)
    assert store.jobs.counts().queued == 4
