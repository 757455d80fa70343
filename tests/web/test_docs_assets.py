"""The API docs and the favicon are served from the package itself (finding 14.1, 14.10)."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from karena.settings import Settings
from karena.store import Store
from karena.web.app import create_app
from karena.web.docs import ASSETS_URL


def _client(tmp_path: Path, database_url: str | None = None) -> tuple[TestClient, Store]:
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    store = Store.open(settings)
    return TestClient(create_app(settings, store=store)), store


def _references(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)


def test_docs_pages_load_only_local_assets(tmp_path: Path) -> None:
    """/docs was blank offline: Swagger UI came from a CDN (``SwaggerUIBundle is not defined``)."""
    client, store = _client(tmp_path)
    with client, store:
        for page in ("/docs", "/redoc"):
            response = client.get(page)
            assert response.status_code == 200
            # The browser itself refuses anything from elsewhere on these pages.
            csp = response.headers["content-security-policy"]
            assert "default-src 'self'" in csp and "img-src 'self' data:" in csp
            refs = _references(response.text)
            assert refs, page
            assert all(ref.startswith("/") for ref in refs), refs
            assert "cdn." not in response.text and "fonts.googleapis" not in response.text
            for ref in refs:
                asset = client.get(ref)
                assert asset.status_code == 200, ref
                assert len(asset.content) > 100, ref
        assert f"{ASSETS_URL}/swagger-ui-bundle.js" in client.get("/docs").text
        assert f"{ASSETS_URL}/redoc.standalone.js" in client.get("/redoc").text
        assert client.get("/docs/oauth2-redirect").status_code == 200
        # The bundles are static files: cacheable, unlike the pages.
        bundle = client.get(f"{ASSETS_URL}/swagger-ui-bundle.js")
        assert "no-store" not in bundle.headers.get("cache-control", "")


def test_favicon(tmp_path: Path) -> None:
    """There was no favicon: every page and /favicon.ico had none."""
    client, store = _client(tmp_path)
    with client, store:
        ico = client.get("/favicon.ico")
        assert ico.status_code == 200 and ico.headers["content-type"] == "image/x-icon"
        assert ico.content[:4] == b"\x00\x00\x01\x00"  # the ICO header
        svg = client.get("/static/favicon.svg")
        assert svg.status_code == 200 and svg.text.lstrip().startswith("<svg")
        store.catalog.create_arena(slug="t2i")
        page = client.get("/leaderboard")
        assert '<link rel="icon" href="/static/favicon.svg"' in page.text


def test_empty_server_names_commands_for_its_database(tmp_path: Path) -> None:
    """Finding 14.10: on PostgreSQL the empty server suggested `karena demo` (always SQLite).

    Any set KARENA_DATABASE_URL is such a case; a second SQLite file stands in for PostgreSQL.
    """
    client, store = _client(tmp_path)
    with client, store:
        default = client.get("/api/leaderboard").json()["error"]
    assert "karena arena add" in default and "karena demo" in default
    client, store = _client(tmp_path, f"sqlite:///{tmp_path / 'elsewhere.db'}")
    with client, store:
        elsewhere = client.get("/api/leaderboard").json()["error"]
        page = client.get("/leaderboard").text
    assert "karena arena add" in elsewhere and "karena demo" not in elsewhere
    assert "karena demo" not in page
