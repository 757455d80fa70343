"""Request dependencies: store, live generators, the signed voter cookie, admin auth, limits."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, TypeVar

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, SecretStr

from karena.errors import Forbidden, Unauthorized
from karena.services.live import LiveGenerators
from karena.settings import Settings
from karena.store.api import Store
from karena.store.votes import address_voter_id

VOTER_COOKIE = "karena_voter"
T = TypeVar("T")
_JSON = "application/json"
_HEX = frozenset("0123456789abcdef")
#: Hex characters of a voter id and of its cookie signature.
_ID_CHARS = 32
_SIG_CHARS = 32
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


def _mac(salt: str, purpose: str, value: str) -> str:
    digest = hmac.new(salt.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()
    return digest[:_SIG_CHARS]


def sign_voter_id(salt: str, voter_id: str) -> str:
    """The voter cookie's value for ``voter_id``: ``<id>.<HMAC-SHA256 under the voter salt>``.

    Only the server, which knows KARENA_VOTER_SALT, can make one; tests that know their
    server's salt call this to act as several browsers.
    """
    return f"{voter_id}.{_mac(salt, 'voter-cookie', voter_id)}"


def verified_voter_id(salt: str, value: str | None) -> str | None:
    """The voter id a cookie value carries, or None when it is not one the server signed."""
    if value is None or len(value) != _ID_CHARS + 1 + _SIG_CHARS or value[_ID_CHARS] != ".":
        return None
    voter, signature = value[:_ID_CHARS], value[_ID_CHARS + 1 :]
    if not set(voter) <= _HEX:
        return None
    if not hmac.compare_digest(signature, _mac(salt, "voter-cookie", voter)):
        return None
    return voter


def form_token_for(salt: str, voter: str) -> str:
    """The anti-CSRF token of ``voter``'s forms: only pages served to that browser carry it."""
    return _mac(salt, "form", voter)


def form_token(request: Request, voter: str) -> str:
    """:func:`form_token_for` under this app's voter salt."""
    return form_token_for(settings_of(request).voter_salt.get_secret_value(), voter)


def check_form_token(request: Request, voter: str, token: str) -> None:
    """Refuse a form POST that another site made (no token, a wrong one, or a foreign Origin).

    A cross-site form carries no voter cookie (it is SameSite=Lax), so its voter is the fresh
    one minted for this request, whose token no page has shown.
    """
    origin = request.headers.get("origin")
    if origin not in (None, "null") and origin != _own_origin(request):
        raise Forbidden("cross-site form refused: open the vote page and submit it from there")
    if not hmac.compare_digest(token.encode(), form_token(request, voter).encode()):
        raise Forbidden(
            "this form is stale or came from another site: reload the vote page and send it again"
        )


def _own_origin(request: Request) -> str:
    host = request.headers.get("host", request.url.netloc)
    return f"{request.url.scheme}://{host}"


def set_voter_cookie(request: Request, response: Response, value: str) -> None:
    """Set the voter cookie for the raw voter id ``value`` (signed) on ``response``."""
    response.set_cookie(
        VOTER_COOKIE,
        sign_voter_id(settings_of(request).voter_salt.get_secret_value(), value),
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
    """The voter's id: the random id in the signed cookie, or, without one, the address's.

    A request without a cookie the server signed counts as its address (salted-hashed), so a
    client that drops the cookie, or makes one up, cannot reset its rate limit or dodge a ban;
    it is also given a fresh signed cookie, which a browser keeps, so people behind one address
    are told apart from their second request on.
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
    known = getattr(request.state, "voter", None)
    if known is not None:
        return str(known)
    salt = settings_of(request).voter_salt.get_secret_value()
    voter = verified_voter_id(salt, request.cookies.get(VOTER_COOKIE))
    if voter is None:
        request.state.new_voter_id = secrets.token_hex(16)
        voter = _address_voter_id(request)
    request.state.voter = voter
    return voter


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
