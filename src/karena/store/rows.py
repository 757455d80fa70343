"""Multi-row INSERTs (and upserts) for the hot paths, built once per shape and dialect.

A vote writes K ratings, K(K−1)/2 pair counts and, when its battle opened, K slots. psycopg's
``executemany`` sends those through its pipeline machinery, which cost more CPU than the rows
themselves; one ``INSERT … VALUES (…), (…)`` with numbered parameters is one statement and
one round trip.
SQLAlchemy cannot cache multi-row VALUES (it compiled them on every call, a third of a vote's
CPU), so each shape (dialect, table, columns, row count) is compiled here once, with its
columns' bind processors, and sent as driver SQL; the most recent shapes stay cached.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from karena.store.models import Base

__all__ = ["insert_rows"]

#: What a conflicting row does, per table: update the rating, count one more meeting, or fail.
_ON_CONFLICT = {
    "ratings": (("arena_id", "model_id"), "replace"),
    "pair_counts": (("arena_id", "model_a", "model_b"), "increment"),
}


@lru_cache(maxsize=1024)
def _statement(dialect: Dialect, table_name: str, columns: tuple[str, ...], n: int) -> _Rendered:
    table = Base.metadata.tables[table_name]
    insert: Any = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    stmt = insert(table).values(
        [{c: bindparam(f"r{i}_{c}", type_=table.c[c].type) for c in columns} for i in range(n)]
    )
    if table_name in _ON_CONFLICT:
        keys, action = _ON_CONFLICT[table_name]
        if action == "increment":
            set_: dict[str, Any] = {"n": table.c.n + stmt.excluded.n}
        else:
            set_ = {c: stmt.excluded[c] for c in columns if c not in keys}
        stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_=set_)
    compiled: Any = stmt.compile(dialect=dialect)
    # The dialect's own implementation of each type (e.g. psycopg's JSON adapter), as execute
    # would use it.
    processors: dict[str, Callable[[Any], Any] | None] = {
        c: table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns
    }
    order = tuple(compiled.positiontup) if dialect.positional else None
    return _Rendered(compiled.string, order, processors)


class _Rendered(NamedTuple):
    """SQL text compiled once, the order of its parameters (qmark) and each column's processor."""

    sql: str
    order: tuple[str, ...] | None
    processors: dict[str, Callable[[Any], Any] | None]


def insert_rows(conn: Connection, table_name: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (all with the same keys) in one statement; ratings and pair counts upsert.

    A conflicting rating row takes the new values; a conflicting pair count adds the new ``n``.
    """
    if not rows:
        return
    columns = tuple(rows[0])
    rendered = _statement(conn.dialect, table_name, columns, len(rows))
    params: dict[str, Any] = {}
    for c in columns:
        process = rendered.processors[c]
        for i, row in enumerate(rows):
            params[f"r{i}_{c}"] = process(row[c]) if process is not None else row[c]
    if rendered.order is None:
        conn.exec_driver_sql(rendered.sql, params)
    else:
        conn.exec_driver_sql(rendered.sql, tuple(params[name] for name in rendered.order))
