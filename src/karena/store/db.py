"""Engines and transactions for SQLite (WAL, one writer) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from karena.errors import ConfigError

__all__ = ["Database", "SchemaStatus", "display_url", "head_revision", "normalise_url"]

#: How long an SQLite writer waits for the lock before giving up (seconds).
SQLITE_BUSY_TIMEOUT_S = 30.0
#: Advisory-lock key that serialises concurrent migrations on PostgreSQL ("karena" in ASCII).
MIGRATION_LOCK_KEY = 0x6B6172656E61
#: A pooled PostgreSQL connection idle longer than this is pinged before use (seconds).
IDLE_PING_S = 5.0


def _shown(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:  # not a URL at all: nothing in it parses as a password
        return url


def normalise_url(url: str) -> str:
    """Map ``postgres://`` and ``postgresql://`` to the psycopg 3 driver; leave others alone."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if not (url.startswith("sqlite") or url.startswith("postgresql+psycopg")):
        raise ConfigError(
            f"unsupported database URL {_shown(url)!r} "
            "(KARENA_DATABASE_URL or --database-url): use sqlite:///path or "
            "postgresql://user@host/db",
        )
    return url


def display_url(url: str) -> str:
    """``url`` as it may be shown to a user: the password masked, the driver name as given."""
    return make_url(url).render_as_string(hide_password=True).replace("+psycopg", "")


@dataclass(frozen=True)
class SchemaStatus:
    """Where a database's schema stands: its revision (None: no karena schema) and the latest."""

    current: str | None
    head: str
    known: bool

    @property
    def ok(self) -> bool:
        """True when the schema is karena's latest."""
        return self.current == self.head

    def problem(self, where: str) -> str:
        """What is wrong, as one line that says what to run; "" when nothing is."""
        if self.current is None:
            return f"{where} has no karena schema; create it with `karena migrate`"
        if not self.known:
            return (
                f"{where} is at schema revision {self.current}, which this karena does not "
                f"know (a newer karena made it; this one needs {self.head}): upgrade karena"
            )
        if self.current != self.head:
            return (
                f"{where} is at schema revision {self.current}, this karena needs {self.head}; "
                "upgrade it with `karena migrate`"
            )
        return ""


@contextmanager
def _reported(url: str) -> Iterator[None]:
    """A database that cannot be reached becomes one ConfigError line naming the URL setting."""
    try:
        yield
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        raise ConfigError(
            f"cannot use the database {display_url(url)} (KARENA_DATABASE_URL or "
            f"--database-url): {reason}"
        ) from None


def _sqlite_on_connect(busy_timeout_s: float, dbapi_conn: Any, _record: Any) -> None:
    # Take transaction control away from pysqlite so that we can say BEGIN IMMEDIATE ourselves.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
    cur.execute("PRAGMA foreign_keys=ON")
    # NORMAL in WAL mode survives any process crash; only an OS crash can drop the last commits.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _note_checkin(_dbapi_conn: Any, record: Any) -> None:
    record.info["karena_idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
    """Check a pooled connection that sat idle, so a restarted server costs no request.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: a round trip per transaction on the
    hot paths. A connection in steady use has just proved itself; only one idle for longer than
    ``IDLE_PING_S`` is checked. A dead one is replaced (the pool retries the checkout).
    """
    since = record.info.get("karena_idle_since")
    if since is None or time.monotonic() - since < IDLE_PING_S:
        return
    try:
        with dbapi_conn.cursor() as cursor:
            cursor.execute("SELECT 1")
        dbapi_conn.rollback()
    except Exception as exc:
        raise DisconnectionError(f"pooled connection is dead: {exc}") from exc


def _sqlite_on_begin(conn: Any) -> None:
    # Writers take the single write lock up front, so a read-then-write never deadlocks.
    mode = "IMMEDIATE" if conn.get_execution_options().get("karena_write") else "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")


def _sqlite_revision(path: Path) -> str | None:
    """The Alembic revision of a SQLite file, read through a read-only connection.

    The engine's connect hook switches a file to WAL mode, which writes to it: a check that
    must leave an empty or foreign file as it found it reads without the engine.
    """
    import sqlite3

    try:
        with contextlib.closing(
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        ) as conn:
            found = conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
            ).fetchone()
            if found is None:
                return None
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise ConfigError(
            f"cannot read {path} as a SQLite database (KARENA_DATABASE_URL or "
            f"--database-url): {exc}"
        ) from None
    return None if row is None else str(row[0])


def _alembic_config() -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return cfg


def head_revision() -> str:
    """The latest schema revision this karena ships."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return str(head)


@dataclass
class Database:
    """An engine plus read and write session factories for one database URL."""

    url: str
    engine: Engine
    read_engine: Engine
    write_engine: Engine
    reads: sessionmaker[Session]
    writes: sessionmaker[Session]
    # SQLite: this process's writers queue here, so they hand the database's write lock over
    # at once instead of polling for it (SQLite's busy handler sleeps up to 100 ms per try).
    # Whether the Store has hooked its catalog-version bump onto ``writes`` (once per Database).
    catalog_hooked: bool = False
    write_lock: contextlib.AbstractContextManager[Any] = field(
        default_factory=contextlib.nullcontext
    )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @classmethod
    def connect(cls, url: str, *, timeout_s: float = SQLITE_BUSY_TIMEOUT_S) -> Database:
        """Create the engine for ``url`` (after :func:`normalise_url`); nothing is connected yet.

        Creating nothing is the point: only :meth:`migrate` makes a SQLite file (and its folder)
        or a schema, so a command that reads never leaves one behind after a typo in a URL.
        ``timeout_s`` is how long a SQLite writer waits for the lock, and how long PostgreSQL
        may take to accept a connection, before the call fails (KARENA_DATABASE_TIMEOUT_SECONDS).
        """
        url = normalise_url(url)
        if url.startswith("sqlite"):
            engine = create_engine(
                url,
                connect_args={"timeout": timeout_s, "check_same_thread": False},
            )
            event.listen(engine, "connect", functools.partial(_sqlite_on_connect, timeout_s))
            event.listen(engine, "begin", _sqlite_on_begin)
            read_engine = engine
        else:
            engine = create_engine(
                url,
                pool_size=10,
                max_overflow=20,
                pool_timeout=timeout_s,
                connect_args={"connect_timeout": max(1, round(timeout_s))},
            )
            event.listen(engine, "checkin", _note_checkin)
            event.listen(engine, "checkout", _ping_if_idle)
            # Reads that need no snapshot spare the BEGIN and COMMIT round trips.
            read_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        write_engine = engine.execution_options(karena_write=True)
        return cls(
            url=url,
            engine=engine,
            read_engine=read_engine,
            write_engine=write_engine,
            reads=sessionmaker(bind=engine, expire_on_commit=False),
            writes=sessionmaker(bind=write_engine, expire_on_commit=False),
            write_lock=threading.RLock()
            if engine.dialect.name == "sqlite"
            else contextlib.nullcontext(),
        )

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read unit of work (DEFERRED on SQLite, so readers never wait for the writer)."""
        with self.reads() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write unit of work: committed on success, rolled back on any exception."""
        with self.write_lock, self.writes() as session, session.begin():
            yield session

    @contextmanager
    def read_conn(self) -> Iterator[Connection]:
        """Reads on a bare Core connection: DEFERRED on SQLite, autocommit on PostgreSQL.

        Each statement sees the latest commits; nothing here needs one snapshot across them.
        """
        with self.read_engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def autocommit_conn(self) -> Iterator[Connection]:
        """PostgreSQL: a connection on which every statement is its own, committed transaction."""
        if not self.is_postgres:
            raise ConfigError("autocommit connections are used on PostgreSQL only")
        with self.read_engine.connect() as conn:
            yield conn

    @contextmanager
    def write_conn(self) -> Iterator[Connection]:
        """A write transaction on a bare Core connection, for the hot paths (battles, votes).

        No ORM session: its unit of work and identity map cost more CPU than the few
        statements these paths send. Committed on success, rolled back on any exception.
        """
        with self.write_lock, self.write_engine.begin() as conn:
            yield conn

    @property
    def sqlite_path(self) -> Path | None:
        """The file of a SQLite database (None for PostgreSQL and in-memory SQLite)."""
        if not self.is_sqlite:
            return None
        name = make_url(self.url).database
        if not name or name == ":memory:" or name.startswith("file:"):
            return None
        return Path(name).expanduser()

    def migrate(self) -> tuple[str | None, str]:
        """Create or upgrade the schema to the latest Alembic revision; (before, after).

        Safe to call from many workers (an advisory lock on PostgreSQL, the write lock on
        SQLite). On SQLite this creates the database file and its folder when they are missing.
        """
        from alembic import command

        path = self.sqlite_path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        cfg = _alembic_config()
        with _reported(self.url):
            before = self.current_revision()
            with self.write_engine.begin() as conn:
                if self.is_postgres:
                    conn.execute(
                        text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY}
                    )
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
            after = self.current_revision()
        assert after is not None
        return before, after

    def current_revision(self) -> str | None:
        """The schema revision the database is at, or None before the first migration."""
        from alembic.runtime.migration import MigrationContext

        with _reported(self.url), self.engine.connect() as conn:
            revision: str | None = MigrationContext.configure(conn).get_current_revision()
            return revision

    def schema_status(self) -> SchemaStatus:
        """The schema's revision against the latest, creating nothing (ConfigError if unreachable).

        A SQLite file that does not exist has no schema; it is not opened, so not created.
        """
        from alembic.script import ScriptDirectory

        scripts = ScriptDirectory.from_config(_alembic_config())
        head = head_revision()
        path = self.sqlite_path
        if path is not None and not path.is_file():
            return SchemaStatus(current=None, head=head, known=True)
        current = _sqlite_revision(path) if path is not None else self.current_revision()
        known = current is None or any(
            script.revision == current for script in scripts.walk_revisions()
        )
        return SchemaStatus(current=current, head=head, known=known)

    def require_schema(self) -> None:
        """Raise ConfigError unless the schema is karena's latest; creates and migrates nothing."""
        path = self.sqlite_path
        if path is not None and not path.is_file():
            raise ConfigError(
                f"no database file at {path} (KARENA_DATABASE_URL or --database-url); "
                "create one with `karena migrate`"
            )
        problem = self.schema_status().problem(f"the database {display_url(self.url)}")
        if problem:
            raise ConfigError(problem)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
