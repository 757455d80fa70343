"""Pure-ASGI middleware (cheap per request): privacy and security headers, and a body-size guard."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Pages may load only our own scripts, styles and media.
_CSP = (
    "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; "
    "script-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_CSP_BYTES = _CSP.encode()
#: Headers that could tell one model's output from another (validators, file names).
_IDENTIFYING = {b"etag", b"last-modified", b"content-disposition"}


class SecurityHeaders:
    """Adds no-store, nosniff, referrer and CSP headers; strips validators outside /static."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        static = path.startswith("/static/")
        # The Swagger UI at /docs loads its own scripts; our CSP would break it.
        docs = path.startswith(("/docs", "/redoc", "/openapi.json"))
        export = path.startswith("/api/votes/export") or path.startswith("/api/leaderboard")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if static or (k.lower() not in _IDENTIFYING or export)
                ]
                names = {k.lower() for k, _ in headers}
                if not static and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"no-referrer"))
                if not docs:
                    headers.append((b"content-security-policy", _CSP_BYTES))
                    headers.append((b"x-frame-options", b"DENY"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodySizeLimit:
    """Refuses a request whose declared body is over ``limit`` bytes with 413, before reading it."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for key, value in scope.get("headers", []):
                if key == b"content-length":
                    try:
                        size = int(value)
                    except ValueError:
                        size = -1
                    if size < 0 or size > self.limit:
                        await _reject(send, size, self.limit)
                        return
        await self.app(scope, receive, send)


async def _reject(send: Send, size: int, limit: int) -> None:
    if size < 0:
        status, message = 400, "invalid Content-Length header"
    else:
        status, message = 413, f"request body is larger than {limit} bytes"
    body = json.dumps({"error": message, "detail": {"limit": limit}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
