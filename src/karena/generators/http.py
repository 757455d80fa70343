"""What the HTTP adapters share: the API key from the environment, requests with retries.

Every adapter reads its key at call time from an environment variable whose *name* is in its
config (``api_key_env``), so that keys never sit in the database, in settings files or in logs.
Errors name the endpoint and the HTTP status and quote at most 200 characters of the answer's
body, with the key blanked out should an endpoint echo it; request headers are never quoted.

:func:`send` retries what is worth retrying (HTTP 408, 425, 429 and 5xx, a timeout, a refused
or dropped connection) with exponential backoff, and never a 4xx that says the request is
wrong. An :class:`~karena.errors.UpstreamError` carries ``detail["retryable"]`` so a caller
(``karena generate``, the job queue) can decide whether a later attempt may succeed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from karena.errors import ConfigError, UpstreamError

__all__ = [
    "MAX_RESPONSE_BYTES",
    "HttpPolicy",
    "api_key",
    "download",
    "json_body",
    "send",
    "shared_client",
    "snippet",
]

#: Largest output accepted from an endpoint (bytes), whatever the upload limit says.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class HttpPolicy:
    """Timeout of one request (s) and retries of a request that failed transiently."""

    timeout: float = 60.0
    retries: int = 2
    backoff: float = 0.5  # seconds before the first retry; doubles after each


def shared_client(holder: dict[str, Any], timeout: float) -> Any:
    """One ``httpx.Client`` per generator, made on first use (connections are reused)."""
    client = holder.get("client")
    if client is None:
        import httpx

        client = holder.setdefault("client", httpx.Client(timeout=timeout, follow_redirects=False))
    return client


def api_key(env_name: str | None, what: str) -> str | None:
    """The key in ``$env_name`` (None when no variable is named); ConfigError when unset."""
    if not env_name:
        return None
    key = os.environ.get(env_name)
    if not key:
        raise ConfigError(f"environment variable {env_name} ({what}'s API key) is not set")
    return key


def snippet(text: str, secret: str | None = None, limit: int = 200) -> str:
    """One line of at most ``limit`` characters, with ``secret`` blanked out."""
    if secret:
        text = text.replace(secret, "***")
    one_line = " ".join(text.split())
    return one_line[:limit] + ("…" if len(one_line) > limit else "")


def send(
    client: Any,
    method: str,
    url: str,
    *,
    what: str,
    policy: HttpPolicy,
    secret: str | None = None,
    headers: Mapping[str, str] | None = None,
    json: object = None,
) -> Any:
    """One HTTP request with retries; the response (status < 400) or UpstreamError."""
    import httpx

    attempt = 0
    while True:
        retryable = True
        try:
            resp = client.request(method, url, headers=dict(headers or {}), json=json)
            if resp.status_code < 400:
                return resp
            retryable = resp.status_code in RETRY_STATUSES
            error = UpstreamError(
                f"{what} {url} answered HTTP {resp.status_code}: {snippet(resp.text, secret)}",
                detail={"status": resp.status_code, "retryable": retryable},
            )
        except httpx.TimeoutException:
            error = UpstreamError(
                f"{what} {url} timed out after {policy.timeout:g} s",
                detail={"retryable": True},
            )
        except httpx.HTTPError as exc:
            error = UpstreamError(
                f"{what} {url} failed: {type(exc).__name__}: {snippet(str(exc), secret)}",
                detail={"retryable": True},
            )
        if not retryable or attempt >= policy.retries:
            raise error
        time.sleep(policy.backoff * 2**attempt)
        attempt += 1


def json_body(resp: Any, what: str, secret: str | None = None) -> dict[str, Any]:
    """The JSON object an endpoint answered, or UpstreamError."""
    try:
        payload = resp.json()
    except ValueError:
        raise UpstreamError(
            f"{what} answered non-JSON: {snippet(resp.text, secret)}", detail={"retryable": False}
        ) from None
    if not isinstance(payload, dict):
        raise UpstreamError(f"{what} answered JSON that is not an object")
    return payload


def download(client: Any, url: object, *, what: str, policy: HttpPolicy) -> bytes:
    """The bytes at an output URL an endpoint handed back (no credentials are sent)."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise UpstreamError(f"{what} handed back no usable output URL: {str(url)[:200]!r}")
    resp = send(client, "GET", url, what=f"{what} output", policy=policy)
    if len(resp.content) > MAX_RESPONSE_BYTES:
        raise UpstreamError(f"output from {what} is larger than {MAX_RESPONSE_BYTES} bytes")
    return bytes(resp.content)
