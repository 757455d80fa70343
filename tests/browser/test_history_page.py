"""The model page's rating-over-time plot and the leaderboard's movement column, in headless
Chromium against a real ``karena serve``.

The screenshot ``model_history.png`` goes to ``$KARENA_SCREENSHOT_DIR`` when set
(benchmarks/results/ for the one docs/web.md shows), else to the test's tmp dir.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from karena.store.api import Store
from tests.browser.test_vote_flow import _shots, browser  # noqa: F401 (a fixture)
from tests.store.helpers import relax, shown_models
from tests.web.conftest import make_settings, seed_demo_arena
from tests.web.server import KarenaServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VOTES = 128  # 8 batch points, one every 16 votes (a power of two)
WINDOW = 32


def _vote(store: Store) -> None:
    """Noisy rankings by a fixed quality, then in the last WINDOW votes the worst model wins."""
    relax(store)
    rng = np.random.default_rng(1)
    names = [m.name for m in store.catalog.list_models(arena="demo")]
    quality = {name: -i for i, name in enumerate(names)}
    for seed in range(VOTES):
        if seed == VOTES - WINDOW:
            quality[names[-1]] = 10
        battle = store.battles.create_battle(arena="demo", seed=seed)
        shown = shown_models(store, battle.token)
        score = [quality[m] + rng.normal(0.0, 1.0) for m in shown]
        ranks = [int(r) for r in np.argsort(np.argsort(score)[::-1]) + 1]
        store.voting.submit_vote(token=battle.token, mode="rank", ranks=ranks, voter_id="v")


@pytest.fixture
def server(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'karena.db'}"
    store = Store.open(make_settings(tmp_path, url))
    try:
        seed_demo_arena(store)
        _vote(store)
        names = [m.name for m in store.catalog.list_models(arena="demo")]
    finally:
        store.close()
    env = {"KARENA_MOVEMENT_VOTES": str(WINDOW), "KARENA_HISTORY_BATCH_POINTS": "8"}
    with KarenaServer(database_url=url, data_dir=tmp_path, env=env) as running:
        running.names = names  # type: ignore[attr-defined]
        yield running


def test_model_page_plots_the_rating_over_time(
    server: KarenaServer,
    browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    climber = server.names[-1]  # type: ignore[attr-defined]
    api = f"{server.base_url}/api/models/{climber}/history?arena=demo"
    deadline = time.monotonic() + 120
    while (history := httpx.get(api, timeout=30).json())["batch_pending"]:
        assert time.monotonic() < deadline, "the batch points were not fitted in time"
        time.sleep(0.2)
    assert len(history["batch"]) == 8 and history["batch_step"] == VOTES // 8
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto(f"{server.base_url}/models/{climber}?arena=demo")
    plot = page.locator("#history svg.history-plot")
    assert plot.is_visible()
    box = plot.bounding_box()
    assert box is not None and box["width"] > 400 and box["height"] > 120
    # The band, the μ line with one vertex per online point, and one square per batch point.
    assert plot.locator("polygon.band").count() == 1
    vertices = plot.locator("polyline.online").get_attribute("points")
    assert vertices is not None and len(vertices.split()) == len(history["online"])
    assert plot.locator("rect.batch").count() == 8
    caption = page.locator("#history figcaption").inner_text()
    assert "μ ± 1.96σ" in caption and f"every {VOTES // 8} votes" in caption
    # The climber's μ line ends higher than it stood before its late run of wins.
    online = history["online"]
    before = [p["mu"] for p in online if p["vote"] <= VOTES - WINDOW]
    assert online[-1]["mu"] > before[-1]
    page.screenshot(path=str(_shots(tmp_path) / "model_history.png"), full_page=False)

    page.goto(f"{server.base_url}/leaderboard?arena=demo&board=online")
    header = page.locator("#leaderboard thead th").all_inner_texts()
    assert "Movement" in header
    column = header.index("Movement")
    board = httpx.get(
        f"{server.base_url}/api/leaderboard?arena=demo&board=online", timeout=30
    ).json()
    rows = page.locator("#leaderboard tbody tr")
    shown = {}
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td")
        name = cells.nth(header.index("Model")).locator("a").inner_text()
        shown[name] = cells.nth(column).inner_text().strip()
    moved = {row["model"]: row["movement"] for row in board["rows"]}
    assert moved[climber] is not None and moved[climber] > 0
    assert shown[climber] == f"▲ {moved[climber]}"
    page.goto(f"{server.base_url}/models/{climber}?arena=demo")
    stat = page.locator("dl.stats div", has_text="Movement").locator("dd").inner_text()
    assert stat.strip() == f"▲ {moved[climber]}"
    for name, movement in moved.items():
        want = {None: "–", 0: "="}.get(movement)
        if want is None:
            want = f"▲ {movement}" if movement > 0 else f"▼ {-movement}"
        assert shown[name] == want
