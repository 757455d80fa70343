"""Multi-row INSERTs (and upserts) for the hot paths, built once per shape and dialect.

A vote writes K ratings, K(K−1)/2 pair counts and, when its battle opened, K slots. psycopg's
``executemany`` sends those through its pipeline machinery, which cost more CPU than the rows
themselves; one ``INSERT … VALUES (…), (…)`` with numbered parameters is one statement, one round
trip, and compiles once per (table, columns, row count).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection, bindparam
from sqlalchemy.dialects import postgresql, sqlite

from karena.store.models import Base

__all__ = ["insert_rows"]

#: What a conflicting row does, per table: update the rating, count one more meeting, or fail.
_ON_CONFLICT = {
    "ratings": (("arena_id", "model_id"), "replace"),
    "pair_counts": (("arena_id", "model_a", "model_b"), "increment"),
}


@cache
def _statement(dialect: str, table_name: str, columns: tuple[str, ...], n: int) -> Any:
    table = Base.metadata.tables[table_name]
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table).values(
        [{c: bindparam(f"r{i}_{c}", type_=table.c[c].type) for c in columns} for i in range(n)]
    )
    if table_name not in _ON_CONFLICT:
        return stmt
    keys, action = _ON_CONFLICT[table_name]
    if action == "increment":
        return stmt.on_conflict_do_update(index_elements=list(keys), set_={"n": table.c.n + 1})
    updated = {c: stmt.excluded[c] for c in columns if c not in keys}
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=updated)


def insert_rows(conn: Connection, table_name: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (all with the same keys) in one statement; ratings and pair counts upsert.

    A conflicting rating row takes the new values; a conflicting pair count goes up by one.
    """
    if not rows:
        return
    columns = tuple(rows[0])
    params = {f"r{i}_{c}": row[c] for i, row in enumerate(rows) for c in columns}
    conn.execute(_statement(conn.dialect.name, table_name, columns, len(rows)), params)
