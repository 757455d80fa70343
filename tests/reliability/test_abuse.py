"""Abuse: a hammering voter is rate-limited, hasty votes are refused, banned votes never count."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.reliability import api
from tests.reliability.conftest import ServerFactory
from tests.reliability.seed import ADMIN_TOKEN, ARENA, seed_arena
from tests.reliability.server import ServerProcess

RATE_LIMIT = 5
MIN_VOTE_SECONDS = 2.0
#: Wait this long before a vote that should pass the bot guard (a margin over the minimum).
PATIENCE = MIN_VOTE_SECONDS + 0.5

ABUSE_ENV = {
    "KARENA_ADMIN_TOKEN": ADMIN_TOKEN,
    "KARENA_RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT),
    "KARENA_MIN_VOTE_SECONDS": str(MIN_VOTE_SECONDS),
}


@pytest.fixture(scope="module")
def server(module_database_url_factory, module_server_factory: ServerFactory) -> ServerProcess:
    """One server with a low rate limit and a bot guard, shared by this module."""
    srv = module_server_factory(module_database_url_factory("sqlite"), env=ABUSE_ENV)
    srv.start()
    seed_arena(srv.base_url)
    return srv


def _ranks(k: int) -> tuple[int, ...]:
    return tuple(range(1, k + 1))


def _exported(client: httpx.Client) -> list[dict[str, object]]:
    """The vote log through the public export."""
    response = client.get("/api/votes/export", params={"arena": ARENA, "format": "jsonl"})
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def _board(client: httpx.Client) -> dict[str, tuple[float, float, int]]:
    rows = client.get("/api/leaderboard", params={"arena": ARENA, "board": "online"}).json()["rows"]
    return {r["model"]: (r["mu"], r["sigma"], r["votes"]) for r in rows}


def test_one_voter_hammering_votes_is_rate_limited(server: ServerProcess) -> None:
    """After RATE_LIMIT votes in a minute the next is refused with 429 and not stored."""
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        battles = [
            api.create_battle(client, arena=ARENA, voter="hammer") for _ in range(RATE_LIMIT + 2)
        ]
        time.sleep(PATIENCE)  # past the bot guard, so only the rate limit can refuse
        statuses = [
            api.submit_rank_vote(
                client, arena=ARENA, token=b.token, ranks=_ranks(b.k), voter="hammer"
            ).status_code
            for b in battles
        ]
        assert statuses == [200] * RATE_LIMIT + [429, 429]
        refused = {b.token for b in battles[RATE_LIMIT:]}
        stored = {str(v["battle"]) for v in _exported(client)}
        assert not refused & stored
        # Someone else is not affected by the hammering voter's limit.
        other = api.create_battle(client, arena=ARENA, voter="bystander")
        time.sleep(PATIENCE)
        ok = api.submit_rank_vote(
            client, arena=ARENA, token=other.token, ranks=_ranks(other.k), voter="bystander"
        )
        assert ok.status_code == 200, ok.text


def test_bot_guard_rejects_votes_faster_than_the_minimum(server: ServerProcess) -> None:
    """A vote cast right after the battle opened is refused; the battle stays open for later."""
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        battle = api.create_battle(client, arena=ARENA, voter="quick-bot")
        ranks = _ranks(battle.k)
        fast = api.submit_rank_vote(
            client, arena=ARENA, token=battle.token, ranks=ranks, voter="quick-bot"
        )
        assert fast.status_code == 429, fast.text
        assert "error" in fast.json()
        assert battle.token not in {str(v["battle"]) for v in _exported(client)}
        time.sleep(PATIENCE)
        slow = api.submit_rank_vote(
            client, arena=ARENA, token=battle.token, ranks=ranks, voter="quick-bot"
        )
        assert slow.status_code == 200, slow.text


def test_vote_from_banned_voter_does_not_count(server: ServerProcess) -> None:
    """Ban a voter by hash: the earlier vote stops counting and a new one changes no rating."""
    admin = api.admin_headers(ADMIN_TOKEN)
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        first = api.create_battle(client, arena=ARENA, voter="troll")
        second = api.create_battle(client, arena=ARENA, voter="troll")
        time.sleep(PATIENCE)
        r = api.submit_rank_vote(
            client, arena=ARENA, token=first.token, ranks=_ranks(first.k), voter="troll"
        )
        assert r.status_code == 200, r.text
        voter_hash = next(v["voter_hash"] for v in _exported(client) if v["battle"] == first.token)

        ban = client.post(
            "/api/admin/voters/ban",
            # This module's voters all share 127.0.0.1: ban the cookie only, so the other tests'
            # voters stay free (test_integrity.py covers the ban of the address, R-BAN-8).
            json={
                "voter_hash": voter_hash,
                "reason": "test",
                "discount_past": True,
                "ban_address": False,
            },
            headers=admin,
        )
        assert ban.status_code == 200, ban.text
        assert ban.json()["count"] == 1
        board_after_ban = _board(client)

        late = api.submit_rank_vote(
            client, arena=ARENA, token=second.token, ranks=_ranks(second.k), voter="troll"
        )
        assert late.status_code == 403 or late.json().get("counted") is False, late.text
        assert _board(client) == board_after_ban
        counted = {str(v["battle"]): v["counted"] for v in _exported(client)}
        assert counted[first.token] is False
        assert counted.get(second.token, False) is False
        # The board without the banned votes is exactly what a replay of the counted log gives.
        replay = client.post("/api/admin/recompute", params={"arena": ARENA}, headers=admin)
        assert replay.status_code == 200, replay.text
        replayed = _board(client)
        assert replayed.keys() == board_after_ban.keys()
        for name, (mu, sigma, votes) in board_after_ban.items():
            assert replayed[name] == (pytest.approx(mu), pytest.approx(sigma), votes)


def test_client_that_drops_its_cookie_is_still_rate_limited(server: ServerProcess) -> None:
    """A bot that never keeps the voter cookie gets no fresh rate limit per request (R-ABUSE-1)."""
    statuses = []
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        battles = []
        for _ in range(RATE_LIMIT + 2):
            client.cookies.clear()
            response = client.post("/api/battles", json={"arena": ARENA})
            assert response.status_code == 201, response.text
            battles.append(response.json())
        time.sleep(PATIENCE)
        for battle in battles:
            client.cookies.clear()
            body = {"mode": "rank", "ranks": list(range(1, int(battle["k"]) + 1))}
            statuses.append(
                client.post(f"/api/battles/{battle['token']}/vote", json=body).status_code
            )
    assert 429 in statuses, statuses


def test_client_minting_its_own_cookies_is_still_rate_limited(server: ServerProcess) -> None:
    """A bot sending a fresh self-made (valid-looking) voter cookie per vote is still limited."""
    statuses = []
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        battles = [
            api.create_battle(client, arena=ARENA, voter=f"minted-b{i}")
            for i in range(RATE_LIMIT + 2)
        ]
        time.sleep(PATIENCE)
        for i, battle in enumerate(battles):
            response = api.submit_rank_vote(
                client,
                arena=ARENA,
                token=battle.token,
                ranks=_ranks(battle.k),
                voter=f"minted-v{i}",
            )
            statuses.append(response.status_code)
    assert 429 in statuses, statuses
