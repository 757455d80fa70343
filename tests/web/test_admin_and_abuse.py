"""Admin endpoints behind the bearer token, uploads, the rate limit and the bot guard."""

from __future__ import annotations

from karena.generators.demo import render_demo
from karena.web.deps import sign_voter_id
from tests.web.conftest import ADMIN_TOKEN, AppFactory, ArenaApp
from tests.web.test_api import _assert_error_shape, _battle

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def test_admin_refuses_without_or_with_a_wrong_token(arena_app: ArenaApp) -> None:
    body = {"arena": "demo", "name": "intruder"}
    _assert_error_shape(arena_app.client.post("/api/admin/models", json=body), 401)
    wrong = {"Authorization": "Bearer not-the-token"}
    _assert_error_shape(arena_app.client.post("/api/admin/models", json=body, headers=wrong), 401)
    basic = {"Authorization": "Basic dXNlcjpwYXNz"}
    _assert_error_shape(arena_app.client.post("/api/admin/models", json=body, headers=basic), 401)
    # A malformed body without a token is still a 401: auth comes first.
    _assert_error_shape(arena_app.client.post("/api/admin/models", json={"x": 1}), 401)
    names = {m.name for m in arena_app.store.catalog.list_models(arena="demo")}
    assert "intruder" not in names


def test_admin_is_disabled_without_a_configured_token(make_app: AppFactory) -> None:
    app = make_app(admin_token=None)
    body = {"arena": "demo", "name": "x"}
    response = app.client.post("/api/admin/models", json=body, headers=AUTH)
    assert "disabled" in _assert_error_shape(response, 403)["error"]


def test_admin_adds_and_disables_models_and_adds_prompts(arena_app: ArenaApp) -> None:
    client = arena_app.client
    created = client.post(
        "/api/admin/models",
        json={"arena": "demo", "name": "newcomer", "organization": "lab"},
        headers=AUTH,
    )
    assert created.status_code == 201, created.text
    assert created.json()["enabled"] is True
    disabled = client.patch(
        "/api/admin/models/newcomer", params={"arena": "demo"}, json={"enabled": False},
        headers=AUTH,
    )  # fmt: skip
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    assert not arena_app.store.catalog.get_model(arena="demo", name="newcomer").enabled
    prompt = client.post(
        "/api/admin/prompts",
        json={"arena": "demo", "text": "a black star", "key": "extra-1"},
        headers=AUTH,
    )
    assert prompt.status_code == 201 and prompt.json()["key"] == "extra-1"
    _assert_error_shape(
        client.patch("/api/admin/models/ghost", params={"arena": "demo"}, json={"enabled": True},
                     headers=AUTH),
        404,
    )  # fmt: skip


def test_upload_checks_type_and_size(make_app: AppFactory) -> None:
    app = make_app(max_upload_bytes=200_000)
    client = app.client
    client.post("/api/admin/models", json={"arena": "demo", "name": "uploader"}, headers=AUTH)
    key = app.arena.prompts[0].key
    form = {"arena": "demo", "model": "uploader", "prompt_key": key}
    png = render_demo("demo-faithful", app.arena.prompts[0].text)
    ok = client.post(
        "/api/admin/outputs", data=form, files={"file": ("x.png", png, "image/png")}, headers=AUTH
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["content_type"].startswith("image/")
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    bad = client.post(
        "/api/admin/outputs",
        data={**form, "replace": "true"},
        files={"file": ("x.png", svg, "image/png")},
        headers=AUTH,
    )
    _assert_error_shape(bad, 415)
    huge = client.post(
        "/api/admin/outputs",
        data={**form, "replace": "true"},
        files={"file": ("x.png", b"\x89PNG" + b"\0" * 300_000, "image/png")},
        headers=AUTH,
    )
    assert huge.status_code == 413
    assert set(huge.json()) == {"error", "detail"}


def test_rate_limit_refuses_a_hammering_voter(make_app: AppFactory) -> None:
    app = make_app(rate_limit_per_minute=3)
    statuses = []
    for _ in range(5):
        battle = _battle(app)
        response = app.client.post(f"/api/battles/{battle['token']}/vote", json={"mode": "tie"})
        statuses.append(response.status_code)
        app.clock.advance(1)
    assert statuses[:3] == [200, 200, 200]
    assert statuses[3:] == [429, 429]
    # A minute later the voter may vote again.
    app.clock.advance(61)
    battle = _battle(app)
    assert (
        app.client.post(f"/api/battles/{battle['token']}/vote", json={"mode": "tie"}).status_code
        == 200
    )


def test_bot_guard_rejects_instant_votes(make_app: AppFactory) -> None:
    app = make_app(min_vote_seconds=5.0)
    battle = _battle(app)
    url = f"/api/battles/{battle['token']}/vote"
    _assert_error_shape(app.client.post(url, json={"mode": "tie"}), 429)
    app.clock.advance(6)
    assert app.client.post(url, json={"mode": "tie"}).status_code == 200


def test_battle_creation_is_limited_per_voter(make_app: AppFactory) -> None:
    app = make_app(rate_limit_per_minute=1)
    salt = app.settings.voter_salt.get_secret_value()
    app.client.cookies.set("karena_voter", sign_voter_id(salt, "ab" * 16))
    statuses = [app.client.post("/api/battles", json={}).status_code for _ in range(6)]
    assert statuses.count(201) == 4 and statuses[-1] == 429


def test_client_that_drops_its_cookie_is_still_rate_limited(make_app: AppFactory) -> None:
    """Regression (R-ABUSE-1): without a cookie every request was a brand-new voter."""
    app = make_app(rate_limit_per_minute=3)
    statuses = []
    for _ in range(5):
        app.client.cookies.clear()
        battle = _battle(app)
        app.client.cookies.clear()
        response = app.client.post(f"/api/battles/{battle['token']}/vote", json={"mode": "tie"})
        statuses.append(response.status_code)
        assert "karena_voter=" in response.headers.get("set-cookie", "")
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]


def test_model_names_with_a_slash_are_reachable(arena_app: ArenaApp) -> None:
    """Regression (R-WEB-2): "org/model" was accepted but unreachable by the JSON routes."""
    client = arena_app.client
    created = client.post(
        "/api/admin/models", json={"arena": "demo", "name": "org/model"}, headers=AUTH
    )
    assert created.status_code == 201, created.text
    page = client.get("/api/models/org%2Fmodel", params={"arena": "demo"})
    assert page.status_code == 200 and page.json()["model"]["name"] == "org/model"
    off = client.patch(
        "/api/admin/models/org%2Fmodel", params={"arena": "demo"}, json={"enabled": False},
        headers=AUTH,
    )  # fmt: skip
    assert off.status_code == 200 and off.json()["enabled"] is False
    assert client.get("/models/org%2Fmodel", params={"arena": "demo"}).status_code == 200


def test_undecodable_json_body_is_a_documented_422(arena_app: ArenaApp) -> None:
    """Regression (R-WEB-3): a non-UTF-8 JSON body was an undocumented 400."""
    response = arena_app.client.post(
        "/api/battles", content=b"\xffY\x7f\xfa", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and set(response.json()) == {"error", "detail"}
    schema = arena_app.client.get("/openapi.json").json()
    assert "422" in schema["paths"]["/api/battles"]["post"]["responses"]
