"""Fresh, isolated databases for server subprocesses: a SQLite file, or a new PostgreSQL database.

A server subprocess cannot share a test transaction, so each reliability test gets a database of its
own and drops it afterwards.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

POSTGRES_ENV = "KARENA_TEST_POSTGRES_URL"


def postgres_admin_url() -> str | None:
    """The PostgreSQL URL from the environment, or None when PostgreSQL tests should skip."""
    url = os.environ.get(POSTGRES_ENV)
    return url if url else None


def _with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` instead."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def _libpq_url(url: str) -> str:
    """A URL psycopg accepts: SQLAlchemy's ``+driver`` suffix removed."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, parts.fragment))


@contextlib.contextmanager
def fresh_postgres_database(admin_url: str, prefix: str = "karena_rel") -> Iterator[str]:
    """Create an empty database beside ``admin_url``'s; yield its URL; drop it afterwards."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq_url(admin_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(admin_url, name)
    finally:
        with psycopg.connect(_libpq_url(admin_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sqlite_url(path: Path) -> str:
    """A SQLAlchemy URL for a SQLite file at ``path``."""
    return f"sqlite:///{path}"


@contextlib.contextmanager
def fresh_database(kind: str, tmp_dir: Path) -> Iterator[str]:
    """A fresh database URL of ``kind`` ('sqlite' or 'postgres')."""
    if kind == "sqlite":
        yield sqlite_url(tmp_dir / "karena.db")
        return
    admin = postgres_admin_url()
    if admin is None:
        raise RuntimeError(f"{POSTGRES_ENV} is not set")
    with fresh_postgres_database(admin) as url:
        yield url
