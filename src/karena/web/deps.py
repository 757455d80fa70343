"""Request dependencies: store, live generators, voter cookie, admin auth, a battle limiter."""

from __future__ import annotations

import asyncio
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, TypeVar

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, SecretStr

from karena.errors import Forbidden, RateLimited, Unauthorized
from karena.services.live import LiveGenerators
from karena.settings import Settings
from karena.store.api import Store
from karena.store.votes import address_voter_id

VOTER_COOKIE = "karena_voter"
T = TypeVar("T")
_JSON = "application/json"
_VOTER_ID_CHARS = frozenset("0123456789abcdef")
#: One voter may open this many battles per vote allowed (people skip battles they dislike).
BATTLES_PER_VOTE = 4
_bearer = HTTPBearer(auto_error=False, description="The admin token (KARENA_ADMIN_TOKEN).")


# Dependencies that never block are ``async def``: FastAPI runs a plain ``def`` dependency in
# the thread pool, and that hand-off cost more CPU than the dependency itself (measured: a
# sixth of a vote request's CPU).


def settings_of(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


async def get_store(request: Request) -> Store:
    """The app's store."""
    store: Store = request.app.state.store
    return store


async def get_live(request: Request) -> LiveGenerators:
    """The app's live generators (typed-prompt battles)."""
    live: LiveGenerators = request.app.state.live
    return live


async def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return settings_of(request)


def _valid_voter_id(value: str | None) -> bool:
    return value is not None and len(value) == 32 and set(value) <= _VOTER_ID_CHARS


def set_voter_cookie(request: Request, response: Response, value: str) -> None:
    """Set the voter cookie on ``response``."""
    response.set_cookie(
        VOTER_COOKIE,
        value,
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def _address_voter_id(request: Request) -> str:
    """A voter id derived from the client address (salted), for requests without a cookie."""
    salt = settings_of(request).voter_salt.get_secret_value()
    return address_voter_id(salt, client_address(request))


async def voter_id(request: Request, response: Response) -> str:
    """The voter's id: the random id in the cookie, or, without one, the client address's.

    A request without a valid cookie counts as its address (salted-hashed), so a client that
    drops the cookie cannot reset its rate limit; it is also given a fresh random cookie, which a
    browser keeps, so people behind one address are told apart from their second request on.
    The raw id never reaches storage: the store keeps only its salted hash. Routes that return a
    Response themselves must call :func:`attach_new_voter_cookie` (FastAPI copies the cookie
    only onto responses it builds).
    """
    voter = request_voter(request)
    fresh = getattr(request.state, "new_voter_id", None)
    if fresh is not None:
        set_voter_cookie(request, response, fresh)
    return voter


def request_voter(request: Request) -> str:
    """:func:`voter_id` without a dependency: a minted cookie waits in ``request.state``.

    The hot routes call it directly and send the cookie with :func:`json_response`.
    """
    value = request.cookies.get(VOTER_COOKIE)
    if value is not None and _valid_voter_id(value):
        return value
    request.state.new_voter_id = secrets.token_hex(16)
    return _address_voter_id(request)


def attach_new_voter_cookie(request: Request, response: Response) -> Response:
    """Copy a voter cookie minted during this request onto a hand-built ``response``."""
    fresh = getattr(request.state, "new_voter_id", None)
    if fresh is not None:
        set_voter_cookie(request, response, fresh)
    return response


def client_address(request: Request) -> str:
    """The client's address, for the store's per-address vote limit (it keeps only a salted hash).

    Every vote passes it, cookie or not, so a client that mints its own voter cookies still
    meets the per-address limit (KARENA_RATE_LIMIT_PER_ADDRESS_PER_MINUTE).
    """
    return request.client.host if request.client is not None else "unknown"


def client_info(request: Request) -> dict[str, object]:
    """What we keep about the client with a vote: a truncated user agent, never the address."""
    return {"user_agent": request.headers.get("user-agent", "")[:200]}


def check_admin_token(expected: SecretStr | None, authorization: str | None) -> None:
    """Raise unless ``authorization`` is ``Bearer <expected>`` (403 when no token is configured).

    The one check behind both :class:`karena.web.middleware.AdminGate`, which runs it before a
    request's body is read, and :func:`require_admin`.
    """
    if expected is None or not expected.get_secret_value():
        raise Forbidden("the admin API is disabled: set KARENA_ADMIN_TOKEN to enable it")
    scheme, _, given = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise Unauthorized("admin token required: send 'Authorization: Bearer <token>'")
    if not hmac.compare_digest(given.strip().encode(), expected.get_secret_value().encode()):
        raise Unauthorized("wrong admin token")


async def require_admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Refuse unless the request carries the configured admin bearer token.

    ``credentials`` only declares the scheme in the OpenAPI schema; the header is checked as sent.
    """
    check_admin_token(settings_of(request).admin_token, request.headers.get("authorization"))


class SlidingWindowLimiter:
    """At most ``limit`` events per key in any 60 s window, in this process (0 = unlimited).

    Only battle creation uses it: votes are limited by the store, against the database, so the
    limit holds across workers. Battles are cheap to refuse and need no shared state to be safe.
    """

    def __init__(self, limit: int, *, max_keys: int = 100_000) -> None:
        self._limit = limit
        self._max_keys = max_keys
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str, now: float | None = None) -> None:
        """Record one event for ``key``; raise RateLimited when over the limit."""
        if self._limit <= 0:
            return
        t = now if now is not None else time.monotonic()
        with self._lock:
            if len(self._events) > self._max_keys:
                # Bounded memory: forget everyone rather than grow without end.
                self._events.clear()
            window = self._events.setdefault(key, deque())
            while window and window[0] <= t - 60.0:
                window.popleft()
            if len(window) >= self._limit:
                raise RateLimited(
                    f"too many new battles: at most {self._limit} per minute",
                    detail={"limit_per_minute": self._limit},
                )
            window.append(t)


StoreDep = Annotated[Store, Depends(get_store)]
LiveDep = Annotated[LiveGenerators, Depends(get_live)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
VoterDep = Annotated[str, Depends(voter_id)]


async def run_blocking(request: Request, work: Callable[[], T]) -> T:
    """Run blocking store work on the app's thread pool.

    The hot routes (open a battle, vote) are ``async def`` and hand their store call to a plain
    ``ThreadPoolExecutor``: measured 23 µs of CPU per hand-off, against 60 µs for the
    AnyIO thread pool that FastAPI uses for ``def`` routes.
    """
    loop = asyncio.get_running_loop()
    executor: ThreadPoolExecutor = request.app.state.executor
    return await loop.run_in_executor(executor, work)


def json_response(request: Request, body: BaseModel, status_code: int = 200) -> Response:
    """``body`` serialised once, with any voter cookie minted during this request.

    FastAPI would validate a returned model against ``response_model`` again before
    serialising it; these models are built from validated store values already.
    """
    response = Response(body.model_dump_json(), status_code=status_code, media_type=_JSON)
    return attach_new_voter_cookie(request, response)
