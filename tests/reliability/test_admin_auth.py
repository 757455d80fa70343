"""Forged or missing admin tokens: every admin operation in the OpenAPI schema answers 401 and
changes nothing; a server without a configured token answers 403 to everyone."""

from __future__ import annotations

import httpx
import pytest

from tests.reliability import api
from tests.reliability.seed import ADMIN_TOKEN
from tests.reliability.server import ServerProcess

FORGED: dict[str, dict[str, str]] = {
    "missing": {},
    "bare_scheme": {"Authorization": "Bearer"},
    "wrong_token": {"Authorization": "Bearer not-the-admin-token"},
    "prefix_of_token": {"Authorization": f"Bearer {ADMIN_TOKEN[:-1]}"},
    "token_plus_suffix": {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
    "basic_scheme": {"Authorization": f"Basic {ADMIN_TOKEN}"},
    "token_without_scheme": {"Authorization": ADMIN_TOKEN},
    "token_in_query_header": {"X-Admin-Token": ADMIN_TOKEN},
    "odd_characters": {"Authorization": "Bearer ' OR 1=1 --"},
}


def _admin_operations(client: httpx.Client) -> list[tuple[str, str]]:
    """(method, path) of every admin operation, straight from the served OpenAPI schema."""
    schema = client.get("/openapi.json").json()
    ops = [
        (method.upper(), path)
        for path, item in schema["paths"].items()
        if path.startswith("/api/admin")
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]
    assert len(ops) >= 5, ops
    return ops


def _call(client: httpx.Client, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    concrete = path.replace("{name}", "alpha")
    body = {"arena": "rel", "slug": "forged-arena", "name": "forged", "text": "x", "enabled": False}
    kwargs: dict[str, object] = {"headers": headers, "params": {"arena": "rel"}}
    if method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = body
    return client.request(method, concrete, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("case", sorted(FORGED))
def test_forged_or_missing_admin_token_is_401_everywhere(
    shared_client: httpx.Client, case: str
) -> None:
    """Each admin operation refuses the forged credential before reading the body."""
    arenas_before = shared_client.get("/api/arenas").json()
    for method, path in _admin_operations(shared_client):
        response = _call(shared_client, method, path, FORGED[case])
        assert response.status_code == 401, (method, path, response.text)
        assert response.json()["error"]
    assert shared_client.get("/api/arenas").json() == arenas_before


def test_admin_api_is_disabled_without_a_configured_token(
    locked_down_server: ServerProcess,
) -> None:
    """No KARENA_ADMIN_TOKEN: every admin operation is 403, whatever token is sent."""
    with httpx.Client(base_url=locked_down_server.base_url, timeout=30.0) as client:
        arenas_before = client.get("/api/arenas").json()
        for method, path in _admin_operations(client):
            for headers in ({}, api.admin_headers(ADMIN_TOKEN), api.admin_headers("x")):
                response = _call(client, method, path, headers)
                assert response.status_code == 403, (method, path, response.text)
        assert client.get("/api/arenas").json() == arenas_before


MALFORMED: dict[str, dict[str, object]] = {
    "broken_json": {"content": b'{"slug": ', "headers": {"Content-Type": "application/json"}},
    "not_utf8": {"content": b"\xff\xfe{}", "headers": {"Content-Type": "application/json"}},
    "wrong_types": {"json": {"slug": 5, "k": "many", "enabled": "maybe"}},
    "form_junk": {"content": b"--x\r\n\r\n", "headers": {"Content-Type": "multipart/form-data"}},
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_r_admin_9_token_is_checked_before_the_body(shared_client: httpx.Client, case: str) -> None:
    """Issue 13, finding 9: a malformed body got 422 before the token was looked at. Now every
    admin operation answers 401 to a missing or forged token whatever the body, and only a
    request with the right token learns that its body is malformed (422)."""
    schema = shared_client.get("/openapi.json").json()["paths"]
    for method, path in _admin_operations(shared_client):
        if "requestBody" not in schema[path][method.lower()]:
            continue
        url = path.replace("{name}", "alpha").replace("{slug}", "rel")
        for headers in ({}, api.admin_headers("forged")):
            kwargs = dict(MALFORMED[case])
            kwargs["headers"] = {**kwargs.get("headers", {}), **headers}  # type: ignore[dict-item]
            response = shared_client.request(method, url, params={"arena": "rel"}, **kwargs)
            assert response.status_code == 401, (method, path, response.text)
        kwargs = dict(MALFORMED[case])
        kwargs["headers"] = {**kwargs.get("headers", {}), **api.admin_headers(ADMIN_TOKEN)}  # type: ignore[dict-item]
        response = shared_client.request(method, url, params={"arena": "rel"}, **kwargs)
        assert response.status_code == 422, (method, path, case, response.text)
