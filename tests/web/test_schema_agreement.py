"""The OpenAPI schema and the server agree (issue 13, finding 12, R-SCHEMA-12).

schemathesis (`--checks all`) found three requests the schema allowed and the server refused with
an undeclared or unexpected status; tests/reliability/test_fuzz.py re-runs it on them.
"""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import ADMIN_TOKEN, ArenaApp

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _operation(app: ArenaApp, path: str, method: str = "post") -> dict:
    return app.client.get("/openapi.json").json()["paths"][path][method]


def test_r_schema_12_an_empty_upload_is_schema_invalid_and_gets_its_declared_415(
    arena_app: ArenaApp,
) -> None:
    op = _operation(arena_app, "/api/admin/outputs")
    body = op["requestBody"]["content"]["multipart/form-data"]["schema"]
    ref = body["$ref"].rsplit("/", 1)[1]
    schema = arena_app.client.get("/openapi.json").json()["components"]["schemas"][ref]
    assert schema["properties"]["file"]["minLength"] == 1
    response = arena_app.client.post(
        "/api/admin/outputs",
        data={"arena": "demo", "model": arena_app.arena.models[0].name, "prompt_key": "x"},
        files={"file": ("empty.png", b"", "image/png")},
        headers=AUTH,
    )
    assert response.status_code == 415 and "415" in op["responses"]
    assert response.json()["error"] == "empty file"


@pytest.mark.parametrize(
    ("link", "accepted"),
    [
        ("https://example.org/model", True),
        ("https://example.org/\u0086", False),  # C1 control: the finding
        ("https://example.org/\u009f", False),
        ("https://example.org/\u202e", False),  # bidi override
        ("https://example.org/é", True),
    ],
)
def test_r_schema_12_a_link_is_accepted_exactly_when_the_schema_allows_it(
    arena_app: ArenaApp, link: str, accepted: bool
) -> None:
    schema = arena_app.client.get("/openapi.json").json()["components"]["schemas"]
    pattern = schema["ModelCreate"]["properties"]["link"]["pattern"]
    assert (re.fullmatch(pattern, link) is not None) is accepted
    response = arena_app.client.post(
        "/api/admin/models",
        json={"arena": "demo", "name": f"linked-{len(link)}-{accepted}", "link": link},
        headers=AUTH,
    )
    assert response.status_code == (201 if accepted else 422), response.text


def test_r_schema_12_a_typed_prompt_without_live_models_is_a_declared_409(
    arena_app: ArenaApp,
) -> None:
    """A valid request the arena's state refuses: 409 Conflict, declared, not 422."""
    created = arena_app.client.post(
        "/api/admin/arenas", json={"slug": "static", "k": 2}, headers=AUTH
    )
    assert created.status_code == 201, created.text
    response = arena_app.client.post("/api/battles", json={"arena": "static", "prompt": "a cat"})
    assert response.status_code == 409, response.text
    assert "live generator" in response.json()["error"]
    assert "409" in _operation(arena_app, "/api/battles")["responses"]
