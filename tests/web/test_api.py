"""The JSON API over HTTP (ASGI), on SQLite and PostgreSQL: battles, votes, errors, exports."""

from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
import pytest

from karena.generators.demo import DEMO_RENDERERS
from tests.web.conftest import ArenaApp

DEMO_NAMES = [r.name for r in DEMO_RENDERERS]


def _battle(app: ArenaApp) -> dict:
    response = app.client.post("/api/battles", json={"arena": "demo"})
    assert response.status_code == 201, response.text
    return response.json()


def _votes_total(app: ArenaApp) -> int:
    board = app.client.get("/api/leaderboard", params={"arena": "demo", "board": "online"}).json()
    return sum(row["votes"] for row in board["rows"])


def _assert_error_shape(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "detail"}
    assert isinstance(body["error"], str) and body["error"]
    assert "Traceback" not in response.text
    return body


def test_battle_is_anonymous(arena_app: ArenaApp) -> None:
    battle = _battle(arena_app)
    assert battle["k"] == 4 and len(battle["slots"]) == 4
    assert [s["label"] for s in battle["slots"]] == ["A", "B", "C", "D"]
    text = json.dumps(battle)
    for name in DEMO_NAMES:
        assert name not in text
    for position, slot in enumerate(battle["slots"]):
        assert slot["url"] == f"/b/{battle['token']}/{position}"


def test_media_is_served_without_identifying_headers(arena_app: ArenaApp) -> None:
    battle = _battle(arena_app)
    for slot in battle["slots"]:
        response = arena_app.client.get(slot["url"])
        assert response.status_code == 200
        assert response.headers["content-type"] == slot["content_type"]
        assert response.headers["cache-control"] == "no-store"
        assert response.headers.get_list("x-content-type-options") == ["nosniff"]
        for header in ("etag", "last-modified", "content-disposition"):
            assert header not in response.headers
        assert response.content[:3] == b"\xff\xd8\xff"  # JPEG (KARENA_MEDIA_SERVED_FORMAT)
    _assert_error_shape(arena_app.client.get(f"/b/{battle['token']}/7"), 404)
    _assert_error_shape(arena_app.client.get("/b/no-such-token/0"), 404)


def test_rank_vote_reveals_names_and_moves_ratings(arena_app: ArenaApp) -> None:
    battle = _battle(arena_app)
    before = _votes_total(arena_app)
    response = arena_app.client.post(
        f"/api/battles/{battle['token']}/vote", json={"mode": "rank", "ranks": [1, 2, 2, 4]}
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["replayed"] is False and result["counted"] is True
    assert sorted(c["position"] for c in result["contestants"]) == [0, 1, 2, 3]
    assert {c["model_name"] for c in result["contestants"]} <= set(DEMO_NAMES)
    by_position = {c["position"]: c for c in result["contestants"]}
    assert by_position[0]["delta_mu"] > 0 > by_position[3]["delta_mu"]
    assert by_position[1]["rank"] == by_position[2]["rank"] == 2
    # Every contestant gains a vote on the leaderboard.
    assert _votes_total(arena_app) == before + 4
    revealed = arena_app.client.get(f"/api/battles/{battle['token']}/result")
    assert revealed.status_code == 200 and revealed.json()["seq"] == result["seq"]


@pytest.mark.parametrize(
    "body",
    [{"mode": "best", "winner": 2}, {"mode": "tie"}, {"mode": "all_bad"}],
)
def test_other_vote_modes_are_accepted(arena_app: ArenaApp, body: dict) -> None:
    battle = _battle(arena_app)
    response = arena_app.client.post(f"/api/battles/{battle['token']}/vote", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["mode"] == body["mode"]
    if body["mode"] == "best":
        winner = next(c for c in result["contestants"] if c["position"] == 2)
        assert winner["rank"] == 1 and winner["delta_mu"] > 0


def test_resubmission_is_idempotent_and_a_different_vote_conflicts(arena_app: ArenaApp) -> None:
    battle = _battle(arena_app)
    url = f"/api/battles/{battle['token']}/vote"
    first = arena_app.client.post(url, json={"mode": "rank", "ranks": [2, 1, 3, 4]})
    assert first.status_code == 200
    total = _votes_total(arena_app)
    again = arena_app.client.post(url, json={"mode": "rank", "ranks": [2, 1, 3, 4]})
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert again.json()["seq"] == first.json()["seq"]
    other = arena_app.client.post(url, json={"mode": "rank", "ranks": [1, 2, 3, 4]})
    _assert_error_shape(other, 409)
    assert _votes_total(arena_app) == total


MALFORMED_VOTES = [
    {"mode": "rank", "ranks": [1, 2, 3]},
    {"mode": "rank", "ranks": [1, 2, 3, 4, 5]},
    {"mode": "rank", "ranks": [0, 1, 2, 3]},
    {"mode": "rank", "ranks": [-1, 1, 2, 3]},
    {"mode": "rank", "ranks": [1, 2, 3, 9]},
    {"mode": "rank", "ranks": [1.5, 2, 3, 4]},
    {"mode": "rank", "ranks": ["1", 2, 3, 4]},
    {"mode": "rank", "ranks": [True, 2, 3, 4]},
    {"mode": "rank", "ranks": None},
    {"mode": "rank"},
    {"mode": "best"},
    {"mode": "best", "winner": 4},
    {"mode": "best", "winner": -1},
    {"mode": "sideways"},
    {"mode": "rank", "ranks": [1, 2, 3, 4], "extra": 1},
    {},
]


def test_malformed_votes_get_422_and_store_nothing(arena_app: ArenaApp) -> None:
    battle = _battle(arena_app)
    url = f"/api/battles/{battle['token']}/vote"
    total = _votes_total(arena_app)
    for body in MALFORMED_VOTES:
        _assert_error_shape(arena_app.client.post(url, json=body), 422)
    assert _votes_total(arena_app) == total
    # The battle is still open for a good vote.
    assert arena_app.client.post(url, json={"mode": "tie"}).status_code == 200


def test_nan_and_garbage_bodies_get_422(arena_app: ArenaApp) -> None:
    battle = _battle(arena_app)
    url = f"/api/battles/{battle['token']}/vote"
    headers = {"content-type": "application/json"}
    for raw in ('{"mode": "rank", "ranks": [NaN, 1, 2, 3]}', "{not json", "[]", '"x"', ""):
        _assert_error_shape(arena_app.client.post(url, content=raw, headers=headers), 422)


def test_unknown_and_expired_battles(arena_app: ArenaApp) -> None:
    body = {"mode": "tie"}
    _assert_error_shape(arena_app.client.post("/api/battles/unknown/vote", json=body), 404)
    _assert_error_shape(arena_app.client.get("/api/battles/unknown"), 404)
    battle = _battle(arena_app)
    arena_app.clock.advance(arena_app.settings.battle_ttl_seconds + 1)
    expired = arena_app.client.post(f"/api/battles/{battle['token']}/vote", json=body)
    _assert_error_shape(expired, 410)


def test_unknown_arena_and_routes(arena_app: ArenaApp) -> None:
    _assert_error_shape(arena_app.client.post("/api/battles", json={"arena": "nope"}), 404)
    _assert_error_shape(arena_app.client.post("/api/battles", json={"arena": "../x"}), 422)
    _assert_error_shape(arena_app.client.get("/api/nothing-here"), 404)
    _assert_error_shape(arena_app.client.delete("/api/leaderboard"), 405)


def test_leaderboard_json_and_csv(arena_app: ArenaApp) -> None:
    battle = _battle(arena_app)
    url = f"/api/battles/{battle['token']}/vote"
    assert arena_app.client.post(url, json={"mode": "best", "winner": 0}).status_code == 200
    online = {"arena": "demo", "board": "online"}
    board = arena_app.client.get("/api/leaderboard", params=online).json()
    assert board["board"] == "online" and {row["model"] for row in board["rows"]} == set(DEMO_NAMES)
    scores = [row["score"] for row in board["rows"]]
    assert scores == sorted(scores, reverse=True)
    for row in board["rows"]:
        assert row["score"] == pytest.approx(row["mu"] - 3 * row["sigma"])
        assert row["ci_low"] == pytest.approx(row["mu"] - 1.959964 * row["sigma"], abs=1e-4)
    response = arena_app.client.get("/api/leaderboard", params={**online, "format": "csv"})
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["model"] for r in rows] == [r["model"] for r in board["rows"]]


def test_vote_export_in_three_formats(arena_app: ArenaApp) -> None:
    for ranks in ([1, 2, 3, 4], [4, 3, 2, 1]):
        battle = _battle(arena_app)
        url = f"/api/battles/{battle['token']}/vote"
        assert arena_app.client.post(url, json={"mode": "rank", "ranks": ranks}).status_code == 200
    jsonl = arena_app.client.get("/api/votes/export", params={"format": "jsonl"})
    assert jsonl.status_code == 200
    lines = [json.loads(line) for line in jsonl.text.splitlines() if line.strip()]
    assert len(lines) == 2
    csv_rows = list(
        csv.DictReader(io.StringIO(arena_app.client.get("/api/votes/export?format=csv").text))
    )
    assert len(csv_rows) == 2
    parquet = arena_app.client.get("/api/votes/export", params={"format": "parquet"})
    assert pq.read_table(io.BytesIO(parquet.content)).num_rows == 2


def test_model_page_json(arena_app: ArenaApp) -> None:
    battle = _battle(arena_app)
    url = f"/api/battles/{battle['token']}/vote"
    result = arena_app.client.post(url, json={"mode": "rank", "ranks": [1, 2, 3, 4]}).json()
    winner = next(c["model_name"] for c in result["contestants"] if c["rank"] == 1)
    page = arena_app.client.get(f"/api/models/{winner}", params={"arena": "demo"}).json()
    assert page["model"]["name"] == winner
    assert page["battles_total"] == 1
    assert {o["opponent"] for o in page["opponents"]} == {
        c["model_name"] for c in result["contestants"] if c["model_name"] != winner
    }
    assert all(o["wins"] == 1 and o["win_rate"] == 1.0 for o in page["opponents"])
    _assert_error_shape(arena_app.client.get("/api/models/nobody", params={"arena": "demo"}), 404)
