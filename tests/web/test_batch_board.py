"""The batch board on the server: the background refresher, the admin refit, the CLI refit."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from karena.cli.main import build_app
from tests.web.conftest import ADMIN_TOKEN, AppFactory, ArenaApp

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def cast(app: ArenaApp, n: int, ranks: tuple[int, ...] = (1, 2, 3, 4)) -> None:
    """``n`` votes through the API, each ranking the battle's positions as ``ranks``."""
    for _ in range(n):
        battle = app.client.post("/api/battles", json={"arena": "demo"})
        assert battle.status_code == 201, battle.text
        vote = app.client.post(
            f"/api/battles/{battle.json()['token']}/vote", json={"mode": "rank", "ranks": ranks}
        )
        assert vote.status_code == 200, vote.text


def wait_for(predicate, seconds: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_the_background_refresher_fits_after_votes(make_app: AppFactory) -> None:
    app = make_app(
        batch_board_check_seconds=0.1,
        batch_board_min_new_votes=5,
        batch_board_min_interval_seconds=0,
    )
    with app.client:  # runs the lifespan: the refresher thread starts
        assert app.client.app.state.batch_refresher is not None  # type: ignore[attr-defined]
        assert app.store.boards.batch_board(arena="demo").fitted_at is None
        cast(app, 1)  # no board yet: the first vote is enough
        assert wait_for(lambda: app.store.boards.batch_board(arena="demo").votes == 1)
        board = app.store.boards.batch_board(arena="demo")
        assert len(board.rows) == len(app.arena.models)
        assert all(r.rank_ub is not None for r in board.rows)
        cast(app, 4)  # 4 new votes < 5: not due
        time.sleep(0.5)
        assert app.store.boards.batch_board(arena="demo").votes == 1
        cast(app, 1)
        assert wait_for(lambda: app.store.boards.batch_board(arena="demo").votes == 6)
        refresher = app.client.app.state.batch_refresher  # type: ignore[attr-defined]
        assert refresher.fits == 2
    assert not refresher._thread.is_alive()  # the lifespan stopped it


def test_a_fit_in_a_child_process_gives_the_same_board(arena_app: ArenaApp) -> None:
    from karena.web.batch_refresher import ChildProcessFit

    cast(arena_app, 10)
    store = arena_app.store
    store.boards.refresh_batch_board(arena="demo")  # in this thread
    here = store.boards.batch_board(arena="demo").rows
    cast(arena_app, 1)  # something new, so the second fit is a fit of its own
    store.boards.refresh_batch_board(arena="demo", fit=ChildProcessFit())
    child = store.boards.batch_board(arena="demo")
    assert child.votes == 11 and len(child.rows) == len(here)
    assert all(r.ci_low < r.mu < r.ci_high and r.rank_ub is not None for r in child.rows)
    # the same votes give the same board wherever it is fitted (a fixed bootstrap seed)
    store.boards.refresh_batch_board(arena="demo")
    assert store.boards.batch_board(arena="demo").rows == child.rows


def test_stopping_ends_a_fit_in_progress_and_frees_the_claim(make_app: AppFactory) -> None:
    import threading

    from karena.web.batch_refresher import BatchBoardRefresher

    app = make_app(batch_board_rounds=5000)
    cast(app, 30)
    refresher = BatchBoardRefresher(app.store, 0.05)
    refresher.start()
    assert wait_for(lambda: app.store.boards.batch_board(arena="demo").fitting)
    stopper = threading.Thread(target=refresher.stop)
    started = time.monotonic()
    stopper.start()
    stopper.join(30)
    assert time.monotonic() - started < 10  # the child was ended, not waited for
    board = app.store.boards.batch_board(arena="demo")
    assert board.fitted_at is None and not board.fitting  # no board, and the claim is free
    assert refresher.fits == 0 and refresher.child is not None
    assert app.store.boards.refresh_batch_board(arena="demo").fitted  # another worker may fit


def test_no_refresher_when_switched_off(make_app: AppFactory) -> None:
    app = make_app(batch_board_check_seconds=0)
    with app.client:
        assert app.client.app.state.batch_refresher is None  # type: ignore[attr-defined]
        cast(app, 2)
        time.sleep(0.3)
        assert app.store.boards.batch_board(arena="demo").fitted_at is None


def test_admin_refit_on_demand(arena_app: ArenaApp) -> None:
    cast(arena_app, 4)
    client = arena_app.client
    anonymous = client.post("/api/admin/batch-board/refresh", params={"arena": "demo"})
    assert anonymous.status_code == 401
    done = client.post("/api/admin/batch-board/refresh", params={"arena": "demo"}, headers=AUTH)
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["fitted"] and body["votes"] == 4 and body["boards"] >= 1
    assert arena_app.store.boards.batch_board(arena="demo").votes == 4
    missing = client.post("/api/admin/batch-board/refresh", params={"arena": "nope"}, headers=AUTH)
    assert missing.status_code == 404 and "Traceback" not in missing.text
    bad = client.post("/api/admin/batch-board/refresh", params={"arena": "NO PE"}, headers=AUTH)
    assert bad.status_code == 422


def test_admin_refit_while_another_worker_fits_is_409(arena_app: ArenaApp) -> None:
    from datetime import timedelta

    from karena.store.batch_boards import claim_arena

    cast(arena_app, 2)
    arena_id = arena_app.store.catalog.get_arena(slug="demo").id
    now = arena_app.clock()
    with arena_app.store.db.write_conn() as conn:
        assert claim_arena(conn, arena_id, now=now, stale_before=now - timedelta(seconds=600))
    busy = arena_app.client.post(
        "/api/admin/batch-board/refresh", params={"arena": "demo"}, headers=AUTH
    )
    assert busy.status_code == 409 and "another worker" in busy.json()["error"]


def test_cli_refresh_and_show(arena_app: ArenaApp) -> None:
    cast(arena_app, 5)
    env = {
        "KARENA_DATA_DIR": str(arena_app.settings.data_dir),
        "KARENA_DATABASE_URL": arena_app.settings.resolved_database_url(),
    }
    runner = CliRunner()
    before = runner.invoke(build_app(), ["board", "show", "--arena", "demo"], env=env)
    assert before.exit_code == 0 and "no batch board yet" in before.output
    done = runner.invoke(build_app(), ["board", "refresh"], env=env, catch_exceptions=False)
    assert done.exit_code == 0 and "demo: fitted 5 votes" in done.output
    shown = runner.invoke(build_app(), ["board", "show", "-a", "demo"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "batch board of 5 votes" in shown.output and "rank (UB)" in shown.output
    for model in arena_app.arena.models:
        assert model.name in shown.output


def test_the_default_board_is_the_batch_board(arena_app: ArenaApp) -> None:
    client = arena_app.client
    empty = client.get("/api/leaderboard", params={"arena": "demo"}).json()
    assert empty["board"] == "batch" and empty["rows"] == [] and empty["fitted_at"] is None
    assert empty["votes_fitted"] == 0 and empty["categories"] == ["demo-shapes"]
    cast(arena_app, 12)
    arena_app.store.boards.refresh_batch_board(arena="demo")
    cast(arena_app, 2)  # after the fit: not in it yet
    board = client.get("/api/leaderboard", params={"arena": "demo"}).json()
    assert board["board"] == "batch" and board["category"] is None
    assert board["votes_fitted"] == 12 and board["votes_since"] == 2
    assert board["fitted_at"] is not None and board["last_updated"] == board["fitted_at"]
    rows = board["rows"]
    assert {r["model"] for r in rows} == {m.name for m in arena_app.arena.models}
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    assert sum(r["votes"] for r in rows) == 12 * 4
    lows = [r["ci_low"] for r in rows]
    for r in rows:
        assert r["ci_low"] < r["mu"] < r["ci_high"] and r["score"] == r["mu"]
        assert r["rank_ub"] == 1 + sum(low > r["ci_high"] for low in lows)
    csv_text = client.get("/api/leaderboard", params={"arena": "demo", "format": "csv"})
    assert 'filename="leaderboard-demo-batch.csv"' in csv_text.headers["content-disposition"]
    lines = csv_text.text.splitlines()
    assert lines[0].startswith("rank,rank_ub,model,") and len(lines) == len(rows) + 1


def test_the_online_board_has_rank_ub_too(arena_app: ArenaApp) -> None:
    cast(arena_app, 6)
    board = arena_app.client.get("/api/leaderboard", params={"board": "online"}).json()
    assert board["board"] == "online" and board["fitted_at"] is None
    lows = [r["ci_low"] for r in board["rows"]]
    for r in board["rows"]:
        assert r["score"] == r["mu"] - 3 * r["sigma"]
        assert r["rank_ub"] == 1 + sum(low > r["ci_high"] for low in lows)


@pytest.mark.parametrize(
    ("params", "status", "says"),
    [
        ({"board": "elo"}, 422, "board"),
        ({"board": "online", "category": "demo-shapes"}, 422, "category boards are batch boards"),
        ({"category": "sports"}, 404, "no prompts in category 'sports'"),
        ({"category": ""}, 422, "category"),
        ({"category": "x" * 65}, 422, "category"),
    ],
)
def test_bad_board_or_category_is_a_clear_4xx(
    arena_app: ArenaApp, params: dict[str, str], status: int, says: str
) -> None:
    response = arena_app.client.get("/api/leaderboard", params={"arena": "demo", **params})
    assert response.status_code == status, response.text
    assert says in response.text and "Traceback" not in response.text


def test_the_page_says_which_board_is_which_and_how_fresh(arena_app: ArenaApp) -> None:
    client = arena_app.client
    unfitted = client.get("/leaderboard").text
    assert 'id="tab-batch" href="/leaderboard?arena=demo&amp;board=batch" aria-current="page"' in (
        unfitted
    )
    assert "Not fitted yet" in unfitted and 'id="no-rows"' in unfitted
    cast(arena_app, 5)
    arena_app.store.boards.refresh_batch_board(arena="demo")
    cast(arena_app, 1)
    html = client.get("/leaderboard").text
    assert "<strong>Batch board</strong> (the default ranking)" in html
    assert 'data-board="batch"' in html and '<strong id="votes-fitted">5</strong>' in html
    assert '<span id="votes-since">1</span> votes cast since' in html
    for heading in ("Rank", "Rank (UB)", "Model", "Rating", "σ", "95% interval", "Votes"):
        assert f'<button type="button">{heading}</button>' in html
    assert html.count("<tr class=") == len(arena_app.arena.models)
    assert "board=batch&amp;format=csv" in html
    online = client.get("/leaderboard", params={"board": "online"}).text
    assert "<strong>Online board</strong>" in online and 'data-board="online"' in online
    assert 'id="tab-online" href="/leaderboard?arena=demo&amp;board=online" aria-current' in online
    bad = client.get("/leaderboard", params={"board": "nope"}, headers={"accept": "text/html"})
    assert bad.status_code == 422 and "Traceback" not in bad.text


@pytest.mark.postgres
def test_two_served_workers_refit_in_the_background_while_fifty_voters_vote(
    postgres_url: str, tmp_path: Path
) -> None:
    """``karena serve --workers 2`` on PostgreSQL: both workers run a refresher (each fit in a
    child process); no vote is lost and the board catches up with every vote."""
    import asyncio

    import httpx

    from karena.store.api import Store
    from tests.web.conftest import make_settings, seed_demo_arena
    from tests.web.server import KarenaServer
    from tests.web.test_server import _simulate

    store = Store.open(make_settings(tmp_path, postgres_url))
    try:
        seed_demo_arena(store)
    finally:
        store.close()
    env = {
        "KARENA_BATCH_BOARD_CHECK_SECONDS": "0.2",
        "KARENA_BATCH_BOARD_MIN_NEW_VOTES": "1",
        "KARENA_BATCH_BOARD_MIN_INTERVAL_SECONDS": "0",
    }
    with KarenaServer(database_url=postgres_url, data_dir=tmp_path, workers=2, env=env) as server:
        acked = asyncio.run(_simulate(server.base_url, voters=50, votes_each=2))
        assert len(acked) == 100

        def board() -> dict:  # type: ignore[type-arg]
            return httpx.get(f"{server.base_url}/api/leaderboard", timeout=30).json()  # type: ignore[no-any-return]

        assert wait_for(lambda: board()["votes_fitted"] == 100, seconds=90)
        final = board()
        assert final["board"] == "batch" and final["votes_since"] == 0
        assert sum(r["votes"] for r in final["rows"]) == 400
        assert all(r["rank_ub"] >= 1 for r in final["rows"])


def test_a_category_without_votes_says_so(arena_app: ArenaApp) -> None:
    arena_app.store.catalog.add_prompt(arena="demo", text="a quiet square", category="quiet")
    cast(arena_app, 3)
    arena_app.store.boards.refresh_batch_board(arena="demo")
    html = arena_app.client.get("/leaderboard", params={"category": "quiet"}).text
    assert "No counted votes in this category yet." in html
    assert '<strong id="votes-fitted">0</strong>' in html
    body = arena_app.client.get("/api/leaderboard", params={"category": "quiet"}).json()
    assert body["rows"] == [] and body["votes_fitted"] == 0 and body["fitted_at"] is not None
