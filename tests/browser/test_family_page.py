"""The variant family section in headless Chromium against a real ``karena serve``: a parent's
page lists its variants with their verdicts, and a variant's page states its own.

δ is widened to 3 rating points here (``KARENA_VARIANT_MARGIN``) so that an even variant is
found indistinguishable after ~100 head-to-heads instead of ~700 at the default δ = 1.

The screenshots ``model_family.png`` (a parent's variants) and ``model_family_variant.png`` (a
variant's verdict) go to ``$KARENA_SCREENSHOT_DIR`` when set (benchmarks/results/ for the ones
docs/variants.md shows), else to the test's tmp dir.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from karena.store.api import Store
from tests.browser.test_vote_flow import _shots, browser  # noqa: F401 (a fixture)
from tests.store.helpers import relax, shown_models
from tests.web.conftest import make_settings, seed_demo_arena
from tests.web.server import KarenaServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PARENT = "demo-faithful"
#: Always above, always below, alternately above and below the parent.
VARIANTS = ("demo-mirror", "demo-blurry", "demo-glitch")
MARGIN = 3.0


def _vote_families(store: Store) -> None:
    """Votes until mirror is better, blurry worse and glitch indistinguishable; miscount, after
    a few comparisons, is disabled (its record frozen) and stays undecided."""
    relax(store)
    for name in (*VARIANTS, "demo-miscount"):
        store.catalog.set_model_parent(arena="demo", name=name, parent=PARENT)
    store.catalog.set_paired_share(arena="demo", share=1.0)
    sides = {"demo-glitch": 0, "demo-miscount": 0}
    for seed in range(600):
        battle = store.battles.create_battle(arena="demo", seed=seed)
        shown = shown_models(store, battle.token)
        # One order for every battle: mirror > parent > blurry; glitch and miscount alternate
        # above and below the parent, one comparison at a time.
        score = {"demo-mirror": 3.0, PARENT: 2.0, "demo-blurry": 1.0}
        for name in sides:
            sides[name] += name in shown and PARENT in shown
            score[name] = 2.5 if sides[name] % 2 else 1.5
        order = sorted(shown, key=lambda m: -score.get(m, 0.0))
        ranks = [order.index(m) + 1 for m in shown]
        store.voting.submit_vote(token=battle.token, mode="rank", ranks=ranks, voter_id="v")
        family = store.boards.model_page(arena="demo", name=PARENT).family
        assert family is not None
        records = {f.variant: f.record for f in family.variants}
        if records["demo-miscount"].comparisons >= 6:
            store.catalog.set_model_enabled(arena="demo", name="demo-miscount", enabled=False)
        if all(records[v].verdict != "undecided" for v in VARIANTS):
            assert records["demo-miscount"].verdict == "undecided"
            return
    raise AssertionError("the variants did not reach their verdicts")


@pytest.fixture
def server(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'karena.db'}"
    store = Store.open(make_settings(tmp_path, url, variant_margin=MARGIN))
    try:
        seed_demo_arena(store)
        _vote_families(store)
    finally:
        store.close()
    env = {"KARENA_VARIANT_MARGIN": str(MARGIN)}
    with KarenaServer(database_url=url, data_dir=tmp_path, env=env) as running:
        yield running


def test_family_section_in_the_browser(server: KarenaServer, browser, tmp_path: Path) -> None:  # noqa: F811
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto(f"{server.base_url}/models/{PARENT}?arena=demo")
    rows = page.locator("#variants tbody tr")
    assert rows.count() == 4
    cells = [rows.nth(i).locator("td") for i in range(4)]
    verdicts = {c.nth(0).inner_text(): c.nth(4).inner_text() for c in cells}
    assert verdicts["demo-mirror"] == f"better than {PARENT} at 95%"
    assert verdicts["demo-blurry"] == f"worse than {PARENT} at 95%"
    assert verdicts["demo-glitch"] == f"indistinguishable from {PARENT} within ±3 at 95%"
    assert verdicts["demo-miscount"].startswith("not decided yet (")
    gaps = {c.nth(0).inner_text(): c.nth(3).inner_text() for c in cells}
    assert gaps["demo-mirror"] == "+∞" and gaps["demo-blurry"] == "−∞"
    page.locator("#family").scroll_into_view_if_needed()
    page.locator("#family").screenshot(path=str(_shots(tmp_path) / "model_family.png"))
    page.goto(f"{server.base_url}/models/demo-glitch?arena=demo")
    within = f"Indistinguishable from {PARENT} within ±3 at 95%"
    assert page.locator("#parent-verdict").inner_text() == within
    page.locator("#family").screenshot(path=str(_shots(tmp_path) / "model_family_variant.png"))
    page.go_back()
    page.locator("#variants a", has_text="demo-blurry").click()
    page.wait_for_url("**/models/demo-blurry?arena=demo")
    verdict = page.locator("#parent-verdict")
    assert verdict.inner_text() == f"Worse than {PARENT} at 95%"
    assert "verdict-worse" in (verdict.get_attribute("class") or "")
    record = page.locator("#parent-record dd").first.inner_text()
    wins, losses, ties = (int(x) for x in record.split("–"))
    assert wins == 0 and ties == 0 and losses > 0
    assert page.locator(".meta .badge", has_text=f"variant of {PARENT}").count() == 1
    page.close()
