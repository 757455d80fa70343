"""Against real ``karena serve`` processes on 127.0.0.1: one worker on SQLite, two on PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from pathlib import Path

import httpx
import pytest

from karena.store.api import Store
from karena.web.deps import sign_voter_id
from tests.web.conftest import make_settings
from tests.web.server import TEST_VOTER_SALT, KarenaServer

pytestmark = pytest.mark.slow


def _cookie(voter: int) -> dict[str, str]:
    raw = hashlib.sha256(f"voter-{voter}".encode()).hexdigest()[:32]
    return {"karena_voter": sign_voter_id(TEST_VOTER_SALT, raw)}


def test_real_server_round_trip_on_sqlite(tmp_path: Path) -> None:
    from tests.web.conftest import seed_demo_arena

    data_dir, url = tmp_path, f"sqlite:///{tmp_path / 'karena.db'}"
    store = Store.open(make_settings(data_dir, url))
    try:
        seed_demo_arena(store)
    finally:
        store.close()
    with (
        KarenaServer(database_url=url, data_dir=data_dir) as server,
        httpx.Client(base_url=server.base_url, timeout=30.0) as client,
    ):
        page = client.get("/", headers={"accept": "text/html"})
        assert page.status_code == 200 and "karena_voter" in page.headers["set-cookie"]
        battle = client.post("/api/battles", json={"arena": "demo"}).json()
        media = client.get(battle["slots"][0]["url"])
        assert media.status_code == 200 and media.content[:3] == b"\xff\xd8\xff"
        for header in ("etag", "last-modified", "content-disposition"):
            assert header not in media.headers
        vote = client.post(
            f"/api/battles/{battle['token']}/vote", json={"mode": "rank", "ranks": [1, 2, 3, 4]}
        )
        assert vote.status_code == 200
        bad = client.post(f"/api/battles/{battle['token']}/vote", content=b"{", headers={
            "content-type": "application/json"})  # fmt: skip
        assert bad.status_code == 422 and set(bad.json()) == {"error", "detail"}
        board = client.get("/api/leaderboard", params={"board": "online"}).json()
        assert sum(row["votes"] for row in board["rows"]) == 4


async def _voter(
    client: httpx.AsyncClient, voter: int, votes: int, acked: list[tuple[str, int]]
) -> None:
    cookies = _cookie(voter)
    for i in range(votes):
        created = await client.post("/api/battles", json={"arena": "demo"}, cookies=cookies)
        assert created.status_code == 201, created.text
        token = created.json()["token"]
        ranks = [1 + (voter + i + j) % 4 for j in range(4)]
        response = await client.post(
            f"/api/battles/{token}/vote", json={"mode": "rank", "ranks": ranks}, cookies=cookies
        )
        assert response.status_code == 200, response.text
        acked.append((token, response.json()["seq"]))


async def _simulate(base_url: str, voters: int, votes_each: int) -> list[tuple[str, int]]:
    acked: list[tuple[str, int]] = []
    limits = httpx.Limits(max_connections=voters)
    async with httpx.AsyncClient(base_url=base_url, timeout=60.0, limits=limits) as client:
        await asyncio.gather(*(_voter(client, v, votes_each, acked) for v in range(voters)))
    return acked


@pytest.mark.postgres
def test_fifty_voters_two_workers_postgres_lose_nothing(postgres_url: str, tmp_path: Path) -> None:
    from tests.web.conftest import seed_demo_arena

    settings = make_settings(tmp_path, postgres_url)
    store = Store.open(settings)
    try:
        seed_demo_arena(store)
    finally:
        store.close()
    with KarenaServer(database_url=postgres_url, data_dir=tmp_path, workers=2) as server:
        acked = asyncio.run(_simulate(server.base_url, voters=50, votes_each=2))
    assert len(acked) == 100
    store = Store.open(settings, migrate=False)
    try:
        logged = {v.token: v.seq for v in store.voting.iter_votes(arena="demo")}
        assert len(logged) == len(acked)
        assert all(logged.get(token) == seq for token, seq in acked)
        incremental = {
            (r.model_name, r.mu, r.sigma, r.votes) for r in store.boards.leaderboard(arena="demo")
        }
        assert store.boards.recompute(arena="demo") == len(acked)
        rebuilt = {r.model_name: r for r in store.boards.leaderboard(arena="demo")}
        for name, mu, sigma, votes in incremental:
            assert rebuilt[name].mu == pytest.approx(mu, abs=1e-9)
            assert rebuilt[name].sigma == pytest.approx(sigma, abs=1e-9)
            assert rebuilt[name].votes == votes
    finally:
        store.close()
    shutil.rmtree(tmp_path / "media", ignore_errors=True)
