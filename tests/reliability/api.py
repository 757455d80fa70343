"""The few calls the reliability suite makes to karena's JSON API, in one place.

Voters are told apart by the ``karena_voter`` cookie (a 32-hex id signed with the server's
voter salt), exactly as a browser is: the suite's servers run with ``TEST_VOTER_SALT``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import httpx

from karena.web.deps import sign_voter_id
from tests.reliability.server import TEST_VOTER_SALT

VOTER_COOKIE = "karena_voter"


class ApiError(Exception):
    """A non-2xx answer to a call the driver needed to succeed."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.status = status
        self.body = body


@dataclass(frozen=True, slots=True)
class Battle:
    """What a voter sees of a battle."""

    token: str
    k: int
    slot_urls: tuple[str, ...]
    prompt: str


def voter_id(voter: str) -> str:
    """A stable voter cookie value (a 32-hex id, signed) derived from a readable voter name."""
    return sign_voter_id(TEST_VOTER_SALT, hashlib.sha256(voter.encode()).hexdigest()[:32])


def voter_cookie(voter: str) -> dict[str, str]:
    """The Cookie header a browser of ``voter`` sends (per request, never kept by the client)."""
    return {"Cookie": f"{VOTER_COOKIE}={voter_id(voter)}"}


def admin_headers(token: str | None) -> dict[str, str]:
    """The admin bearer header, or none."""
    return {"Authorization": f"Bearer {token}"} if token is not None else {}


def create_battle(
    client: httpx.Client, *, arena: str, voter: str, prompt: str | None = None
) -> Battle:
    """Open a battle in ``arena`` as ``voter``."""
    body: dict[str, object] = {"arena": arena}
    if prompt is not None:
        body["prompt"] = prompt
    response = client.post("/api/battles", json=body, headers=voter_cookie(voter))
    if response.status_code // 100 != 2:
        raise ApiError(response.status_code, response.text)
    data = response.json()
    return Battle(
        token=data["token"],
        k=int(data["k"]),
        slot_urls=tuple(slot["url"] for slot in data["slots"]),
        prompt=data["prompt"],
    )


def submit_vote(
    client: httpx.Client, *, token: str, voter: str, body: dict[str, object]
) -> httpx.Response:
    """Post a raw vote body for battle ``token`` (the caller checks the status)."""
    return client.post(f"/api/battles/{token}/vote", json=body, headers=voter_cookie(voter))


def submit_rank_vote(
    client: httpx.Client, *, arena: str, token: str, ranks: tuple[int, ...], voter: str
) -> httpx.Response:
    """Post a rank-mode vote."""
    return submit_vote(
        client, token=token, voter=voter, body={"mode": "rank", "ranks": list(ranks)}
    )
