"""Which errors are outages (503 + Retry-After) and which are bugs (500): R-OUTAGE-10.

The classifier meets real errors from real SQLite connections; the end-to-end cases (a locked
SQLite, PostgreSQL away and back) are in tests/reliability/test_outages.py.
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from karena.web.errors import outage_message


def _error(tmp_path: Path, *statements: str) -> SQLAlchemyError:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}", connect_args={"timeout": 0.1})
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    except SQLAlchemyError as exc:
        return exc
    finally:
        engine.dispose()
    raise AssertionError("no error")


def test_a_full_database_is_an_outage(tmp_path: Path) -> None:
    """SQLite's real 'database or disk is full' (a page cap stands in for the disk)."""
    exc = _error(
        tmp_path,
        "PRAGMA max_page_count = 3",
        "CREATE TABLE t (x BLOB)",
        "INSERT INTO t VALUES (randomblob(100000))",
    )
    assert outage_message(exc) == "the database's disk is full; try again later"


def test_a_locked_database_is_an_outage(tmp_path: Path) -> None:
    import sqlite3

    holder = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        exc = _error(tmp_path, "INSERT INTO t VALUES (1)")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "locked" in (outage_message(exc) or "")


def test_a_missing_database_folder_is_an_outage(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'gone' / 'x.db'}")
    with pytest.raises(SQLAlchemyError) as info, engine.connect():
        pass
    assert outage_message(info.value) == "the database is unreachable; try again shortly"


def test_bugs_stay_500(tmp_path: Path) -> None:
    """A constraint violation or SQL error is ours to fix, not the client's to retry."""
    integrity = _error(
        tmp_path,
        "CREATE TABLE u (x UNIQUE)",
        "INSERT INTO u VALUES (1)",
        "INSERT INTO u VALUES (1)",
    )
    assert outage_message(integrity) is None
    assert outage_message(ValueError("x")) is None
    assert outage_message(OSError(errno.ENOENT, "gone")) is None
    assert outage_message(OSError(errno.ENOSPC, "No space left on device")) is not None
