"""Pure-ASGI middleware (cheap per request): privacy and security headers, and a body-size cap."""

from __future__ import annotations

import json

from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from karena.errors import KarenaError
from karena.web.deps import check_admin_token

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


class _BodyTooLarge(Exception):
    """Raised into the app by the guarded ``receive`` once a body passes its cap."""


class BodySizeLimit:
    """A hard cap on every request body, whatever its framing (issue 13, finding 4).

    A declared ``Content-Length`` over the cap is refused before a byte is read. Any other body
    (chunked, or a lying length) is counted as it streams: the message that passes the cap is
    not handed to the app, the app's own answer is dropped, and the client gets 413; uvicorn then
    closes the connection without reading the rest. So no route, public or not, ever holds more
    than ``limit`` bytes of one body. ``routes`` maps exact paths to larger caps (uploads).
    """

    def __init__(self, app: ASGIApp, limit: int, routes: dict[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.routes = dict(routes or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.routes.get(scope.get("path", ""), self.limit)
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    size = int(value)
                except ValueError:
                    size = -1
                if size < 0 or size > limit:
                    await _reject(send, size, limit)
                    return
        received = 0
        over = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, over
            if over:
                raise _BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over and not started:
                return  # the app's answer to a body it never fully got: ours goes instead
            started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            # FastAPI may wrap our exception (a body it "could not parse"); only ours is ours.
            if not over:
                raise
        if over and not started:
            await _reject(send, received, limit)


class AdminGate:
    """Checks the admin token of every ``/api/admin`` request before anything reads its body.

    FastAPI parses a route's body before its dependencies run, so a malformed body would get 422
    before the token was looked at (issue 13, finding 9). Here a missing or wrong token is 401
    (403 with no token configured) whatever the body, and the body is never read.
    """

    def __init__(self, app: ASGIApp, token: SecretStr | None, prefix: str = "/api/admin") -> None:
        self.app = app
        self.token = token
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "") if scope["type"] == "http" else ""
        if path == self.prefix or path.startswith(self.prefix + "/"):
            header = None
            for key, value in scope.get("headers", []):
                if key == b"authorization":
                    header = value.decode("latin-1")
            try:
                check_admin_token(self.token, header)
            except KarenaError as exc:
                await send_json(send, exc.status_code, {"error": exc.message, "detail": None})
                return
        await self.app(scope, receive, send)


async def send_json(
    send: Send, status: int, payload: object, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """A complete JSON response sent from middleware (no-store)."""
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _reject(send: Send, size: int, limit: int) -> None:
    if size < 0:
        status, message = 400, "invalid Content-Length header"
    else:
        status, message = 413, f"request body is larger than {limit} bytes"
    await send_json(send, status, {"error": message, "detail": {"limit": limit}})
