"""Export → replay → the arena's own leaderboard, on a real ``karena serve`` (finding 14.2).

Votes of every kind go through the HTTP API from several voters; one voter is banned, so the
export holds ``"counted": false`` records. ``karena replay`` of what ``karena export`` wrote (and
of the API's own JSONL download) must rank the models exactly as ``/api/leaderboard`` does.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from karena.settings import Settings
from karena.store import Store
from tests.cli.conftest import Karena
from tests.conftest import seed_arena
from tests.web.server import KarenaServer

pytestmark = pytest.mark.slow

#: (voter, vote body) in the order cast; K = 4.
VOTES = [
    ("ana", {"mode": "rank", "ranks": [1, 2, 3, 4]}),
    ("ben", {"mode": "rank", "ranks": [2, 1, 1, 4]}),
    ("ana", {"mode": "best", "winner": 2}),
    ("cy", {"mode": "tie"}),
    ("ben", {"mode": "all_bad"}),
    ("cy", {"mode": "rank", "ranks": [4, 3, 2, 1]}),
    ("spam", {"mode": "rank", "ranks": [1, 2, 3, 4]}),
    ("spam", {"mode": "best", "winner": 0}),
    ("ana", {"mode": "rank", "ranks": [3, 1, 4, 2]}),
    ("ben", {"mode": "best", "winner": 3}),
    ("cy", {"mode": "rank", "ranks": [1, 3, 2, 4]}),
    ("spam", {"mode": "rank", "ranks": [4, 3, 2, 1]}),
]


def _vote_through_the_api(base_url: str) -> str:
    """Cast VOTES, each voter with its own cookie; returns the stored hash of voter "spam"."""
    clients = {name: httpx.Client(base_url=base_url, timeout=30) for name, _ in VOTES}
    try:
        for name, body in VOTES:
            battle = clients[name].post("/api/battles", json={"arena": "img"})
            assert battle.status_code == 201, battle.text
            voted = clients[name].post(f"/api/battles/{battle.json()['token']}/vote", json=body)
            assert voted.status_code == 200, voted.text
    finally:
        for client in clients.values():
            client.close()
    export = httpx.get(f"{base_url}/api/votes/export", params={"arena": "img"}, timeout=30)
    records = [json.loads(line) for line in export.text.splitlines()]
    assert len(records) == len(VOTES)
    return str(records[6]["voter_hash"])  # the first vote of "spam"


def _board(base_url: str) -> list[tuple[str, float]]:
    """The served board's models with counted votes (a vote log knows no others)."""
    online = {"arena": "img", "board": "online"}
    rows = httpx.get(f"{base_url}/api/leaderboard", params=online, timeout=30).json()
    assert [r["model"] for r in rows["rows"] if r["votes"] == 0] == ["never-played"]
    return [(r["model"], r["score"]) for r in rows["rows"] if r["votes"] > 0]


def _replayed(karena: Karena, log: Path) -> list[tuple[str, float]]:
    ran = karena("replay", str(log), "--json", "-m", "thurstone")
    assert ran.code == 0, ran.err
    payload = json.loads(ran.out)
    return [(r["model"], r["score"]) for r in payload["leaderboard"]]


def test_export_replay_gives_the_served_leaderboard(
    karena: Karena, tmp_path: Path, database_url: str
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    with Store.open(settings) as store:
        seed_arena(store, slug="img", n_models=6, n_prompts=2, rating_model="thurstone")
        store.catalog.add_model(arena="img", name="never-played")
        store.catalog.set_model_enabled(arena="img", name="never-played", enabled=False)
    with KarenaServer(database_url=database_url, data_dir=tmp_path / "data") as server:
        spam = _vote_through_the_api(server.base_url)
        ran = karena("voter", "ban", spam, "--database-url", database_url)
        assert ran.out.startswith("banned; 3 earlier votes discounted")
        board = _board(server.base_url)
        downloaded = tmp_path / "downloaded.jsonl"
        response = httpx.get(
            f"{server.base_url}/api/votes/export", params={"arena": "img"}, timeout=30
        )
        downloaded.write_bytes(response.content)

    exported = tmp_path / "votes.jsonl"
    ran = karena("export", "--arena", "img", "-o", str(exported), "--database-url", database_url)
    assert ran.out.strip() == f"wrote {len(VOTES)} votes to {exported}"
    records = [json.loads(line) for line in exported.read_text().splitlines()]
    assert sum(not r["counted"] for r in records) == 3
    assert {r["mode"] for r in records} == {"rank", "best", "tie", "all_bad"}

    for log in (exported, downloaded):
        replayed = _replayed(karena, log)
        assert [m for m, _ in replayed] == [m for m, _ in board]
        for (_, ours), (_, served) in zip(replayed, board, strict=True):
            assert ours == pytest.approx(served, abs=1e-9)
    # The pure-Python reference reader agrees with the compiled one.
    ran = karena("replay", str(exported), "--json", "--reference")
    assert [r["model"] for r in json.loads(ran.out)["leaderboard"]] == [m for m, _ in board]
