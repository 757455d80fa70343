"""Attackers for issue 13, findings 6 to 11, each bounded to a few seconds (used by the soak).

Every attacker speaks HTTP to a real server on 127.0.0.1 and, where it matters, from a loopback
address of its own (127.0.x.y, a client-side bind), so its per-address limits and bans never meet
another attacker's. Each returns counts whose goal is 0 (and, where an attack could silently do
nothing, a control that shows it was able to succeed).

- :func:`flood_attack`: self-made cookies open battles together past the per-address battle
  limit (finding 6);
- :func:`csrf_attack`: another site's form POSTs to ``/battle`` (finding 6);
- :func:`cost_attack`: unique typed prompts from one address past the live-generation budget,
  on an in-process server with the demo's renderers attached (finding 6);
- :func:`salt_attack`: brute force of 127.0.0.0/16 from the export's voter hashes with the
  published default salt (finding 7);
- :func:`ban_dodge_attack`: a banned voter returns with a fresh server-issued cookie, a
  self-made one, or none (finding 8);
- :func:`admin_body_attack`: admin routes with a malformed body and no token (finding 9);
- :func:`recompute_attack`: ``recompute_report`` and ``karena recompute`` while votes land
  (finding 11).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from karena.cli.serve import default_voter_salt
from karena.store.votes import address_voter_id, hash_voter
from tests.reliability.api import VOTER_COOKIE, admin_headers
from tests.reliability.load import run_load
from tests.reliability.races import issued_cookie
from tests.reliability.server import TEST_VOTER_SALT, free_port


@dataclass(frozen=True)
class Outcome:
    """One attack: requests fired, how many did what the attacker wanted, how many of those
    went beyond what the server allows (the goal: 0), and every status seen."""

    fired: int
    landed: int
    over: int
    statuses: dict[int, int]


def loopback_client(base_url: str, address: str) -> httpx.Client:
    """A client whose connections come from ``address`` (any 127.0.0.0/8 address is local)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=base_url, transport=transport, timeout=60.0)


def race(base_url: str, address: str, calls: list[Callable[[httpx.Client], int]]) -> list[int]:
    """Run ``calls`` at once, each on its own connection from ``address``; statuses in order."""
    barrier = threading.Barrier(len(calls), timeout=60.0)

    def run(call: Callable[[httpx.Client], int]) -> int:
        with loopback_client(base_url, address) as client:
            client.get("/api/arenas")  # connect before the barrier: the requests race
            barrier.wait()
            return call(client)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def _forged(seed: int, i: int) -> str:
    """A self-made voter cookie: 32 hex digits, unsigned."""
    return f"{seed:08x}{i:024x}"


def flood_attack(base_url: str, arena: str, *, address: str, fired: int, limit: int) -> Outcome:
    """``fired`` battles opened together, each with its own self-made cookie, from ``address``;
    ``limit`` is the battles a minute one voter (and so the address voter) may open."""

    def open_with(cookie: str) -> Callable[[httpx.Client], int]:
        headers = {"Cookie": f"{VOTER_COOKIE}={cookie}"}
        return lambda c: c.post("/api/battles", json={"arena": arena}, headers=headers).status_code

    statuses = race(base_url, address, [open_with(_forged(0xF100D, i)) for i in range(fired)])
    opened = statuses.count(201)
    return Outcome(fired, opened, max(0, opened - limit), dict(Counter(statuses)))


def csrf_attack(base_url: str, arena: str, *, address: str) -> Outcome:
    """Another site's form POSTed to ``/battle``: a foreign Origin, none, a made-up token.
    Each must be a 403; anything else counts as accepted."""
    body = {"arena": arena, "prompt": "two red circles"}
    variants: list[tuple[dict[str, str], dict[str, str]]] = [
        (body, {"origin": "http://evil.example"}),
        (body, {}),
        ({**body, "csrf": "0" * 64}, {"origin": "http://evil.example"}),
        ({**body, "csrf": "0" * 64}, {}),
    ]
    statuses = []
    with loopback_client(base_url, address) as client:
        issued_cookie(client, arena)  # a real browser of ours, lured to the other site
        for data, headers in variants:
            answer = client.post("/battle", data=data, headers=headers, follow_redirects=False)
            statuses.append(answer.status_code)
    accepted = sum(1 for s in statuses if s != 403)
    return Outcome(len(statuses), accepted, accepted, dict(Counter(statuses)))


def cost_attack(
    database_url: str, data_dir: Path, *, prompts: int, voter_budget: int, address_budget: int
) -> Outcome:
    """Unique typed prompts on a live arena: ``prompts`` from one server-issued cookie, then
    ``prompts`` with self-made cookies, all from one address and each burst fired together.

    The server is in-process (uvicorn in a thread, the demo's renderers attached, as ``karena
    demo`` runs) over ``database_url``, with no generation threads: an accepted prompt is queued
    (202) and its cost is what counts. ``over``: prompts accepted beyond the smaller of the
    voter's and the address's hourly budget, per burst.
    """
    import uvicorn

    from karena.services.demo_arena import build_demo_arena
    from karena.services.live import LiveGenerators
    from karena.settings import Settings
    from karena.store.api import Store
    from karena.web.app import create_app

    settings = Settings(
        data_dir=data_dir, database_url=database_url, voter_salt=SecretStr(TEST_VOTER_SALT),
        min_vote_seconds=0.0, web_generation_threads=0,
        live_generations_per_voter_per_hour=voter_budget,
        live_generations_per_address_per_hour=address_budget,
    )  # fmt: skip
    store = Store.open(settings)
    live = LiveGenerators(store)
    slug = build_demo_arena(live, k=settings.default_k).slug
    app = create_app(settings, store=store, live=live, live_arenas=frozenset({slug}))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{server.config.port}"
    try:
        deadline = time.monotonic() + 60
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        with loopback_client(base_url, "127.0.4.1") as client:
            cookie = issued_cookie(client, slug)

        def typed(prompt: str, cookie: str) -> Callable[[httpx.Client], int]:
            body = {"arena": slug, "prompt": prompt}
            headers = {"Cookie": f"{VOTER_COOKIE}={cookie}"}
            return lambda c: c.post("/api/battles", json=body, headers=headers).status_code

        words = ("red", "blue", "green", "amber", "violet", "teal")
        one = [typed(f"{i} {words[i % 6]} circles, soak one", cookie) for i in range(prompts)]
        many = [typed(f"{i} {words[i % 6]} squares, soak many", _forged(0xC057, i))
                for i in range(prompts)]  # fmt: skip
        statuses = race(base_url, "127.0.4.1", one) + race(base_url, "127.0.4.1", many)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        store.close()
    budget = min(voter_budget, address_budget)
    first, second = statuses[:prompts].count(202), statuses[prompts:].count(202)
    over = max(0, first - budget) + max(0, first + second - address_budget)
    return Outcome(len(statuses), first + second, over, dict(Counter(statuses)))


def _cast_cookieless(client: httpx.Client, arena: str, votes: int) -> None:
    for _ in range(votes):
        client.cookies.clear()
        opened = client.post("/api/battles", json={"arena": arena})
        opened.raise_for_status()
        client.cookies.clear()
        client.post(f"/api/battles/{opened.json()['token']}/vote", json={"mode": "tie"})


def _exported(base_url: str, arena: str, address: str) -> list[dict[str, Any]]:
    with loopback_client(base_url, address) as client:
        answer = client.get("/api/votes/export", params={"arena": arena, "format": "jsonl"})
    answer.raise_for_status()
    return [json.loads(line) for line in answer.text.splitlines() if line.strip()]


def address_guesses(salt: str, prefix: str = "127.0") -> dict[str, str]:
    """Every stored form of each address's hash over ``prefix``.0.0/16, under ``salt``."""
    out = {}
    for a in range(256):
        for b in range(256):
            ip = f"{prefix}.{a}.{b}"
            out[hash_voter(salt, address_voter_id(salt, ip))] = ip  # a cookieless voter
            out[hash_voter(salt, "address:" + ip)] = ip  # a vote counted as its address
    return out


def salt_attack(base_url: str, arena: str, *, address: str) -> tuple[int, int]:
    """Cookieless votes from ``address``, then a /16 sweep of the export's voter hashes with
    the published default salt. Returns (voters named, voters the same sweep names with the
    server's real salt: the control, which must be ≥ 1)."""
    with loopback_client(base_url, address) as client:
        _cast_cookieless(client, arena, 2)
    hashes = {str(row["voter_hash"]) for row in _exported(base_url, arena, address)}
    hits = len(hashes & address_guesses(default_voter_salt()).keys())
    control = len(hashes & address_guesses(TEST_VOTER_SALT).keys())
    return hits, control


def ban_dodge_attack(base_url: str, arena: str, *, address: str, admin_token: str) -> Outcome:
    """Vote, get banned (the admin API), then vote again from the same address with a fresh
    server-issued cookie, a self-made one and none. ``landed``: votes stored after the ban."""
    with loopback_client(base_url, address) as client:
        issued_cookie(client, arena)
        first = client.post("/api/battles", json={"arena": arena}).json()["token"]
        client.post(f"/api/battles/{first}/vote", json={"mode": "tie"}).raise_for_status()
    voter_hash = next(r["voter_hash"] for r in _exported(base_url, arena, address)
                      if r["battle"] == first)  # fmt: skip
    ban = httpx.post(f"{base_url}/api/admin/voters/ban", headers=admin_headers(admin_token),
                     json={"voter_hash": voter_hash, "reason": "soak"}, timeout=60.0)  # fmt: skip
    ban.raise_for_status()
    statuses = []
    for kind in ("issued", "forged", "none"):
        with loopback_client(base_url, address) as client:
            if kind == "issued":
                issued_cookie(client, arena)
            elif kind == "forged":
                client.cookies.set(VOTER_COOKIE, _forged(0xBA4, 1))
            opened = client.post("/api/battles", json={"arena": arena})
            if opened.status_code != 201:
                statuses.append(opened.status_code)
                continue
            token = opened.json()["token"]
            statuses.append(
                client.post(f"/api/battles/{token}/vote", json={"mode": "tie"}).status_code
            )
    landed = statuses.count(200)
    return Outcome(len(statuses), landed, landed, dict(Counter(statuses)))


JSON = {"content-type": "application/json"}


def admin_body_attack(base_url: str) -> Outcome:
    """Every admin route that takes a body, with a malformed body and no token: must be 401."""
    schema = httpx.get(f"{base_url}/openapi.json", timeout=60.0).json()
    statuses = []
    with httpx.Client(base_url=base_url, timeout=60.0) as client:
        for path, ops in schema["paths"].items():
            if "/admin" not in path:
                continue
            url = re.sub(r"\{[^}]+\}", "x", path)
            for method in ("post", "put", "patch", "delete"):
                if method in ops:
                    for body in (b"{not json", b'{"unexpected": [1, 2]}', b""):
                        answer = client.request(method.upper(), url, content=body, headers=JSON)
                        statuses.append(answer.status_code)
    wrong = sum(1 for s in statuses if s != 401)
    return Outcome(len(statuses), wrong, wrong, dict(Counter(statuses)))


_CHANGE = re.compile(r"largest change \|Δμ\|\+\|Δσ\| = ([0-9.eE+-]+|nan|inf)")


def recompute_attack(
    base_url: str, database_url: str, data_dir: Path, arena: str, *, seconds: float
) -> tuple[int, int, float]:
    """Votes land for ``seconds`` while the store's ``recompute_report`` runs in a loop and
    ``karena recompute`` runs once beside it. Returns (reports, with drift, largest drift)."""
    from karena.settings import Settings
    from karena.store.api import Store

    stop = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        load = pool.submit(run_load, base_url, arena=arena, max_votes=100_000,
                           max_seconds=seconds, voters=2, seed=11, stop=stop)  # fmt: skip
        settings = Settings(data_dir=data_dir, database_url=database_url,
                            voter_salt=SecretStr(TEST_VOTER_SALT))  # fmt: skip
        changes = []
        cli = Path(sys.executable).with_name("karena")
        command = [str(cli), "recompute", "--arena", arena, "--database-url", database_url]
        env = {**os.environ, "KARENA_VOTER_SALT": TEST_VOTER_SALT}
        with (
            subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as cli_run,
            Store.open(settings, migrate=False) as store,
        ):
            changes.append(store.boards.recompute_report(arena=arena).largest_change)
            while not load.done():
                changes.append(store.boards.recompute_report(arena=arena).largest_change)
            out, _ = cli_run.communicate(timeout=120)
        found = _CHANGE.search(out or "")
        changes.append(float(found.group(1)) if found else float("inf"))
        stop.set()
        load.result()
    drifting = [c for c in changes if c != 0.0]
    return len(changes), len(drifting), max(changes, default=0.0)
