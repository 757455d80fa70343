"""Limits that hold under attack (issue 13): raced votes, minted cookies, battle floods, bans.

Against real ``karena serve`` processes: SQLite with one worker, PostgreSQL with two (the
limits must hold across processes). Each test speaks from its own loopback address
(127.0.0.x, a client-side bind), so the per-address limits of one test never meet another's.
Requests that must race are released together from a barrier, each on its own connection.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.reliability import api
from tests.reliability.conftest import DatabaseFactory, ServerFactory
from tests.reliability.seed import ADMIN_TOKEN, ARENA, seed_arena
from tests.reliability.server import ServerProcess

VOTES_PER_VOTER = 5
VOTES_PER_ADDRESS = 10
EXPORTS_PER_HOUR = 2
#: Battles one voter (address) may open a minute: 4 x its vote limit.
BATTLES_PER_VOTER = 4 * VOTES_PER_VOTER
BATTLES_PER_ADDRESS = 4 * VOTES_PER_ADDRESS

LIMIT_ENV = {
    "KARENA_ADMIN_TOKEN": ADMIN_TOKEN,
    "KARENA_MIN_VOTE_SECONDS": "0",
    "KARENA_RATE_LIMIT_PER_MINUTE": str(VOTES_PER_VOTER),
    "KARENA_RATE_LIMIT_PER_ADDRESS_PER_MINUTE": str(VOTES_PER_ADDRESS),
    "KARENA_EXPORT_LIMIT_PER_HOUR": str(EXPORTS_PER_HOUR),
}
#: Addresses used for reading the export, one per export (the export limit is per address).
_export_addresses = iter(f"127.0.1.{i}" for i in range(1, 255))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest,
    module_database_url_factory: DatabaseFactory,
    module_server_factory: ServerFactory,
) -> ServerProcess:
    """A seeded server with low limits: SQLite with 1 worker, PostgreSQL with 2."""
    kind = str(request.param)
    workers = 2 if kind == "postgres" else 1
    srv = module_server_factory(module_database_url_factory(kind), workers=workers, env=LIMIT_ENV)
    srv.start()
    seed_arena(srv.base_url)
    return srv


def _client(server: ServerProcess, address: str) -> httpx.Client:
    """A client whose connections come from ``address`` (any 127.0.0.0/8 address is local)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=server.base_url, transport=transport, timeout=60.0)


def _race(
    server: ServerProcess, address: str, calls: list[Callable[[httpx.Client], Any]]
) -> list[Any]:
    """Run ``calls`` at once, each on its own connection from ``address``; results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[httpx.Client], Any]) -> Any:
        with _client(server, address) as client:
            client.get("/openapi.json")  # connect before the barrier: the requests race
            barrier.wait(timeout=60)
            return call(client)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def _exported(server: ServerProcess) -> list[dict[str, Any]]:
    with _client(server, next(_export_addresses)) as client:
        response = client.get("/api/votes/export", params={"arena": ARENA})
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def _open(client: httpx.Client, voter: str) -> api.Battle:
    return api.create_battle(client, arena=ARENA, voter=voter)


def _vote(token: str, k: int, voter: str) -> Callable[[httpx.Client], httpx.Response]:
    body = {"mode": "rank", "ranks": list(range(1, k + 1))}
    return lambda client: api.submit_vote(client, token=token, voter=voter, body=body)


def _check_refusals(responses: list[httpx.Response]) -> None:
    """Every answer is 200 or a clear 429 with a Retry-After in whole seconds."""
    for r in responses:
        assert r.status_code in (200, 429), r.text
        if r.status_code == 429:
            assert int(r.headers["retry-after"]) >= 1
            assert "too many votes" in r.json()["error"]


def _stored_once(server: ServerProcess, accepted: set[str], attempted: set[str]) -> None:
    """The accepted votes are stored, each exactly once; the refused ones are not."""
    battles = [row["battle"] for row in _exported(server) if row["battle"] in attempted]
    assert sorted(battles) == sorted(accepted)


def test_one_cookie_racing_votes_lands_at_most_its_limit(server: ServerProcess) -> None:
    """R-LIMIT-3: one cookie, limit 5 a minute, 12 votes fired together: exactly 5 land."""
    address = "127.0.0.11"
    with _client(server, address) as client:
        battles = [_open(client, "racer") for _ in range(12)]
    responses = _race(server, address, [_vote(b.token, b.k, "racer") for b in battles])
    _check_refusals(responses)
    accepted = {b.token for b, r in zip(battles, responses, strict=True) if r.status_code == 200}
    assert len(accepted) == VOTES_PER_VOTER
    _stored_once(server, accepted, {b.token for b in battles})


def test_many_cookies_from_one_address_land_at_most_its_limit(server: ServerProcess) -> None:
    """R-LIMIT-3: one address with 16 server-signed cookies, limit 10 a minute: exactly 10 land."""
    address = "127.0.0.12"
    voters = [f"crowd-{i}" for i in range(16)]
    with _client(server, address) as client:
        battles = [_open(client, voter) for voter in voters]
    calls = [_vote(b.token, b.k, voter) for b, voter in zip(battles, voters, strict=True)]
    responses = _race(server, address, calls)
    _check_refusals(responses)
    accepted = {b.token for b, r in zip(battles, responses, strict=True) if r.status_code == 200}
    assert len(accepted) == VOTES_PER_ADDRESS
    _stored_once(server, accepted, {b.token for b in battles})


def test_self_made_cookies_cannot_flood_new_battles(server: ServerProcess) -> None:
    """R-LIMIT-6: 40 battles fired together with self-made cookies: they count as the address
    voter, so exactly its 20 a minute open; 60 with distinct signed cookies: the address's 40."""
    forged = [f"{i:032x}" for i in range(40)]

    def open_forged(cookie: str) -> Callable[[httpx.Client], int]:
        return lambda c: (
            c.post(
                "/api/battles", json={"arena": ARENA}, headers={"Cookie": f"karena_voter={cookie}"}
            ).status_code
        )

    statuses = _race(server, "127.0.0.13", [open_forged(c) for c in forged])
    assert statuses.count(201) == BATTLES_PER_VOTER, statuses
    assert statuses.count(429) == len(forged) - BATTLES_PER_VOTER, statuses

    def open_signed(voter: str) -> Callable[[httpx.Client], int]:
        return lambda c: (
            c.post(
                "/api/battles", json={"arena": ARENA}, headers=api.voter_cookie(voter)
            ).status_code
        )

    statuses = _race(server, "127.0.0.14", [open_signed(f"flood-{i}") for i in range(60)])
    assert statuses.count(201) == BATTLES_PER_ADDRESS, statuses
    assert statuses.count(429) == 60 - BATTLES_PER_ADDRESS, statuses


def test_exports_are_limited_per_address(server: ServerProcess) -> None:
    """R-LIMIT-6 (exports): each costs seconds of server time; the third in an hour gets 429."""
    with _client(server, "127.0.0.15") as client:
        answers = [client.get("/api/votes/export", params={"arena": ARENA}) for _ in range(3)]
    assert [r.status_code for r in answers] == [200] * EXPORTS_PER_HOUR + [429]
    assert 1 <= int(answers[-1].headers["retry-after"]) <= 3600
    assert "too many exports" in answers[-1].json()["error"]


def test_forged_cookie_counts_as_the_address(server: ServerProcess) -> None:
    """R-COOKIE-3: a self-made or tampered cookie is not a voter: the vote counts as the
    address (like a request without a cookie), and the answer carries a cookie the server signed."""
    good = api.voter_cookie("honest")["Cookie"].split("=", 1)[1]
    tampered = good[:-1] + ("0" if good[-1] != "0" else "1")
    tokens = []
    with _client(server, "127.0.0.16") as client:
        for cookie in (f"{7:032x}", tampered, None):
            headers = {"Cookie": f"karena_voter={cookie}"} if cookie else {}
            client.cookies.clear()
            opened = client.post("/api/battles", json={"arena": ARENA}, headers=headers)
            assert opened.status_code == 201, opened.text
            client.cookies.clear()  # the vote sends exactly the same cookie (or none)
            fresh = opened.headers["set-cookie"].split(";", 1)[0].split("=", 1)[1]
            assert fresh not in (cookie, good) and len(fresh) == 65
            vote = client.post(
                f"/api/battles/{opened.json()['token']}/vote",
                json={"mode": "tie"},
                headers=headers,
            )
            assert vote.status_code == 200, vote.text
            tokens.append(opened.json()["token"])
    hashes = {row["voter_hash"] for row in _exported(server) if row["battle"] in tokens}
    assert len(hashes) == 1  # all three are the same voter: the address


def test_banned_voter_cannot_return_with_a_new_cookie(server: ServerProcess) -> None:
    """R-BAN-8: after a ban, neither a self-made cookie, nor none, nor a fresh cookie the
    server signs lets the banned voter's address vote again; another address still votes."""
    with _client(server, "127.0.0.17") as client:
        first = _open(client, "troll")
        voted = api.submit_vote(client, token=first.token, voter="troll", body=_tie())
        assert voted.status_code == 200, voted.text
        voter_hash = next(r["voter_hash"] for r in _exported(server) if r["battle"] == first.token)
        ban = client.post(
            "/api/admin/voters/ban",
            json={"voter_hash": voter_hash, "reason": "R-BAN-8"},
            headers=api.admin_headers(ADMIN_TOKEN),
        )
        assert ban.status_code == 200, ban.text
        for headers in (
            api.voter_cookie("troll"),
            {"Cookie": "karena_voter=" + hashlib.sha256(b"new").hexdigest()[:32]},
            {},
        ):
            client.cookies.clear()
            battle = client.post("/api/battles", json={"arena": ARENA}, headers=headers).json()
            client.cookies.clear()
            refused = client.post(
                f"/api/battles/{battle['token']}/vote", json=_tie(), headers=headers
            )
            assert refused.status_code == 403, refused.text
        # A cookie the server itself signs, fetched from the banned address: still refused.
        client.cookies.clear()
        client.get("/", headers={"accept": "text/html"})
        assert client.cookies.get("karena_voter")
        battle = client.post("/api/battles", json={"arena": ARENA}).json()
        refused = client.post(f"/api/battles/{battle['token']}/vote", json=_tie())
        assert refused.status_code == 403, refused.text
    with _client(server, "127.0.0.18") as other:
        battle = _open(other, "bystander")
        ok = api.submit_vote(other, token=battle.token, voter="bystander", body=_tie())
        assert ok.status_code == 200, ok.text


def _tie() -> dict[str, object]:
    return {"mode": "tie"}
