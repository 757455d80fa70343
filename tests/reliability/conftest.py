"""Fixtures for the reliability suite: fresh databases and real ``karena serve`` subprocesses."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.reliability.databases import fresh_database, postgres_admin_url
from tests.reliability.server import ServerProcess

ServerFactory = Callable[..., ServerProcess]


def _require(kind: str) -> None:
    """Skip a PostgreSQL case when no test server is configured."""
    if kind == "postgres" and postgres_admin_url() is None:
        pytest.skip("KARENA_TEST_POSTGRES_URL is not set")


@pytest.fixture
def database_url_factory(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Make fresh databases ('sqlite' or 'postgres') that are dropped after the test."""
    with ExitStack() as stack:
        counter = iter(range(1_000))

        def make(kind: str) -> str:
            _require(kind)
            folder = tmp_path / f"db{next(counter)}"
            folder.mkdir()
            return stack.enter_context(fresh_database(kind, folder))

        yield make


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    """Build (not start) ``karena serve`` subprocesses; every one is stopped at teardown."""
    servers: list[ServerProcess] = []

    def make(
        database_url: str, *, workers: int = 1, env: Mapping[str, str] | None = None
    ) -> ServerProcess:
        server = ServerProcess(
            database_url=database_url,
            data_dir=tmp_path / f"server{len(servers)}",
            workers=workers,
            env=dict(env) if env is not None else {},
        )
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
