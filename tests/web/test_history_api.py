"""The rating history endpoint and the movement column over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime

import pytest

from tests.web.conftest import ArenaApp
from tests.web.test_api import _assert_error_shape, _battle

ORDERS = ([1, 2, 3, 4], [2, 1, 4, 3], [4, 3, 1, 2], [1, 3, 2, 4])


def _cast(app: ArenaApp, n: int) -> None:
    for i in range(n):
        battle = _battle(app)
        url = f"/api/battles/{battle['token']}/vote"
        body = {"mode": "rank", "ranks": ORDERS[i % len(ORDERS)]}
        assert app.client.post(url, json=body).status_code == 200


def _history(app: ArenaApp, model: str, **params: object) -> dict:
    response = app.client.get(f"/api/models/{model}/history", params={"arena": "demo", **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_history_ends_at_the_live_rating_of_every_model(make_app) -> None:
    app = make_app(history_batch_points=3)
    _cast(app, 12)
    board = app.client.get("/api/leaderboard", params={"arena": "demo", "board": "online"}).json()
    for row in board["rows"]:
        history = _history(app, row["model"])
        assert history["arena"] == "demo" and history["model"] == row["model"]
        assert history["arena_votes"] == 12 and history["rating_model"] == "thurstone"
        if row["votes"] == 0:
            assert history["online"] == []
            continue
        last = history["online"][-1]
        # JSON floats round-trip exactly: the last point is the live rating, bit for bit.
        assert (last["mu"], last["sigma"], last["votes"]) == (row["mu"], row["sigma"], row["votes"])
        assert [p["votes"] for p in history["online"]] == list(range(1, row["votes"] + 1))
        votes = [p["vote"] for p in history["online"]]
        assert votes == sorted(set(votes)) and votes[-1] <= 12
        times = [datetime.fromisoformat(p["time"]) for p in history["online"]]
        assert times == sorted(times)
    # Fewer points on request: the first and last are kept.
    name = board["rows"][0]["model"]
    short = _history(app, name, points=2)["online"]
    full = _history(app, name)["online"]
    assert short == [full[0], full[-1]]


def test_batch_points_arrive_after_their_background_fit(make_app) -> None:
    app = make_app(history_batch_points=3)
    _cast(app, 12)
    # A model of the first vote: it is on the board of every prefix (a model that first plays
    # after vote 4 has no point at 4, and the matchmaker's picks are random).
    name = next(iter(app.store.voting.iter_votes(arena="demo"))).models[0]
    deadline = time.monotonic() + 60
    while (history := _history(app, name))["batch_pending"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert history["batch_step"] == 4
    assert [p["vote"] for p in history["batch"]] == [4, 8, 12]
    for point in history["batch"]:
        assert point["ci_low"] == point["mu"] == point["ci_high"]  # no bootstrap by default
        assert 1 <= point["rank"] <= len(app.arena.models)


def test_history_errors_are_clear_4xx(arena_app: ArenaApp) -> None:
    client = arena_app.client
    name = arena_app.arena.models[0].name
    missing = _assert_error_shape(client.get("/api/models/nobody/history?arena=demo"), 404)
    assert "nobody" in missing["error"]
    _assert_error_shape(client.get(f"/api/models/{name}/history?arena=nowhere"), 404)
    _assert_error_shape(client.get(f"/api/models/{name}/history?arena=../x"), 422)
    for points in ("1", "1001", "many", "-5"):
        _assert_error_shape(client.get(f"/api/models/{name}/history?points={points}"), 422)
    # The arena defaults to the first; a model without votes has an empty online series.
    fresh = client.get(f"/api/models/{name}/history")
    assert fresh.status_code == 200 and fresh.json()["online"] == []


def test_movement_in_the_leaderboard_json_and_csv(make_app) -> None:
    app = make_app(movement_votes=4)
    _cast(app, 4)
    board = app.client.get("/api/leaderboard", params={"arena": "demo", "board": "online"}).json()
    assert all(row["movement"] is None for row in board["rows"])  # no more votes than 4
    _cast(app, 8)
    board = app.client.get("/api/leaderboard", params={"arena": "demo", "board": "online"}).json()
    voted = [row for row in board["rows"] if row["votes"]]
    # A model has a movement exactly when it had votes 4 votes ago (its first vote ≤ 8).
    assert any(row["movement"] is not None for row in board["rows"])
    first = {row["model"]: _history(app, row["model"])["online"][0]["vote"] for row in voted}
    assert {row["model"] for row in board["rows"] if row["movement"] is not None} == {
        name for name, vote in first.items() if vote <= 8
    }
    response = app.client.get(
        "/api/leaderboard", params={"arena": "demo", "board": "online", "format": "csv"}
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["movement"] for r in rows] == [
        "" if row["movement"] is None else str(row["movement"]) for row in board["rows"]
    ]


def test_model_page_on_a_cold_worker_reads_the_log_in_the_background(
    make_app, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    _cast(app, 12)
    monkeypatch.setattr("karena.store.history.COLD_READ_VOTES", 5)  # 12 votes count as long
    name = app.arena.models[0].name  # (a leaderboard read would start the read already)
    first = app.client.get(f"/models/{name}", params={"arena": "demo"})
    assert first.status_code == 200 and 'id="history-pending"' in first.text
    deadline = time.monotonic() + 30
    while 'class="history-plot"' not in (
        page := app.client.get(f"/models/{name}", params={"arena": "demo"}).text
    ):
        assert time.monotonic() < deadline, "the vote log was not read in the background"
        time.sleep(0.02)
    assert 'id="history-pending"' not in page
