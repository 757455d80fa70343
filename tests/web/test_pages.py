"""Server-rendered pages: anonymity before the vote, escaping, leaderboard and model pages."""

from __future__ import annotations

import re
from pathlib import Path

from karena.generators.demo import DEMO_RENDERERS
from tests.web.conftest import ADMIN_TOKEN, ArenaApp, page_form_token, wait_for_battle

DEMO_NAMES = [r.name for r in DEMO_RENDERERS]
STATIC = Path(__file__).resolve().parents[2] / "src" / "karena" / "web" / "static"


def test_vote_page_reveals_no_model_before_the_vote(arena_app: ArenaApp) -> None:
    response = arena_app.client.get("/", headers={"accept": "text/html"})
    assert response.status_code == 200
    html = response.text
    for name in [*DEMO_NAMES, "karena demo"]:
        assert name not in html
    tokens = set(re.findall(r"/b/([A-Za-z0-9_-]+)/(\d)", html))
    assert len({t for t, _ in tokens}) == 1 and {s for _, s in tokens} == {"0", "1", "2", "3"}
    for label in "ABCD":
        assert f'<span class="slot-label">{label}</span>' in html
    headers = response.headers
    assert "karena_voter=" in headers["set-cookie"] and "HttpOnly" in headers["set-cookie"]
    assert headers["cache-control"] == "no-store"
    assert "etag" not in headers and "last-modified" not in headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "<script>" not in html  # only external scripts, so the CSP can forbid inline ones


def test_static_scripts_name_no_model() -> None:
    for path in STATIC.iterdir():
        data = path.read_bytes()  # the favicon is binary
        for name in DEMO_NAMES:
            assert name.encode() not in data, path


def test_prompt_box_shows_only_for_arenas_with_live_generators(arena_app: ArenaApp) -> None:
    from karena.web.app import create_app

    has_config = any(
        m.generator is not None for m in arena_app.store.catalog.list_models(arena="demo")
    )
    html = arena_app.client.get("/").text
    assert ('name="prompt"' in html) == has_config
    live = create_app(arena_app.settings, store=arena_app.store, live_arenas=frozenset({"demo"}))
    from fastapi.testclient import TestClient

    with TestClient(live) as client:
        page = client.get("/").text
    assert 'name="prompt"' in page and 'action="/battle"' in page


def test_typed_prompt_is_escaped(arena_app: ArenaApp) -> None:
    evil = '<script>alert("x")</script> two red circles'
    token = page_form_token(arena_app)
    response = arena_app.client.post(
        "/battle", data={"arena": "demo", "prompt": evil, "csrf": token}, follow_redirects=True,
        headers={"accept": "text/html"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert "<script>alert" not in response.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in response.text
    api = arena_app.client.post("/api/battles", json={"arena": "demo", "prompt": evil})
    assert api.status_code in (201, 202) and api.json()["prompt"] == evil
    ready = wait_for_battle(arena_app.client, api.json()["token"])
    assert ready["state"] == "ready" and ready["battle"]["prompt"] == evil


def test_prompts_the_renderers_cannot_draw_get_a_clear_error(arena_app: ArenaApp) -> None:
    response = arena_app.client.post(
        "/api/battles", json={"arena": "demo", "prompt": "a photo of the moon"}
    )
    assert response.status_code == 202  # queued: the renderers answer in a worker
    status = wait_for_battle(arena_app.client, response.json()["token"])
    assert status["state"] == "failed" and "shapes" in status["message"]
    assert status["next_token"] is not None  # and a new battle from the gallery instead


def test_hostile_model_names_are_escaped_on_the_leaderboard(arena_app: ArenaApp) -> None:
    evil = "<img src=x onerror=alert(1)>"
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    script_link = {"arena": "demo", "name": evil, "link": "javascript:alert(1)"}
    refused = arena_app.client.post("/api/admin/models", json=script_link, headers=auth)
    assert refused.status_code == 422
    added = arena_app.client.post(
        "/api/admin/models", json={"arena": "demo", "name": evil}, headers=auth
    )
    assert added.status_code == 201, added.text
    html = arena_app.client.get("/leaderboard?arena=demo&board=online").text
    assert evil not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    page = arena_app.client.get("/models/%3Cimg%20src=x%20onerror=alert(1)%3E?arena=demo")
    assert page.status_code == 200
    assert evil not in page.text and "&lt;img src=x onerror=alert(1)&gt;" in page.text


def test_leaderboard_and_model_pages_after_votes(arena_app: ArenaApp) -> None:
    for _ in range(3):
        battle = arena_app.client.post("/api/battles", json={}).json()
        url = f"/api/battles/{battle['token']}/vote"
        assert (
            arena_app.client.post(url, json={"mode": "rank", "ranks": [1, 2, 3, 4]}).status_code
            == 200
        )
    html = arena_app.client.get("/leaderboard?board=online").text
    assert '<svg class="interval-plot"' in html
    assert html.count("<tr class=") == len(DEMO_NAMES)
    for heading in (
        "Rank", "Rank (UB)", "Model", "Score", "μ", "σ", "95% interval", "Votes", "Updated"
    ):  # fmt: skip
        assert f'<button type="button">{heading}</button>' in html
    assert "format=csv" in html and "format=json" in html and "provisional" in html
    model = arena_app.client.get("/models/demo-faithful?arena=demo")
    assert model.status_code == 200
    assert "Against each opponent" in model.text


def test_unknown_pages_render_html_errors(arena_app: ArenaApp) -> None:
    response = arena_app.client.get("/battle/nope", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Traceback" not in response.text
