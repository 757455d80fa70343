"""Hostile votes and battle tokens: every malformed ranking is a 422 that stores nothing; replays
are idempotent; unknown, forged and expired tokens get a clear 4xx."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.reliability import api
from tests.reliability.seed import ARENA
from tests.reliability.server import ServerProcess

#: Raw JSON bodies (text, so NaN and duplicate keys reach the server as sent). K is 4.
MALFORMED_VOTES: dict[str, str] = {
    "nan_rank": '{"mode": "rank", "ranks": [NaN, 1, 2, 3]}',
    "infinite_rank": '{"mode": "rank", "ranks": [Infinity, 1, 2, 3]}',
    "negative_rank": '{"mode": "rank", "ranks": [-1, 1, 2, 3]}',
    "zero_rank": '{"mode": "rank", "ranks": [0, 1, 2, 3]}',
    "too_few_ranks": '{"mode": "rank", "ranks": [1, 2, 3]}',
    "too_many_ranks": '{"mode": "rank", "ranks": [1, 2, 3, 4, 5]}',
    "rank_above_k": '{"mode": "rank", "ranks": [1, 2, 3, 9]}',
    "fractional_rank": '{"mode": "rank", "ranks": [1.5, 1, 2, 3]}',
    "string_ranks": '{"mode": "rank", "ranks": ["1", "2", "3", "4"]}',
    "boolean_ranks": '{"mode": "rank", "ranks": [true, false, true, false]}',
    "huge_rank": '{"mode": "rank", "ranks": [1000000000000000000000000000000, 1, 2, 3]}',
    "empty_ranks": '{"mode": "rank", "ranks": []}',
    "rank_mode_without_ranks": '{"mode": "rank"}',
    "best_winner_out_of_range": '{"mode": "best", "winner": 4}',
    "best_winner_negative": '{"mode": "best", "winner": -1}',
    "best_winner_nan": '{"mode": "best", "winner": NaN}',
    "best_without_winner": '{"mode": "best"}',
    "unknown_mode": '{"mode": "worst", "ranks": [1, 2, 3, 4]}',
    "extra_field": '{"mode": "rank", "ranks": [1, 2, 3, 4], "voter": "someone-else"}',
    "not_json": "mode=rank&ranks=1,2,3,4",
    "json_array": "[1, 2, 3, 4]",
    "nested_ranks": '{"mode": "rank", "ranks": [[1], [2], [3], [4]]}',
}


def _post_raw(client: httpx.Client, token: str, body: str, voter: str) -> httpx.Response:
    return client.post(
        f"/api/battles/{token}/vote",
        content=body.encode(),
        headers={"Content-Type": "application/json", **api.voter_cookie(voter)},
    )


def _valid_vote(client: httpx.Client, battle: api.Battle, voter: str) -> httpx.Response:
    ranks = tuple(range(battle.k, 0, -1))
    return api.submit_rank_vote(client, arena=ARENA, token=battle.token, ranks=ranks, voter=voter)


@pytest.mark.parametrize("case", sorted(MALFORMED_VOTES))
def test_malformed_vote_is_422_and_stores_nothing(shared_client: httpx.Client, case: str) -> None:
    """The malformed vote is refused with a message; the battle then takes a valid vote."""
    voter = f"malformed-{case}"
    battle = api.create_battle(shared_client, arena=ARENA, voter=voter)
    assert battle.k == 4
    response = _post_raw(shared_client, battle.token, MALFORMED_VOTES[case], voter)
    assert response.status_code == 422, response.text
    assert response.json()["error"]
    valid = _valid_vote(shared_client, battle, voter)
    assert valid.status_code == 200, valid.text
    assert valid.json()["replayed"] is False  # the refused vote left no trace
    assert valid.json()["ranks"] == [4, 3, 2, 1]


def test_duplicate_json_keys_do_not_split_what_is_stored(shared_client: httpx.Client) -> None:
    """With ``ranks`` given twice, what is stored is exactly what the reveal reports."""
    battle = api.create_battle(shared_client, arena=ARENA, voter="dupkeys")
    body = '{"mode": "rank", "ranks": [1, 2, 3, 4], "ranks": [4, 3, 2, 1]}'
    response = _post_raw(shared_client, battle.token, body, "dupkeys")
    assert response.status_code in (200, 422), response.text
    if response.status_code == 200:
        result = shared_client.get(f"/api/battles/{battle.token}/result").json()
        assert result["ranks"] == response.json()["ranks"]


def test_replayed_vote_is_idempotent_and_a_different_one_conflicts(
    shared_client: httpx.Client,
) -> None:
    """Same token and ranks twice: one stored vote; different ranks afterwards: 409."""
    battle = api.create_battle(shared_client, arena=ARENA, voter="replayer")
    first = _valid_vote(shared_client, battle, "replayer")
    again = _valid_vote(shared_client, battle, "replayer")
    assert first.status_code == again.status_code == 200
    assert again.json()["replayed"] is True
    assert again.json()["seq"] == first.json()["seq"]
    other = api.submit_rank_vote(
        shared_client, arena=ARENA, token=battle.token, ranks=(1, 2, 3, 4), voter="replayer"
    )
    assert other.status_code == 409, other.text
    export = shared_client.get("/api/votes/export", params={"arena": ARENA})
    rows = [json.loads(line) for line in export.text.splitlines() if line.strip()]
    mine = [r for r in rows if r["battle"] == battle.token]
    assert len(mine) == 1 and mine[0]["ranks"] == [4, 3, 2, 1]


@pytest.mark.parametrize(
    "token",
    ["0" * 32, "forged-token-that-was-never-issued", "A" * 128, "x"],
    ids=["zeros", "forged", "max-length", "short"],
)
def test_unknown_or_forged_token_is_404(shared_client: httpx.Client, token: str) -> None:
    """A token the server never issued: 404 with a message for the vote, battle and media."""
    vote = api.submit_rank_vote(
        shared_client, arena=ARENA, token=token, ranks=(1, 2, 3, 4), voter="f"
    )
    assert vote.status_code == 404, vote.text
    assert vote.json()["error"]
    assert shared_client.get(f"/api/battles/{token}").status_code == 404
    assert shared_client.get(f"/b/{token}/0").status_code == 404


@pytest.mark.parametrize(
    "path",
    ["/api/battles/..%2F..%2Fetc%2Fpasswd/vote", "/api/battles/" + "A" * 5000 + "/vote",
     "/api/battles/%00/vote", "/b/..%2Fkarena.db/0", "/b/tok/99", "/b/tok/-1"],
    ids=["traversal", "oversized", "nul", "media-traversal", "slot-too-high", "slot-negative"],
)  # fmt: skip
def test_malformed_token_paths_get_a_clean_4xx(shared_client: httpx.Client, path: str) -> None:
    """Tokens that are not tokens never reach the database or the disk: 4xx JSON."""
    method = shared_client.post if path.endswith("/vote") else shared_client.get
    kwargs = {"json": {"mode": "tie"}} if path.endswith("/vote") else {}
    response = method(path, **kwargs)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/json")


def test_expired_battle_is_410_and_stores_nothing(locked_down_server: ServerProcess) -> None:
    """A vote after the battle's TTL (1 s here) is refused with 410; nothing is stored."""
    with httpx.Client(base_url=locked_down_server.base_url, timeout=30.0) as client:
        battle = api.create_battle(client, arena=ARENA, voter="late")
        time.sleep(1.5)
        late = _valid_vote(client, battle, "late")
        assert late.status_code == 410, late.text
        assert "expired" in late.json()["error"]
        export = client.get("/api/votes/export", params={"arena": ARENA})
        assert export.status_code == 200, export.text
        assert battle.token not in export.text
