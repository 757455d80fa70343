"""Every failure becomes ``{"error", "detail"}`` JSON (or a small HTML page for browsers).

Domain exceptions keep their own status; request-validation errors are 422; a database that is
unreachable, locked or out of space (and a full disk) is 503 with ``Retry-After``; anything
unexpected is a logged 500 with no traceback in the response.
"""

from __future__ import annotations

import errno
import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from karena.errors import KarenaError, RateLimited
from karena.web.deps import attach_new_voter_cookie

log = logging.getLogger("karena.web")


def _json_safe(value: object) -> Any:
    """Make exception detail serialisable: NaN/inf and odd objects become strings."""
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(v) for v in value]
    return str(value)


def _wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/b/", "/static/")):
        return False
    return "text/html" in request.headers.get("accept", "")


def error_response(request: Request, status: int, message: str, detail: object = None) -> Response:
    """One error, shaped for the caller: JSON for the API, a page for a browser."""
    headers = {"Cache-Control": "no-store"}
    if _wants_html(request):
        templates: Jinja2Templates = request.app.state.templates
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status": status, "message": message, "nav": "", "arenas": (), "arena_slug": None},
            status_code=status,
            headers=headers,
        )
    body = {"error": message, "detail": _json_safe(detail)}
    return JSONResponse(body, status_code=status, headers=headers)


def _keep_voter_cookie(request: Request, response: Response) -> Response:
    """A voter cookie minted before the error still reaches the client."""
    return attach_new_voter_cookie(request, response)


def retry_after(exc: RateLimited) -> str:
    """Whole seconds until the limit lets the client in again (its ``retry_after``, else 60)."""
    detail = exc.detail if isinstance(exc.detail, dict) else {}
    seconds = detail.get("retry_after", 60)
    try:
        return str(max(1, math.ceil(float(seconds))))
    except (TypeError, ValueError):
        return "60"


def _validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "loc": [str(part) for part in err.get("loc", ())],
            "msg": str(err.get("msg", "")),
            "type": str(err.get("type", "")),
        }
        for err in exc.errors()
    ]


_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def outage_message(exc: BaseException) -> str | None:
    """What to tell a client when ``exc`` means the database or disk is away for now; else None.

    Operational errors (connection refused or dropped, SQLite busy or locked, a full disk), a
    connection the pool found dead, a pool with no connection free, and ENOSPC on our own
    files are outages (503, worth retrying); any other database error is a bug (500).
    """
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
        return "the server's disk is full; try again later"
    if isinstance(exc, PoolTimeout):
        return "the database is busy; try again shortly"
    if isinstance(exc, DisconnectionError):
        return "the database is unreachable; try again shortly"
    if not isinstance(exc, DBAPIError):
        return None
    if not (exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)):
        return None
    reason = str(exc.orig).lower()
    if "locked" in reason or "busy" in reason:
        return "the database is busy (locked); try again shortly"
    if "full" in reason or "no space" in reason:
        return "the database's disk is full; try again later"
    return "the database is unreachable; try again shortly"


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(KarenaError)
    async def _domain(request: Request, exc: KarenaError) -> Response:
        response = error_response(request, exc.status_code, exc.message, exc.detail)
        _keep_voter_cookie(request, response)
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = retry_after(exc)
        if exc.status_code >= 500:
            log.error("%s on %s: %s", type(exc).__name__, request.url.path, exc.message)
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        detail = _validation_detail(exc)
        first = detail[0] if detail else {"loc": [], "msg": "invalid request"}
        where = ".".join(p for p in first["loc"] if p not in ("body", "query", "path"))
        message = f"invalid request: {where + ': ' if where else ''}{first['msg']}"
        return error_response(request, 422, message, detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        status = exc.status_code
        if status == 400:
            # FastAPI's only 400 is a body it cannot decode: a malformed request, like bad JSON.
            status, message = 422, f"invalid request: {message.lower()}"
        response = error_response(request, status, message)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    async def _outage_or_bug(request: Request, exc: Exception) -> Response:
        message = outage_message(exc)
        if message is None:
            log.exception("unexpected error on %s %s", request.method, request.url.path)
            return error_response(request, 500, "internal server error")
        log.warning("503 on %s %s: %s", request.method, request.url.path, exc)
        retry_after = int(request.app.state.settings.retry_after_seconds)
        response = error_response(request, 503, message, {"retry_after_seconds": retry_after})
        response.headers["Retry-After"] = str(retry_after)
        return _keep_voter_cookie(request, response)

    # Registered by class, so Starlette's ExceptionMiddleware answers them: no traceback logged
    # twice, and an outage is not an "Exception in ASGI application".
    app.add_exception_handler(SQLAlchemyError, _outage_or_bug)
    app.add_exception_handler(OSError, _outage_or_bug)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(request, 500, "internal server error")
