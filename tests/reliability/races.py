"""A burst of votes fired together by one voter, to see whether the rate limit holds (issue 13,
finding 3). The voter uses the cookie the server issued (no self-made cookie), opens its battles
one by one, then casts every vote at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.reliability.api import VOTER_COOKIE


def vote_burst(base_url: str, *, arena: str, battles: int, limit: int) -> tuple[int, int]:
    """(votes accepted, accepted beyond ``limit``) for ``battles`` votes fired together."""
    with httpx.Client(base_url=base_url, timeout=60.0) as client:
        client.get("/", params={"arena": arena}, headers={"Accept": "text/html"})
        cookie = client.cookies.get(VOTER_COOKIE)
        tokens = []
        for _ in range(battles):
            response = client.post("/api/battles", json={"arena": arena})
            if response.status_code == 201:
                tokens.append(response.json()["token"])
    headers = {"Cookie": f"{VOTER_COOKIE}={cookie}"} if cookie else {}
    # Every thread opens its connection first, then all send together: a real burst.
    start = threading.Barrier(len(tokens) or 1, timeout=60.0)

    def vote(token: str) -> int:
        with httpx.Client(base_url=base_url, timeout=60.0) as one:
            one.get("/api/arenas")
            start.wait()
            body = {"mode": "best", "winner": 0}
            return one.post(f"/api/battles/{token}/vote", json=body, headers=headers).status_code

    with ThreadPoolExecutor(len(tokens) or 1) as pool:
        statuses = list(pool.map(vote, tokens))
    accepted = sum(1 for s in statuses if s == 200)
    return accepted, max(0, accepted - limit)
