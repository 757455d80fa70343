"""Fixtures for the reliability suite: fresh databases and real ``karena serve`` subprocesses."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.reliability.databases import fresh_database, postgres_admin_url
from tests.reliability.server import ServerProcess

ServerFactory = Callable[..., ServerProcess]
DatabaseFactory = Callable[[str], str]


def _require(kind: str) -> None:
    """Skip a PostgreSQL case when no test server is configured."""
    if kind == "postgres" and postgres_admin_url() is None:
        pytest.skip("KARENA_TEST_POSTGRES_URL is not set")


@pytest.fixture
def database_url_factory(tmp_path: Path) -> Iterator[DatabaseFactory]:
    """Make fresh databases ('sqlite' or 'postgres') that are dropped after the test."""
    with _Databases(tmp_path) as make:
        yield make


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    """Build (not start) ``karena serve`` subprocesses; every one is stopped at teardown."""
    with _Servers(tmp_path) as make:
        yield make


@pytest.fixture(scope="module")
def module_database_url_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DatabaseFactory]:
    """Like ``database_url_factory``, shared by one test module."""
    with _Databases(tmp_path_factory.mktemp("db")) as make:
        yield make


@pytest.fixture(scope="module")
def module_server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    """Like ``server_factory``, shared by one test module (one server for several checks)."""
    with _Servers(tmp_path_factory.mktemp("srv")) as make:
        yield make


class _Databases:
    """Context manager yielding a database factory rooted at ``base``."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.stack = ExitStack()
        self.counter = itertools.count()

    def __enter__(self) -> DatabaseFactory:
        def make(kind: str) -> str:
            _require(kind)
            folder = self.base / f"db{next(self.counter)}"
            folder.mkdir()
            return self.stack.enter_context(fresh_database(kind, folder))

        return make

    def __exit__(self, *exc: object) -> None:
        self.stack.close()


class _Servers:
    """Context manager yielding a server factory rooted at ``base``; stops every server on exit."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.servers: list[ServerProcess] = []

    def __enter__(self) -> ServerFactory:
        def make(
            database_url: str, *, workers: int = 1, env: Mapping[str, str] | None = None
        ) -> ServerProcess:
            server = ServerProcess(
                database_url=database_url,
                data_dir=self.base / f"server{len(self.servers)}",
                workers=workers,
                env=dict(env) if env is not None else {},
            )
            self.servers.append(server)
            return server

        return make

    def __exit__(self, *exc: object) -> None:
        for server in self.servers:
            server.stop()


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One seeded SQLite server for the hostile-input tests (each test uses its own prompts)."""
    from tests.reliability.seed import LOAD_ENV, seed_arena

    base = tmp_path_factory.mktemp("shared")
    with _Databases(base) as make_db, _Servers(base) as make_server:
        server = make_server(make_db("sqlite"), env=LOAD_ENV)
        server.start()
        seed_arena(server.base_url, prompts=2)
        yield server


@pytest.fixture
def shared_client(shared_server: ServerProcess) -> Iterator[httpx.Client]:
    """An HTTP client of the shared server."""
    with httpx.Client(base_url=shared_server.base_url, timeout=60.0) as client:
        yield client


#: A server with no admin token (admin API disabled) and battles that expire after one second.
LOCKED_DOWN_ENV = {
    "KARENA_BATTLE_TTL_SECONDS": "1",
    "KARENA_MIN_VOTE_SECONDS": "0",
    "KARENA_RATE_LIMIT_PER_MINUTE": "0",
    # Every load voter shares 127.0.0.1: the per-address limit would throttle the load itself.
    "KARENA_RATE_LIMIT_PER_ADDRESS_PER_MINUTE": "0",
}


@pytest.fixture(scope="session")
def locked_down_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server without KARENA_ADMIN_TOKEN, with 1 s battles, seeded through the Store API."""
    from tests.reliability.seed import seed_store_directly

    base = tmp_path_factory.mktemp("locked")
    with _Databases(base) as make_db, _Servers(base) as make_server:
        url = make_db("sqlite")
        server = make_server(url, env=LOCKED_DOWN_ENV)
        seed_store_directly(url, str(server.data_dir))
        server.start()
        yield server
