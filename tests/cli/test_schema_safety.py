"""Finding 14.4: a command that only reads (or edits an existing arena) never creates a database
or a schema. Only ``karena migrate`` does, and ``serve``/``demo`` on an empty database, saying so.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from karena.store.db import head_revision
from tests.cli.conftest import Karena
from tests.conftest import POSTGRES_ENV, _psycopg_dsn, postgres_schema_url
from tests.web.server import KarenaServer

#: Commands that must find an existing, migrated database (arguments after the command).
NEEDS_A_SCHEMA = [
    ("arena", "list"),
    ("arena", "add", "t2i"),
    ("leaderboard", "--arena", "t2i"),
    ("recompute",),
    ("model", "add", "t2i", "m"),
    ("prompt", "add", "t2i", "a red cube"),
    ("voter", "unban", "0" * 64),
    ("export", "--arena", "t2i", "-o", "votes.jsonl"),
]


def _tables(url: str) -> list[str]:
    import psycopg

    with psycopg.connect(_psycopg_dsn(url)) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()
    return [r[0] for r in rows]


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """The URL of an empty PostgreSQL schema (dropped afterwards)."""
    admin = os.environ.get(POSTGRES_ENV)
    if not admin:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    import psycopg

    schema = f"karena_cli_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_psycopg_dsn(admin), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield postgres_schema_url(admin, schema)
    finally:
        with psycopg.connect(_psycopg_dsn(admin), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.parametrize("args", NEEDS_A_SCHEMA, ids=" ".join)
def test_sqlite_in_a_missing_folder_is_not_created(
    karena: Karena, tmp_path: Path, args: tuple[str, ...]
) -> None:
    """``sqlite:////nonexistent/dir/k.db`` silently created the folder and an empty database."""
    folder = tmp_path / "typo" / "dir"
    ran = karena(*args, KARENA_DATABASE_URL=f"sqlite:///{folder / 'k.db'}")
    ran.assert_one_error_line(f"no database file at {folder / 'k.db'}", "karena migrate")
    assert not (tmp_path / "typo").exists()


def test_sqlite_file_is_not_created_beside_it(karena: Karena, tmp_path: Path) -> None:
    ran = karena("arena", "list", KARENA_DATABASE_URL=f"sqlite:///{tmp_path / 'k.db'}")
    ran.assert_one_error_line("no database file", "karena migrate")
    assert list(tmp_path.iterdir()) == []


def test_an_empty_sqlite_file_has_no_schema(karena: Karena, tmp_path: Path) -> None:
    (tmp_path / "k.db").write_bytes(b"")
    ran = karena("arena", "list", KARENA_DATABASE_URL=f"sqlite:///{tmp_path / 'k.db'}")
    ran.assert_one_error_line("has no karena schema", "karena migrate")
    assert (tmp_path / "k.db").stat().st_size == 0


@pytest.mark.postgres
@pytest.mark.parametrize("args", NEEDS_A_SCHEMA[:3], ids=" ".join)
def test_postgres_without_schema_gets_no_tables(
    karena: Karena, empty_postgres: str, args: tuple[str, ...]
) -> None:
    """``arena list --database-url postgresql:///`` created karena's 12 tables, silently."""
    ran = karena(*args, "--database-url", empty_postgres)
    ran.assert_one_error_line("has no karena schema", "karena migrate")
    assert _tables(empty_postgres) == []


@pytest.mark.postgres
def test_migrate_creates_the_schema_and_says_so(karena: Karena, empty_postgres: str) -> None:
    ran = karena("migrate", "--database-url", empty_postgres)
    assert ran.code == 0 and "created the karena schema" in ran.out
    assert "schema at revision" in ran.out and "(was empty)" in ran.out
    assert "alembic_version" in _tables(empty_postgres)
    assert karena("arena", "list", "--database-url", empty_postgres).code == 0
    again = karena("migrate", "--database-url", empty_postgres)
    assert "created" not in again.out and "was 0" in again.out


def test_migrate_makes_a_sqlite_file_and_its_folder(karena: Karena, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'k.db'}"
    ran = karena("migrate", KARENA_DATABASE_URL=url)
    assert ran.code == 0 and f"created the karena schema in {url}" in ran.out
    assert (tmp_path / "new" / "k.db").is_file()


def test_an_older_schema_is_refused_until_migrated(karena: Karena, tmp_path: Path) -> None:
    """A read on a database at an older revision says to run ``karena migrate``."""
    from alembic import command

    from karena.store.db import Database, _alembic_config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    db = Database.connect(url)
    cfg = _alembic_config()
    with db.write_engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    db.dispose()
    ran = karena("arena", "list", KARENA_DATABASE_URL=url)
    ran.assert_one_error_line(
        "at schema revision 0001", f"needs {head_revision()}", "karena migrate"
    )
    assert karena("migrate", KARENA_DATABASE_URL=url).code == 0
    assert karena("arena", "list", KARENA_DATABASE_URL=url).code == 0


def test_serve_creates_the_schema_of_an_empty_database_and_says_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'served.db'}"
    with KarenaServer(database_url=url, data_dir=tmp_path) as server:
        log = server.log_path.read_text()
    assert f"karena: created the karena schema (revision {head_revision()}) in {url}" in log
