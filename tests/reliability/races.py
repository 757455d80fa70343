"""Bursts of votes fired together, to see whether the rate limits hold (issue 13, finding 3).

Every attacker here acts as a legitimate browser: it takes the voter cookie the server issues
(checked to be one the server signed, never a self-made one), opens its battles one by one,
then casts every vote at once. :func:`vote_burst` is one cookie racing its per-voter limit;
:func:`crowd_burst` is one address with several server-issued cookies racing the per-address
limit. Each returns a :class:`Burst`: how many votes were fired, how many landed, how many
landed beyond the limit, and every status seen (a refusal must be a 429, not an error that
would hide a race).
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from karena.web.deps import verified_voter_id
from tests.reliability.api import VOTER_COOKIE
from tests.reliability.server import TEST_VOTER_SALT


@dataclass(frozen=True)
class Burst:
    """The outcome of one burst of votes fired together."""

    fired: int
    accepted: int
    over_limit: int
    statuses: dict[int, int]

    @property
    def unexpected(self) -> int:
        """Answers that are neither a stored vote (200) nor a rate-limit refusal (429)."""
        return sum(n for s, n in self.statuses.items() if s not in (200, 429))


def issued_cookie(client: httpx.Client, arena: str, salt: str = TEST_VOTER_SALT) -> str:
    """The voter cookie the server sets on its vote page; raises if none or not server-signed."""
    client.get("/", params={"arena": arena}, headers={"Accept": "text/html"})
    cookie = client.cookies.get(VOTER_COOKIE)
    if cookie is None or verified_voter_id(salt, cookie) is None:
        raise RuntimeError(f"the vote page issued no server-signed voter cookie: {cookie!r}")
    return cookie


def _open_battles(base_url: str, arena: str, cookie: str, count: int) -> list[str]:
    """``count`` battles opened one by one under ``cookie``; raises if any is refused."""
    headers = {"Cookie": f"{VOTER_COOKIE}={cookie}"}
    tokens = []
    with httpx.Client(base_url=base_url, timeout=60.0) as client:
        for _ in range(count):
            response = client.post("/api/battles", json={"arena": arena}, headers=headers)
            if response.status_code != 201:
                raise RuntimeError(f"opening a race battle: {response.status_code} {response.text}")
            tokens.append(response.json()["token"])
    return tokens


def _fire(base_url: str, votes: list[tuple[str, str]], limit: int) -> Burst:
    """Cast every (token, cookie) vote at once: each thread connects, then all send together."""
    start = threading.Barrier(len(votes) or 1, timeout=60.0)

    def vote(token_cookie: tuple[str, str]) -> int:
        token, cookie = token_cookie
        headers = {"Cookie": f"{VOTER_COOKIE}={cookie}"}
        with httpx.Client(base_url=base_url, timeout=60.0) as one:
            one.get("/api/arenas")
            start.wait()
            body = {"mode": "best", "winner": 0}
            return one.post(f"/api/battles/{token}/vote", json=body, headers=headers).status_code

    with ThreadPoolExecutor(len(votes) or 1) as pool:
        statuses = list(pool.map(vote, votes))
    accepted = statuses.count(200)
    return Burst(len(votes), accepted, max(0, accepted - limit), dict(Counter(statuses)))


def vote_burst(base_url: str, *, arena: str, battles: int, limit: int) -> Burst:
    """One server-issued cookie fires ``battles`` votes together against a limit of ``limit``."""
    with httpx.Client(base_url=base_url, timeout=60.0) as client:
        cookie = issued_cookie(client, arena)
    tokens = _open_battles(base_url, arena, cookie, battles)
    return _fire(base_url, [(t, cookie) for t in tokens], limit)


def crowd_burst(
    base_url: str, *, arena: str, cookies: int, battles_each: int, limit: int, salt: str
) -> Burst:
    """``cookies`` server-issued cookies from one address fire ``battles_each`` votes each,
    all together, against a per-address limit of ``limit``."""
    votes: list[tuple[str, str]] = []
    for _ in range(cookies):
        with httpx.Client(base_url=base_url, timeout=60.0) as client:  # a fresh browser
            cookie = issued_cookie(client, arena, salt)
        votes += [(t, cookie) for t in _open_battles(base_url, arena, cookie, battles_each)]
    return _fire(base_url, votes, limit)
