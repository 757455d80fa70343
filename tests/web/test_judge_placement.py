"""A judge-placed model on the web leaderboard: the API's marker and interval, the page's badge."""

from __future__ import annotations

import csv
import io

import numpy as np

from karena.rating.leaderboard import JudgePlacement
from tests.web.conftest import ArenaApp


def test_a_judge_placed_row_is_marked_with_its_interval_in_json_csv_and_html(
    arena_app: ArenaApp,
) -> None:
    arena_app.store.catalog.add_model(arena="demo", name="judged-newcomer")
    q = np.sort(26.0 + 1.3 * np.random.default_rng(2).standard_normal(99))
    placement = JudgePlacement(mu=26.0, sigma=1.3, skill_quantiles=tuple(float(x) for x in q),
                               rank=2, rank_low=1, rank_high=4, method="output",
                               judge="gpt-4o", runs=52)  # fmt: skip
    arena_app.store.boards.place_model(arena="demo", model="judged-newcomer", placement=placement)
    online = {"arena": "demo", "board": "online"}  # placements stand on the online board
    board = arena_app.client.get("/api/leaderboard", params=online).json()
    rows = {r["model"]: r for r in board["rows"]}
    placed = rows["judged-newcomer"]
    assert placed["placed_by_judge"] is True and placed["votes"] == 0
    assert placed["judge_rank_low"] <= placed["rank"] <= placed["judge_rank_high"]
    assert (placed["mu"], placed["sigma"]) == (26.0, 1.3)
    others = [r for name, r in rows.items() if name != "judged-newcomer"]
    assert not any(r["placed_by_judge"] or r["judge_rank_low"] is not None for r in others)
    text = arena_app.client.get("/api/leaderboard", params={**online, "format": "csv"}).text
    by_name = {r["model"]: r for r in csv.DictReader(io.StringIO(text))}
    assert by_name["judged-newcomer"]["placed_by_judge"] == "True"
    assert by_name["judged-newcomer"]["judge_rank_low"] == str(placed["judge_rank_low"])
    assert all(r["judge_rank_low"] == "" for n, r in by_name.items() if n != "judged-newcomer")
    html = arena_app.client.get("/leaderboard", params=online).text
    badge = f"placed by judge · 90% rank {placed['judge_rank_low']}–{placed['judge_rank_high']}"
    # One badge; the dotted interval in both plots (wide, and compact for phones).
    assert html.count(badge) == 1 and html.count('class="interval judge"') == 2
    page = arena_app.client.get("/api/models/judged-newcomer", params={"arena": "demo"}).json()
    assert page["leaderboard"]["placed_by_judge"] is True
