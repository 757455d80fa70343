"""In headless Chromium: the API docs render with no request leaving the server (finding 14.1),
and the leaderboard keeps its important columns and readable chart labels at 390 px (14.6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.test_vote_flow import _shots, browser, server  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _offline_page(browser, base_url: str):  # type: ignore[no-untyped-def]  # noqa: F811
    """A page on which any request that is not to ``base_url`` is recorded and refused.

    Loads that the page's own CSP blocks never become requests; they are recorded apart.
    """
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    external: list[str] = []
    errors: list[str] = []
    blocked: list[str] = []

    def route(route) -> None:  # type: ignore[no-untyped-def]
        url = route.request.url
        if url.startswith(base_url) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            external.append(url)
            route.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: blocked.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    return page, external, errors, blocked


def test_swagger_ui_renders_offline(server, browser, tmp_path: Path) -> None:  # noqa: F811
    """/docs was blank offline: ``SwaggerUIBundle is not defined`` (its script was on a CDN)."""
    page, external, errors, blocked = _offline_page(browser, server.base_url)
    page.goto(server.base_url + "/docs")
    page.locator(".swagger-ui .info .title").wait_for(state="visible", timeout=30_000)
    assert "karena" in page.locator(".swagger-ui .info .title").inner_text()
    page.locator(".opblock-summary-path", has_text="/api/leaderboard").first.wait_for()
    assert page.locator(".opblock").count() >= 10
    assert external == [] and errors == [] and blocked == []
    page.screenshot(path=str(_shots(tmp_path) / "api_docs.png"))


def test_redoc_renders_offline(server, browser) -> None:  # noqa: F811
    page, external, errors, blocked = _offline_page(browser, server.base_url)
    page.goto(server.base_url + "/redoc")
    page.locator("h1", has_text="karena").first.wait_for(state="visible", timeout=30_000)
    page.get_by_text("/api/leaderboard").first.wait_for(state="attached")
    assert external == [] and errors == []
    # ReDoc's sidebar logo is on redoc.ly's CDN: the docs CSP stops it before any request.
    assert all("cdn.redoc.ly/redoc/logo-mini.svg" in b for b in blocked), blocked


def _right_edge(locator) -> float:  # type: ignore[no-untyped-def]
    box = locator.bounding_box()
    assert box is not None and box["width"] > 0
    return float(box["x"] + box["width"])


def test_phone_leaderboard_keeps_its_important_columns(server, browser, tmp_path: Path) -> None:  # noqa: F811
    """At 390 px only Rank and Model showed, and the chart's names were about 6 px tall."""
    width = 390
    page = browser.new_page(viewport={"width": width, "height": 844}, is_mobile=True)
    page.goto(server.base_url + "/leaderboard?board=online")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    headers = page.locator("#leaderboard thead th")
    visible = [
        headers.nth(i).inner_text().replace("\n", " ").strip()
        for i in range(headers.count())
        if headers.nth(i).is_visible()
    ]
    for name in ("Rank", "Model", "Score", "95% interval", "Votes"):
        assert any(h.startswith(name) for h in visible), visible
    for i in range(headers.count()):
        if headers.nth(i).is_visible():
            assert _right_edge(headers.nth(i)) <= width, visible[i:]
    rows = page.locator("#leaderboard tbody tr")
    assert rows.count() == 6
    for cell in rows.first.locator("td").all():
        if cell.is_visible():
            assert _right_edge(cell) <= width
    # The chart: the compact drawing, with names at a readable size.
    assert not page.locator("svg.interval-plot").is_visible()
    compact = page.locator("svg.interval-plot-compact")
    assert compact.is_visible()
    heights = compact.locator("text.label").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().height)"
    )
    assert len(heights) == 6 and min(heights) >= 12  # ≈ 12.5 px text; the wide one was ≈ 6 px
    page.screenshot(path=str(_shots(tmp_path) / "leaderboard_phone.png"), full_page=True)

    wide = browser.new_page(viewport={"width": 1280, "height": 900})
    wide.goto(server.base_url + "/leaderboard?board=online")
    assert wide.locator("svg.interval-plot").is_visible()
    assert not wide.locator("svg.interval-plot-compact").is_visible()
    assert wide.locator("#leaderboard th", has_text="σ").is_visible()


def test_reveal_after_all_bad_and_the_colour_of_changes(server, browser) -> None:  # noqa: F811
    """After "All bad" every card said "rank 1"; a green "+2.79" score sat beside "μ −4.40"."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server.base_url + "/")
    page.locator("#vote-all-bad").click()
    page.locator(".reveal .model-name").first.wait_for(state="visible", timeout=30_000)
    assert page.locator(".revealed-rank").all_inner_texts() == ["all bad"] * 4
    page.locator("#next-battle").click()
    page.locator(".output").first.click()
    for key in "1234":
        page.keyboard.press(key)
    page.locator("#submit-rank").click()
    page.locator(".reveal .model-name").first.wait_for(state="visible", timeout=30_000)
    assert page.locator(".revealed-rank").all_inner_texts() == [f"rank {r}" for r in (1, 2, 3, 4)]
    for card in page.locator(".reveal .delta").all():
        mu = float(card.locator(".delta-mu").inner_text().removeprefix("μ "))
        classes = card.get_attribute("class") or ""
        assert ("up" in classes.split()) == (mu > 0) and ("down" in classes.split()) == (mu < 0)
        colour = card.locator(".delta-score").evaluate("e => getComputedStyle(e).color")
        assert colour == "rgb(107, 107, 118)"  # the score change is grey, whatever its sign
    # The winner's μ rose (green), the last one's fell (red).
    colours = page.locator(".delta-mu").evaluate_all(
        "els => els.map(e => getComputedStyle(e).color)"
    )
    assert colours[0] == "rgb(29, 138, 74)" and colours[3] == "rgb(194, 58, 43)"
