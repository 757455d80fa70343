"""The soak's race attackers (tests/reliability/races.py) against real servers: they use cookies
the server issued, fire past the limit, and count what lands beyond it, so a limit that did not
hold would show in the soak's ``raced_over_limit``."""

from __future__ import annotations

import httpx
import pytest

from tests.reliability.conftest import DatabaseFactory, ServerFactory
from tests.reliability.races import crowd_burst, issued_cookie, vote_burst
from tests.reliability.seed import ARENA, LOAD_ENV, seed_arena
from tests.reliability.server import TEST_VOTER_SALT, ServerProcess


def _server(databases: DatabaseFactory, servers: ServerFactory, **limits: int) -> ServerProcess:
    env = {**LOAD_ENV, **{f"KARENA_{k.upper()}": str(v) for k, v in limits.items()}}
    server = servers(databases("sqlite"), workers=1, env=env)
    server.start()
    seed_arena(server.base_url)
    return server


def test_bursts_land_exactly_the_limits_when_they_hold(
    database_url_factory: DatabaseFactory, server_factory: ServerFactory
) -> None:
    """Per voter 3 a minute: 8 votes of one cookie land 3; per address 6: 12 votes of 3 cookies
    land 6 (the server is real; every refusal is a 429)."""
    server = _server(database_url_factory, server_factory, rate_limit_per_minute=3)
    one = vote_burst(server.base_url, arena=ARENA, battles=8, limit=3)
    assert (one.fired, one.accepted, one.over_limit) == (8, 3, 0)
    assert one.statuses == {200: 3, 429: 5}
    crowd_server = _server(
        database_url_factory, server_factory, rate_limit_per_address_per_minute=6
    )
    crowd = crowd_burst(crowd_server.base_url, arena=ARENA, cookies=3, battles_each=4, limit=6,
                        salt=TEST_VOTER_SALT)  # fmt: skip
    assert (crowd.fired, crowd.accepted, crowd.over_limit, crowd.unexpected) == (12, 6, 0, 0)


def test_burst_counts_votes_beyond_a_limit_the_server_does_not_hold(
    database_url_factory: DatabaseFactory, server_factory: ServerFactory
) -> None:
    """With limits off every vote of the burst lands: the attacker reports all past 3 as over."""
    server = _server(database_url_factory, server_factory)
    burst = vote_burst(server.base_url, arena=ARENA, battles=7, limit=3)
    assert (burst.accepted, burst.over_limit) == (7, 4)


def test_attacker_refuses_a_cookie_the_server_did_not_sign(
    database_url_factory: DatabaseFactory, server_factory: ServerFactory
) -> None:
    """The cookie is checked against the server's salt: under another salt it is not one."""
    server = _server(database_url_factory, server_factory)
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        assert issued_cookie(client, ARENA)
    with (
        httpx.Client(base_url=server.base_url, timeout=30.0) as client,
        pytest.raises(RuntimeError, match="no server-signed voter cookie"),
    ):
        issued_cookie(client, ARENA, salt=TEST_VOTER_SALT + "-other")
