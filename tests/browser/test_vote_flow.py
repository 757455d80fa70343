"""The voting flow in headless Chromium against a real ``karena serve``: Rank mode, Best mode,
the reveal, the leaderboard moving, and the page at phone width.

Screenshots go to ``$KARENA_SCREENSHOT_DIR`` when set (benchmarks/results/ for the published
ones), else to the test's tmp dir.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from karena.generators.demo import DEMO_RENDERERS
from karena.store.api import Store
from tests.web.conftest import make_settings, seed_demo_arena
from tests.web.server import KarenaServer

CHROMIUM = Path("/usr/bin/chromium")
DEMO_NAMES = {r.name for r in DEMO_RENDERERS}
pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def server(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'karena.db'}"
    store = Store.open(make_settings(tmp_path, url))
    try:
        seed_demo_arena(store)
    finally:
        store.close()
    with KarenaServer(database_url=url, data_dir=tmp_path) as running:
        yield running


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        try:
            yield launched
        finally:
            launched.close()


def _shots(tmp_path: Path) -> Path:
    target = os.environ.get("KARENA_SCREENSHOT_DIR")
    folder = Path(target) if target else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _leaderboard(page, base_url: str) -> dict[str, tuple[float, int]]:
    page.goto(f"{base_url}/leaderboard?board=online")
    rows = page.locator("#leaderboard tbody tr")
    board = {}
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td")
        name = cells.nth(2).locator("a").inner_text()
        score = float(cells.nth(3).get_attribute("data-value"))
        board[name] = (score, int(cells.nth(7).inner_text()))
    return board


def _revealed_names(page) -> set[str]:
    page.locator(".reveal .model-name").first.wait_for(state="visible", timeout=30_000)
    return set(page.locator(".reveal .model-name").all_inner_texts())


def test_rank_and_best_votes_move_the_leaderboard(server, browser, tmp_path: Path) -> None:
    shots = _shots(tmp_path)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    before = _leaderboard(page, server.base_url)
    assert set(before) == DEMO_NAMES and sum(v for _, v in before.values()) == 0

    # Rank mode with the keyboard: select A, then 1, 2, 2, 4 (selection advances; B and C tie).
    page.goto(server.base_url + "/")
    html = page.content()
    assert all(name not in html for name in DEMO_NAMES)
    page.locator(".output").first.click()
    for key in "1224":
        page.keyboard.press(key)
    assert page.locator(".output .rank-badge").all_inner_texts() == ["#1", "#2", "#2", "#4"]
    page.locator("#submit-rank").click()
    names = _revealed_names(page)
    assert len(names) == 4 and names <= DEMO_NAMES
    page.screenshot(path=str(shots / "vote_page.png"), full_page=True)

    # The next battle is one click away; vote in Best mode by clicking B's button.
    page.locator("#next-battle").click()
    page.locator("#mode-best").click()
    page.locator(".output").nth(1).locator(".best-button").click()
    assert len(_revealed_names(page)) == 4
    ranks = page.locator(".revealed-rank").all_inner_texts()
    assert ranks[1] == "best" and ranks.count("not best") == 3

    after = _leaderboard(page, server.base_url)
    assert sum(v for _, v in after.values()) == 8
    assert any(after[name][0] != before[name][0] for name in DEMO_NAMES)
    assert page.locator("svg.interval-plot").count() == 1
    page.screenshot(path=str(shots / "leaderboard.png"), full_page=True)

    # Sorting by a column reorders the rows in the browser.
    page.locator("#leaderboard th", has_text="Model").locator("button").click()
    sorted_names = page.locator("#leaderboard tbody tr td:nth-child(3) a").all_inner_texts()
    assert sorted_names == sorted(sorted_names)


def test_vote_page_fits_a_phone(server, browser, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    page.goto(server.base_url + "/")
    page.locator(".output img").first.wait_for(state="visible")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    # Tap targets: every rank button is at least 32 px tall.
    heights = page.locator(".rank-button").evaluate_all("els => els.map(e => e.offsetHeight)")
    assert min(heights) >= 32
    page.screenshot(path=str(_shots(tmp_path) / "vote_page_phone.png"), full_page=True)


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_served_battle_images_decode_in_chromium(tmp_path: Path, browser, fmt: str) -> None:
    """Every slot's image (the padded fixed-length JPEG by default, or the stored-block PNG)
    decodes in the browser at the canvas size: COM padding is skipped as JPEG requires."""
    url = f"sqlite:///{tmp_path / 'karena.db'}"
    store = Store.open(make_settings(tmp_path, url))
    try:
        seed_demo_arena(store)
    finally:
        store.close()
    env = {"KARENA_MEDIA_SERVED_FORMAT": fmt}
    with KarenaServer(database_url=url, data_dir=tmp_path, env=env) as running:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        responses = []
        page.on("response", lambda r: responses.append(r) if "/b/" in r.url else None)
        page.goto(running.base_url + "/")
        images = page.locator(".output img")
        images.first.wait_for(state="visible")
        page.wait_for_function(
            "() => [...document.querySelectorAll('.output img')].every(i => i.complete)"
        )
        sizes = images.evaluate_all("els => els.map(e => [e.naturalWidth, e.naturalHeight])")
    assert len(sizes) == 4 and all(tuple(s) == (512, 512) for s in sizes)
    assert {r.headers["content-type"] for r in responses} == {f"image/{fmt}"}
    assert len({int(r.headers["content-length"]) for r in responses}) == 1


@pytest.fixture
def demo(tmp_path: Path):
    """``karena demo`` (live renderers for typed prompts) on a free port."""
    from tests.web.server import free_port
    from tests.web.test_demo_command import _start, _stop, _wait

    data_dir, port = tmp_path / "demo-data", free_port()
    process = _start(data_dir, port)
    try:
        _wait(f"http://127.0.0.1:{port}/api/arenas", process, tmp_path / "demo.log")
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process)


def test_own_prompt_form_works_and_another_sites_copy_does_not(demo: str, browser) -> None:
    """R-CSRF-6 in a real browser: our page's typed-prompt form opens a battle; the same form
    posted from another origin (no cookie goes with it, no token) is refused with 403."""
    page = browser.new_page()
    page.goto(demo + "/")
    page.fill("#own-prompt", "two red circles")
    with page.expect_navigation():
        page.locator(".prompt-form button[type=submit]").click()
    assert "/battle/" in page.url
    assert "two red circles" in page.locator("#prompt-text").inner_text()

    other = browser.new_page()
    other.set_content(
        f'<form id="f" method="post" action="{demo}/battle">'
        '<input name="arena" value="demo"><input name="prompt" value="three red circles">'
        "</form>"
    )
    with other.expect_navigation() as navigation:
        other.evaluate("document.getElementById('f').submit()")
    response = navigation.value
    assert response is not None and response.status == 403
