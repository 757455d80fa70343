"""The leaderboard's two boards in headless Chromium against a real ``karena serve``: the
server's background refresher fits the batch board (the default tab), the online board is one
click away, and the category picker shows a category's batch board.

The screenshots ``leaderboard_batch.png`` and ``leaderboard_online.png`` (docs/web.md) go to
``$KARENA_SCREENSHOT_DIR`` when set (benchmarks/results/ for the published ones), else to the
test's tmp dir.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from karena.generators.demo import DEMO_RENDERERS
from karena.store.api import Store
from tests.browser.test_vote_flow import _shots, browser  # noqa: F401 (a fixture)
from tests.store.helpers import relax, shown_models
from tests.web.conftest import make_settings, seed_demo_arena
from tests.web.server import KarenaServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: The truth the votes follow: the demo renderers in this order, best first.
TRUTH = [r.name for r in DEMO_RENDERERS]
VOTES = 120


def _vote(store: Store) -> None:
    relax(store)
    # Two categories: the demo's own, and "colours" for half of the prompts.
    prompts = store.catalog.list_prompts(arena="demo").items
    for p in prompts[::2]:
        with store.db.write_conn() as conn:
            conn.exec_driver_sql("UPDATE prompts SET category = 'colours' WHERE id = ?", (p.id,))
    for seed in range(VOTES):
        battle = store.battles.create_battle(arena="demo", seed=seed)
        shown = shown_models(store, battle.token)
        order = sorted(shown, key=TRUTH.index)
        if seed % 5 == 0:  # some noise: swap the top two now and then
            order[0], order[1] = order[1], order[0]
        ranks = [order.index(m) + 1 for m in shown]
        store.voting.submit_vote(token=battle.token, mode="rank", ranks=ranks, voter_id=f"v{seed}")


@pytest.fixture
def server(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'karena.db'}"
    store = Store.open(make_settings(tmp_path, url))
    try:
        seed_demo_arena(store)
        _vote(store)
    finally:
        store.close()
    env = {"KARENA_BATCH_BOARD_CHECK_SECONDS": "0.2"}
    with KarenaServer(database_url=url, data_dir=tmp_path, env=env) as running:
        yield running


def _open_fitted(page, url: str) -> None:
    """Load ``url`` until the background refresher has fitted the batch board."""
    deadline = time.monotonic() + 60
    while True:
        page.goto(url)
        if page.locator("#leaderboard").count() or time.monotonic() > deadline:
            return
        time.sleep(0.3)


def test_both_boards_and_a_category(server: KarenaServer, browser, tmp_path: Path) -> None:  # noqa: F811
    shots = _shots(tmp_path)
    page = browser.new_page(viewport={"width": 1100, "height": 1000})
    _open_fitted(page, f"{server.base_url}/leaderboard")
    # The default tab is the batch board, fitted by the server in the background.
    assert page.locator("#leaderboard").get_attribute("data-board") == "batch"
    assert page.locator("#tab-batch").get_attribute("aria-current") == "page"
    assert "the default ranking" in page.locator("#board-about").inner_text()
    fresh = page.locator("#batch-freshness").inner_text()
    assert f"Covers {VOTES} counted votes" in fresh and "0 votes cast since" in fresh
    headers = page.locator("#leaderboard thead th").all_inner_texts()
    assert [h.strip() for h in headers[:3]] == ["Rank", "Rank (UB)", "Model"]
    names = page.locator("#leaderboard tbody tr td:nth-child(3) a").all_inner_texts()
    assert names[:2] in (TRUTH[:2], TRUTH[1::-1]) and set(names) == set(TRUTH)
    ubs = [int(x) for x in page.locator("#leaderboard td.rank-ub").all_inner_texts()]
    assert ubs[0] == 1 and ubs == sorted(ubs) and ubs[-1] > 1  # the worst is told apart
    page.screenshot(path=str(shots / "leaderboard_batch.png"), full_page=True)

    # One click to the online board, which says what it is.
    page.locator("#tab-online").click()
    page.wait_for_url("**board=online**")
    assert page.locator("#leaderboard").get_attribute("data-board") == "online"
    assert "Online board" in page.locator("#board-about").inner_text()
    assert page.locator("#leaderboard th", has_text="Score").is_visible()
    page.screenshot(path=str(shots / "leaderboard_online.png"), full_page=True)

    # The category picker submits on change and shows that category's batch board.
    page.locator("#category-select").select_option("colours")
    page.wait_for_url("**category=colours**")
    assert page.locator("#leaderboard").get_attribute("data-board") == "batch"
    assert "category colours" in page.locator("#board-about").inner_text()
    covered = int(page.locator("#votes-fitted").inner_text())
    assert 0 < covered < VOTES
    assert page.locator("#category-select").input_value() == "colours"
    export = page.locator(".downloads a", has_text="JSONL").get_attribute("href")
    assert export is not None and "category=colours" in export


def test_the_batch_board_fits_a_phone(server: KarenaServer, browser, tmp_path: Path) -> None:  # noqa: F811
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    _open_fitted(page, f"{server.base_url}/leaderboard")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    headers = page.locator("#leaderboard thead th")
    visible = [h.inner_text().strip() for h in headers.all() if h.is_visible()]
    for name in ("Rank", "Rank (UB)", "Model", "Rating", "95% interval", "Votes"):
        assert any(" ".join(h.split()).startswith(name) for h in visible), visible
    edges = headers.evaluate_all(
        "els => els.filter(e => e.offsetParent).map(e => e.getBoundingClientRect().right)"
    )
    assert max(edges) <= 390, edges  # every column on screen, none behind a scroll
    assert (
        page.locator("#tab-online").is_visible() and page.locator("#category-select").is_visible()
    )
    page.screenshot(path=str(_shots(tmp_path) / "leaderboard_batch_phone.png"), full_page=True)
