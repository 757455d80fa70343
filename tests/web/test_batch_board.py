"""The batch board on the server: the background refresher, the admin refit, the CLI refit."""

from __future__ import annotations

import time

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
