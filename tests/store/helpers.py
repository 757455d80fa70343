"""Helpers of the store tests: relaxed abuse limits, a peek at a battle's models, and an Alembic
downgrade (to test a migration on the schema it upgrades)."""

from __future__ import annotations

from sqlalchemy import text

from karena.store import Store


def relax(store: Store) -> None:
    """No bot guard, rate limits or match-state reuse: votes as fast as a test casts them."""
    store.settings = store.settings.model_copy(
        update={
            "min_vote_seconds": 0.0,
            "rate_limit_per_minute": 0,
            "rate_limit_per_address_per_minute": 0,
            "match_state_max_age_seconds": 0.0,
        }
    )
    store._context.arena_cache._max_age = 0.0


def shown_models(store: Store, token: str) -> list[str]:
    """The battle's models in display order, read from the database (the test's peek)."""
    with store.db.read_conn() as conn:
        rows = conn.execute(
            text(
                "SELECT m.name FROM battle_slots s JOIN battles b ON b.id = s.battle_id "
                "JOIN models m ON m.id = s.model_id WHERE b.token = :t ORDER BY s.position"
            ),
            {"t": token},
        ).all()
    return [r[0] for r in rows]


def downgrade(store: Store, revision: str) -> None:
    """Run the shipped migrations down to ``revision`` on the store's database."""
    from pathlib import Path

    from alembic import command
    from alembic.config import Config

    import karena.store.db

    config = Config()
    migrations = Path(karena.store.db.__file__).parent / "migrations"
    config.set_main_option("script_location", str(migrations))
    with store.db.write_engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)
