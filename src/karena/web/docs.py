"""The API docs at ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served with no external request.

FastAPI's own pages load their scripts from a CDN, so offline (or behind a strict firewall)
``/docs`` is blank. The ``fastapi-offline`` package (MIT) ships the Swagger UI (Apache-2.0) and
ReDoc (MIT) bundles as package data; they are mounted under ``/static/api-docs`` and the pages
point there. The favicon is karena's own.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

#: Where the Swagger UI and ReDoc bundles are mounted (under /static: cacheable).
ASSETS_URL = "/static/api-docs"
FAVICON_URL = "/static/favicon.svg"
#: Swagger UI options: no "validator" badge (it would call an external validator service).
SWAGGER_PARAMETERS = {"validatorUrl": None}
#: The docs pages may load nothing from elsewhere. Both bundles start from an inline script and
#: inject inline styles; ReDoc's search runs in a blob: worker. ReDoc's sidebar also shows a
#: logo from redoc.ly's CDN, which this blocks (the link beside it stays).
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def assets_dir() -> Path:
    """The folder of the installed ``fastapi_offline`` package's static bundles."""
    return Path(str(files("fastapi_offline") / "static"))


def _local_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = DOCS_CSP
    return page


def install_docs(app: FastAPI, static_dir: Path) -> None:
    """Add ``/docs``, ``/redoc``, the OAuth2 redirect page and ``/favicon.ico`` to ``app``.

    Build ``app`` with ``docs_url=None, redoc_url=None``; call this before mounting ``/static``
    (the first mount that matches a path serves it).
    """
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"
    app.mount(ASSETS_URL, StaticFiles(directory=str(assets_dir())), name="api-docs")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return _local_only(
            get_swagger_ui_html(
                openapi_url=openapi_url,
                title=f"{app.title} API",
                swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
                swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
                swagger_favicon_url=FAVICON_URL,
                oauth2_redirect_url=redirect_url,
                swagger_ui_parameters=SWAGGER_PARAMETERS,
            )
        )

    @app.get(redirect_url, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return _local_only(
            get_redoc_html(
                openapi_url=openapi_url,
                title=f"{app.title} API",
                redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
                redoc_favicon_url=FAVICON_URL,
                with_google_fonts=False,
            )
        )

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        # Browsers ask for /favicon.ico on pages that name no icon (JSON, errors).
        return FileResponse(static_dir / "favicon.ico", media_type="image/x-icon")
