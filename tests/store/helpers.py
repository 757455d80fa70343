"""Helpers of the store tests: relaxed abuse limits, and a peek at a battle's models."""

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
