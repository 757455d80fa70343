"""Clean outages (issue 13, finding 10, R-OUTAGE-10): while the database is locked or away,
requests get 503 with Retry-After and a clear message, never a 500; when it returns, so does
the service, without a restart."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from tests.reliability import api
from tests.reliability.conftest import ServerFactory
from tests.reliability.outage import TcpProxy
from tests.reliability.seed import ARENA, LOAD_ENV, seed_arena

OUTAGE_ENV = {**LOAD_ENV, "KARENA_DATABASE_TIMEOUT_SECONDS": "1", "KARENA_RETRY_AFTER_SECONDS": "7"}


def _assert_clean_503(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "7"
    body = response.json()
    assert "database" in body["error"] and body["detail"] == {"retry_after_seconds": 7}


def _until_ok(call, seconds: float = 20.0) -> httpx.Response:
    """The first answer that is not a 503 (a dead pooled connection may cost one request)."""
    deadline = time.monotonic() + seconds
    while True:
        response = call()
        if response.status_code != 503 or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_r_outage_10_locked_sqlite_is_503_then_recovers(
    database_url_factory, server_factory: ServerFactory
) -> None:
    url = database_url_factory("sqlite")
    server = server_factory(url, env=OUTAGE_ENV)
    server.start()
    seed_arena(server.base_url, prompts=2)
    locker = sqlite3.connect(Path(url.removeprefix("sqlite:///")), isolation_level=None)
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        try:
            locker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
            _assert_clean_503(client.post("/api/battles", json={"arena": ARENA}))
            page = client.get("/", params={"arena": ARENA}, headers={"Accept": "text/html"})
            assert page.status_code == 503 and page.headers["retry-after"] == "7"
            assert page.headers["content-type"].startswith("text/html")
            assert "locked" in page.text and "Traceback" not in page.text
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        battle = api.create_battle(client, arena=ARENA, voter="after-lock")
        vote = api.submit_rank_vote(
            client, arena=ARENA, token=battle.token, ranks=(1, 2, 3, 4), voter="after-lock"
        )
        assert vote.status_code == 200
    assert " 500 " not in server.log_text()


@pytest.mark.postgres
def test_r_outage_10_postgres_away_is_503_then_recovers(
    database_url_factory, server_factory: ServerFactory
) -> None:
    """The database's port closed (proxy cut), then back; then every backend terminated."""
    import psycopg

    direct = database_url_factory("postgres")
    proxy, url = TcpProxy.for_url(direct)
    proxy.restore()
    server = server_factory(url, env=OUTAGE_ENV)
    try:
        server.start()
        seed_arena(server.base_url, prompts=2)
        with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
            proxy.cut()
            _assert_clean_503(client.post("/api/battles", json={"arena": ARENA}))
            _assert_clean_503(client.get("/api/leaderboard", params={"arena": ARENA}))
            proxy.restore()
            opened = _until_ok(lambda: client.post("/api/battles", json={"arena": ARENA}))
            assert opened.status_code == 201, opened.text

            name = direct.rsplit("/", 1)[1]
            admin = direct.split("+", 1)[0] if "+" in direct.split("://", 1)[0] else direct
            with psycopg.connect(admin.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (name,),
                )
            first = client.post("/api/battles", json={"arena": ARENA})
            assert first.status_code in (201, 503), first.text
            if first.status_code == 503:
                _assert_clean_503(first)
            again = _until_ok(lambda: client.post("/api/battles", json={"arena": ARENA}))
            assert again.status_code == 201, again.text
    finally:
        server.stop()
        proxy.cut()
    assert " 500 " not in server.log_text()
