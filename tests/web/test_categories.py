"""Category boards: the typed-prompt classifier (rules or a plugged function), the category's
batch board through the API, and the category filter of the vote export (API and CLI)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from karena.cli.main import build_app
from karena.errors import ConfigError
from karena.services.categories import DEFAULT_RULES, KeywordRules, classifier_from_settings
from karena.settings import Settings
from tests.web.conftest import AppFactory, ArenaApp, wait_for_battle


def first_word(text: str) -> str:
    """A plugged classifier (KARENA_PROMPT_CLASSIFIER=tests.web.test_categories:first_word)."""
    return text.split()[0].lower()


def broken(text: str) -> str:
    raise RuntimeError("the classifier's model server is down")


def not_text(text: str) -> int:
    return 42


@pytest.mark.parametrize(
    ("prompt", "category"),
    [
        ("a cat sleeping on a sofa", "animals"),
        ("Two DOGS playing", "animals"),  # case and plural
        ("a shop sign that says OPEN", "text"),
        ("a portrait of a dog", "people"),  # the table's order: people before animals
        ("pixel art of a castle", "art"),  # a two-word keyword
        ("three red circles left of a blue square", "shapes"),
        ("a bowl of ramen on a table", None),  # "table" is no keyword: no category
        ("catalogue", None),  # whole words only
    ],
)
def test_default_keyword_rules(prompt: str, category: str | None) -> None:
    assert KeywordRules.of(DEFAULT_RULES)(prompt) == category


def test_rules_and_classifier_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KARENA_PROMPT_CATEGORY_RULES", json.dumps({"vehicles": ["car", "bus"]}))
    classify = classifier_from_settings(Settings())
    assert classify("three buses in the rain") == "vehicles" and classify("a cat") is None
    monkeypatch.setenv("KARENA_PROMPT_CATEGORY_RULES", "{}")
    assert classifier_from_settings(Settings())("a cat") is None  # rules off
    monkeypatch.delenv("KARENA_PROMPT_CATEGORY_RULES")
    monkeypatch.setenv("KARENA_PROMPT_CLASSIFIER", "tests.web.test_categories:first_word")
    assert classifier_from_settings(Settings())("Sunset over water") == "sunset"


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"prompt_classifier": "no_such_module_xyz:f"}, "cannot import"),
        ({"prompt_classifier": "json"}, "package.module:function"),
        ({"prompt_classifier": "json:__version__"}, "not a callable"),
        ({"prompt_category_rules": {"animals": []}}, "needs non-empty keywords"),
        ({"prompt_category_rules": {" ": ["x"]}}, "category must not be empty"),
    ],
)
def test_bad_classifier_settings_fail_at_startup(
    make_app: AppFactory, overrides: dict[str, object], says: str
) -> None:
    with pytest.raises(ConfigError, match=says):
        make_app(**overrides)


def _typed_battle_and_vote(app: ArenaApp, prompt: str) -> None:
    battle = app.client.post("/api/battles", json={"arena": "demo", "prompt": prompt})
    assert battle.status_code in (201, 202), battle.text
    token = battle.json()["token"]
    if battle.status_code == 202:  # the outputs are made by the job queue first
        assert wait_for_battle(app.client, token)["state"] == "ready"
    vote = app.client.post(
        f"/api/battles/{token}/vote", json={"mode": "rank", "ranks": [1, 2, 3, 4]}
    )
    assert vote.status_code == 200, vote.text


def _categories(app: ArenaApp) -> dict[str, str]:
    prompts = app.store.catalog.list_prompts(arena="demo", limit=500).items
    return {p.text: p.category for p in prompts}


#: The demo renderers draw coloured shapes only; rules by colour make categories of them.
COLOUR_RULES = {"reds": ["red"], "blues": ["blue"]}


def test_the_default_rules_classify_typed_prompts(arena_app: ArenaApp) -> None:
    _typed_battle_and_vote(arena_app, "a green triangle")
    assert _categories(arena_app)["a green triangle"] == "shapes"


def test_typed_prompts_get_a_category_and_a_board(make_app: AppFactory) -> None:
    arena_app = make_app(prompt_category_rules=COLOUR_RULES)
    _typed_battle_and_vote(arena_app, "a red circle")
    _typed_battle_and_vote(arena_app, "two red squares above a blue star")
    _typed_battle_and_vote(arena_app, "a green triangle")
    stored = _categories(arena_app)
    assert stored["a red circle"] == "reds" and stored["a green triangle"] == ""
    assert stored["two red squares above a blue star"] == "reds"  # the first rule that matches
    arena_app.store.boards.refresh_batch_board(arena="demo")
    client = arena_app.client
    board = client.get("/api/leaderboard", params={"arena": "demo", "category": "reds"})
    assert board.status_code == 200, board.text
    body = board.json()
    assert body["board"] == "batch" and body["category"] == "reds"
    assert body["votes_fitted"] == 2 and "reds" in body["categories"]
    assert sum(r["votes"] for r in body["rows"]) == 2 * 4  # only the models of those votes
    assert all(r["rank_ub"] >= 1 and r["ci_low"] < r["ci_high"] for r in body["rows"])
    overall = client.get("/api/leaderboard", params={"arena": "demo"}).json()
    assert overall["votes_fitted"] == 3 and overall["category"] is None
    page = client.get("/leaderboard", params={"arena": "demo", "category": "reds"}).text
    assert '<option value="reds" selected>reds</option>' in page
    assert "category=reds&amp;format=jsonl" in page
    assert '<strong id="votes-fitted">2</strong>' in page


def test_a_plugged_classifier_and_one_that_fails(make_app: AppFactory) -> None:
    app = make_app(prompt_classifier="tests.web.test_categories:first_word")
    _typed_battle_and_vote(app, "Three red circles left of a blue square")
    assert _categories(app)["Three red circles left of a blue square"] == "three"
    for failing, prompt in (("broken", "a red star"), ("not_text", "a blue star")):
        app = make_app(prompt_classifier=f"tests.web.test_categories:{failing}")
        _typed_battle_and_vote(app, prompt)  # the battle still opens
        assert _categories(app)[prompt] == ""


def test_the_vote_export_takes_a_category(make_app: AppFactory) -> None:
    arena_app = make_app(prompt_category_rules=COLOUR_RULES)
    _typed_battle_and_vote(arena_app, "a red circle")
    _typed_battle_and_vote(arena_app, "a green star")
    client = arena_app.client
    everything = client.get("/api/votes/export", params={"arena": "demo"}).text.splitlines()
    reds = client.get("/api/votes/export", params={"arena": "demo", "category": "reds"})
    assert reds.status_code == 200
    assert 'filename="votes-demo-reds.jsonl"' in reds.headers["content-disposition"]
    lines = [json.loads(line) for line in reds.text.splitlines()]
    assert len(everything) == 2 and [v["prompt"] for v in lines] == ["a red circle"]
    csv_rows = client.get(
        "/api/votes/export", params={"category": "reds", "format": "csv"}
    ).text.splitlines()
    assert len(csv_rows) == 2  # header + one vote
    missing = client.get("/api/votes/export", params={"category": "sports"})
    assert missing.status_code == 404 and "no prompts in category 'sports'" in missing.text
    assert client.get("/api/votes/export", params={"category": ""}).status_code == 422
    env = {
        "KARENA_DATA_DIR": str(arena_app.settings.data_dir),
        "KARENA_DATABASE_URL": arena_app.settings.resolved_database_url(),
    }
    out = arena_app.settings.data_dir / "reds.jsonl"
    args = ["export", "-a", "demo", "-o", str(out), "--category", "reds"]
    result = CliRunner().invoke(build_app(), args, env=env, catch_exceptions=False)
    assert result.exit_code == 0 and "wrote 1 votes" in result.output
    assert [json.loads(x)["prompt"] for x in out.read_text().splitlines()] == ["a red circle"]


def test_an_admin_sets_a_prompts_category(arena_app: ArenaApp) -> None:
    from tests.web.conftest import ADMIN_TOKEN

    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    client = arena_app.client
    key = arena_app.arena.prompts[0].key
    url = f"/api/admin/prompts/{key}/category"
    assert client.patch(url, params={"arena": "demo"}, json={"category": "x"}).status_code == 401
    done = client.patch(url, params={"arena": "demo"}, json={"category": "night"}, headers=auth)
    assert done.status_code == 200 and done.json()["category"] == "night"
    for _ in range(8):  # votes on every prompt; some on the re-categorised one
        battle = client.post("/api/battles", json={"arena": "demo"}).json()
        vote = {"mode": "rank", "ranks": [1, 2, 3, 4]}
        assert client.post(f"/api/battles/{battle['token']}/vote", json=vote).status_code == 200
    arena_app.store.boards.refresh_batch_board(arena="demo")
    board = client.get("/api/leaderboard", params={"category": "night"}).json()
    night = sum(1 for v in arena_app.store.voting.iter_votes(arena="demo") if v.prompt_key == key)
    assert board["votes_fitted"] == night and "night" in board["categories"]
    bad = client.patch(url, params={"arena": "demo"}, json={"category": "a\x00b"}, headers=auth)
    assert bad.status_code == 422
    missing = client.patch(
        "/api/admin/prompts/nope/category", params={"arena": "demo"}, json={"category": "x"},
        headers=auth,
    )  # fmt: skip
    assert missing.status_code == 404 and "no prompt 'nope'" in missing.text
    cleared = client.patch(url, params={"arena": "demo"}, json={"category": ""}, headers=auth)
    assert cleared.json()["category"] == ""
    env = {
        "KARENA_DATA_DIR": str(arena_app.settings.data_dir),
        "KARENA_DATABASE_URL": arena_app.settings.resolved_database_url(),
    }
    args = ["prompt", "category", "demo", key, "stars"]
    result = CliRunner().invoke(build_app(), args, env=env, catch_exceptions=False)
    assert result.exit_code == 0 and "category stars" in result.output
    assert next(p for p in arena_app.store.catalog.list_prompts(arena="demo").items
                if p.key == key).category == "stars"  # fmt: skip
