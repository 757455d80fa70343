"""Variant families and voter reliability over HTTP: admin endpoints, the model page and its
JSON twin, and the admin view of the least reliable voters."""

from __future__ import annotations

from tests.store.helpers import shown_models
from tests.web.conftest import ADMIN_TOKEN, AppFactory, ArenaApp
from tests.web.test_api import _assert_error_shape

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
VARIANT, PARENT = "demo-mirror", "demo-faithful"


def _declare(app: ArenaApp, name: str, parent: str | None) -> object:
    return app.client.put(
        f"/api/admin/models/{name}/parent", params={"arena": "demo"}, json={"parent": parent},
        headers=AUTH,
    )  # fmt: skip


def _vote_variant_first(app: ArenaApp, limit: int = 150) -> dict:
    """Paired battles where the voter always puts the variant first and the parent last,
    until its verdict is in; returns the variant's model page JSON."""
    for _ in range(limit):
        battle = app.client.post("/api/battles", json={"arena": "demo"}).json()
        shown = shown_models(app.store, battle["token"])
        assert VARIANT in shown and PARENT in shown  # paired mode seats both
        ranks = [1 if m == VARIANT else 4 if m == PARENT else 2 for m in shown]
        vote = app.client.post(
            f"/api/battles/{battle['token']}/vote", json={"mode": "rank", "ranks": ranks}
        )
        assert vote.status_code == 200, vote.text
        page = app.client.get(f"/api/models/{VARIANT}", params={"arena": "demo"}).json()
        if page["family"]["parent"]["head_to_head"]["verdict"] != "undecided":
            return page
    raise AssertionError("no verdict")


def test_a_variant_page_shows_its_verdict_against_the_parent(make_app: AppFactory) -> None:
    app = make_app(match_state_max_age_seconds=0.0)
    assert _declare(app, VARIANT, PARENT).json()["parent"] == PARENT
    paired = app.client.put("/api/admin/arenas/demo/paired", json={"share": 1.0}, headers=AUTH)
    assert paired.status_code == 200, paired.text
    page = _vote_variant_first(app)
    assert page["model"]["parent"] == PARENT
    h = page["family"]["parent"]["head_to_head"]
    assert h["verdict"] == "better" and h["losses"] == 0 and h["ties"] == 0
    assert h["wins"] == h["comparisons"] > 0
    assert h["win_rate"] == 1.0 and h["win_rate_high"] == 1.0
    assert h["gap"] is None and h["gap_high"] is None and h["gap_low"] > 0  # +∞ is null
    assert h["margin"] == app.settings.variant_margin and h["level"] == 0.95
    html = app.client.get(f"/models/{VARIANT}?arena=demo").text
    assert "Variant family" in html and f"variant of {PARENT}" in html
    assert f"Better than {PARENT} at 95%" in html
    assert f"{h['wins']}–0–0" in html
    parent_html = app.client.get(f"/models/{PARENT}?arena=demo").text
    assert 'id="variants"' in parent_html and f"better than {PARENT} at 95%" in parent_html
    parent_json = app.client.get(f"/api/models/{PARENT}", params={"arena": "demo"}).json()
    assert parent_json["family"]["parent"] is None
    assert [v["variant"] for v in parent_json["family"]["variants"]] == [VARIANT]
    # A model outside any family has no family section.
    lone = app.client.get("/api/models/demo-glitch", params={"arena": "demo"}).json()
    assert lone["family"] is None
    assert "Variant family" not in app.client.get("/models/demo-glitch?arena=demo").text


def test_undecided_verdict_reads_as_such(arena_app: ArenaApp) -> None:
    assert _declare(arena_app, VARIANT, PARENT).status_code == 200
    html = arena_app.client.get(f"/models/{VARIANT}?arena=demo").text
    assert "Not decided yet (0 head-to-head comparisons)" in html
    h = arena_app.client.get(f"/api/models/{VARIANT}", params={"arena": "demo"}).json()
    assert h["family"]["parent"]["head_to_head"]["win_rate"] is None


def test_admin_family_endpoints_refuse_bad_requests(arena_app: ArenaApp) -> None:
    client = arena_app.client
    created = client.post(
        "/api/admin/models", json={"arena": "demo", "name": "demo-mirror-int4", "parent": VARIANT},
        headers=AUTH,
    )  # fmt: skip
    assert created.status_code == 201 and created.json()["parent"] == VARIANT
    assert _declare(arena_app, "demo-mirror-int4", None).json()["parent"] is None
    _assert_error_shape(_declare(arena_app, "nope", PARENT), 404)
    _assert_error_shape(_declare(arena_app, VARIANT, "nope"), 404)
    _assert_error_shape(_declare(arena_app, VARIANT, VARIANT), 409)  # its own parent: a cycle
    assert _declare(arena_app, VARIANT, PARENT).status_code == 200
    _assert_error_shape(_declare(arena_app, PARENT, VARIANT), 409)  # a cycle
    url = f"/api/admin/models/{VARIANT}/parent"
    _assert_error_shape(
        client.put(url, params={"arena": "demo"}, json={"parent": 3}, headers=AUTH), 422
    )
    _assert_error_shape(
        client.put(url, params={"arena": "demo"}, json={"x": None}, headers=AUTH), 422
    )
    _assert_error_shape(client.put(url, params={"arena": "demo"}, json={"parent": None}), 401)
    paired = "/api/admin/arenas/demo/paired"
    for bad in ({"share": 1.5}, {"share": "all"}, {"share": None}, {}):
        _assert_error_shape(client.put(paired, json=bad, headers=AUTH), 422)
    _assert_error_shape(
        client.put("/api/admin/arenas/nope/paired", json={"share": 0.5}, headers=AUTH), 404
    )
    _assert_error_shape(client.put(paired, json={"share": 0.5}), 401)
    assert arena_app.store.catalog.get_model(arena="demo", name=PARENT).parent is None


def test_hostile_variant_names_are_escaped_in_the_family_section(arena_app: ArenaApp) -> None:
    evil = "<img src=x onerror=alert(1)>"
    body = {"arena": "demo", "name": evil, "parent": PARENT}
    assert arena_app.client.post("/api/admin/models", json=body, headers=AUTH).status_code == 201
    html = arena_app.client.get(f"/models/{PARENT}?arena=demo").text
    assert 'id="variants"' in html
    assert evil not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_admin_lists_the_least_reliable_voters(arena_app: ArenaApp) -> None:
    client = arena_app.client
    for i in range(12):
        battle = client.post("/api/battles", json={"arena": "demo"}).json()
        cookies = {"karena_voter": f"voter-{i % 3}"}
        url = f"/api/battles/{battle['token']}/vote"
        client.cookies.update(cookies)
        assert client.post(url, json={"mode": "rank", "ranks": [1, 2, 3, 4]}).status_code == 200
    client.cookies.clear()
    response = client.get("/api/admin/voters", params={"arena": "demo", "limit": 2}, headers=AUTH)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["votes"] == 12 and report["voters_total"] >= 1
    assert len(report["voters"]) == min(2, report["voters_total"])
    reliabilities = [v["reliability"] for v in report["voters"]]
    assert reliabilities == sorted(reliabilities)
    assert abs(report["share_honest"] + report["share_blind"] + report["share_partisan"] - 1) < 1e-9
    assert all(len(v["voter_hash"]) == 64 for v in report["voters"])
    _assert_error_shape(client.get("/api/admin/voters", params={"arena": "demo"}), 401)
    for bad in ({"arena": "demo", "limit": 0}, {"arena": "demo", "recent": 0}, {}):
        _assert_error_shape(client.get("/api/admin/voters", params=bad, headers=AUTH), 422)
    _assert_error_shape(
        client.get("/api/admin/voters", params={"arena": "nope"}, headers=AUTH), 404
    )


def test_the_parent_route_takes_put_only_and_says_so(arena_app: ArenaApp) -> None:
    """``/models/{name}/parent`` is not swallowed by the ``{name:path}`` PATCH route: any other
    method is 405 with ``Allow: PUT`` (schemathesis ST204/ST205 found PATCH answered 422 and
    OPTIONS advertised PATCH)."""
    client, url = arena_app.client, f"/api/admin/models/{VARIANT}/parent"
    for method in ("PATCH", "OPTIONS", "GET", "DELETE", "POST"):
        response = client.request(
            method, url, params={"arena": "demo"}, json={"parent": PARENT}, headers=AUTH
        )
        assert (response.status_code, response.headers.get("allow")) == (405, "PUT"), method
        assert set(response.json()) == {"error", "detail"}
    assert _declare(arena_app, VARIANT, PARENT).status_code == 200
    plain = client.options(f"/api/admin/models/{VARIANT}", params={"arena": "demo"}, headers=AUTH)
    assert (plain.status_code, plain.headers.get("allow")) == (405, "PATCH")


def test_a_model_named_like_the_parent_route_is_reached_with_its_slash_encoded(
    arena_app: ArenaApp,
) -> None:
    """A model called "org/parent" is PATCHed as ``org%2Fparent``; its own parent route is
    ``org%2Fparent/parent``."""
    client = arena_app.client
    created = client.post(
        "/api/admin/models", json={"arena": "demo", "name": "org/parent"}, headers=AUTH
    )
    assert created.status_code == 201, created.text
    off = client.patch(
        "/api/admin/models/org%2Fparent", params={"arena": "demo"}, json={"enabled": False},
        headers=AUTH,
    )  # fmt: skip
    assert off.status_code == 200 and off.json()["enabled"] is False
    assert off.json()["name"] == "org/parent"
    declared = client.put(
        "/api/admin/models/org%2Fparent/parent", params={"arena": "demo"},
        json={"parent": PARENT}, headers=AUTH,
    )  # fmt: skip
    assert declared.status_code == 200 and declared.json()["parent"] == PARENT
    literal = client.patch(
        "/api/admin/models/org/parent", params={"arena": "demo"}, json={"enabled": True},
        headers=AUTH,
    )  # fmt: skip
    assert literal.status_code == 405  # the parent route of a model "org"


def test_paired_share_must_be_a_json_number(arena_app: ArenaApp) -> None:
    """The schema says ``share`` is a number in [0, 1]: a string or a boolean is 422 (it was
    coerced and accepted: schemathesis' negative_data_rejection)."""
    url = "/api/admin/arenas/demo/paired"
    for bad in ("0.5", True, False, "1", None, [0.5], 1.5, -0.1):
        response = arena_app.client.put(url, json={"share": bad}, headers=AUTH)
        _assert_error_shape(response, 422)
    for good in (1, 0.25, 0):
        response = arena_app.client.put(url, json={"share": good}, headers=AUTH)
        assert response.status_code == 200, response.text
        params = arena_app.store.catalog.get_arena(slug="demo").matchmaker_params
        assert params.get("paired", 0.0) == good


def test_a_parent_cycle_is_a_declared_409(arena_app: ArenaApp) -> None:
    """A valid request that the family as it stands refuses: 409 Conflict, in the schema."""
    assert _declare(arena_app, VARIANT, PARENT).status_code == 200
    response = _declare(arena_app, PARENT, VARIANT)
    _assert_error_shape(response, 409)
    assert "cycle" in response.json()["error"]
    operation = arena_app.client.get("/openapi.json").json()["paths"][
        "/api/admin/models/{name}/parent"
    ]
    assert set(operation) == {"put"} and "409" in operation["put"]["responses"]
