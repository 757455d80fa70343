"""Domain exceptions. Each carries a one-line message and an HTTP status for the web layer.

This module imports nothing so that the pure core can use it.
"""

from __future__ import annotations


class KarenaError(Exception):
    """Base class for every error karena reports to a user."""

    status_code: int = 400
    code: str = "error"

    def __init__(self, message: str, detail: object | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def to_dict(self) -> dict[str, object]:
        """The JSON body the web layer sends: ``{"error": ..., "detail": ...}``."""
        return {"error": self.message, "detail": self.detail}


class InvalidVote(KarenaError, ValueError):
    """A vote that cannot be scored: wrong length, duplicates, K < 2, NaN, unknown positions."""

    status_code = 422
    code = "invalid_vote"


class InvalidInput(KarenaError, ValueError):
    """Any other malformed user input."""

    status_code = 422
    code = "invalid_input"


class NotFound(KarenaError, LookupError):
    """An unknown arena, model, battle or file."""

    status_code = 404
    code = "not_found"


class Conflict(KarenaError):
    """A request that contradicts stored state, e.g. a second, different vote on one battle."""

    status_code = 409
    code = "conflict"


class Expired(KarenaError):
    """A battle whose token has expired."""

    status_code = 410
    code = "expired"


class Unauthorized(KarenaError):
    """A missing or wrong admin token."""

    status_code = 401
    code = "unauthorized"


class Forbidden(KarenaError):
    """A voter the server has banned, or an action the caller may not take."""

    status_code = 403
    code = "forbidden"


class RateLimited(KarenaError):
    """Too many requests from one voter."""

    status_code = 429
    code = "rate_limited"


class PayloadTooLarge(KarenaError):
    """An upload over the configured size limit."""

    status_code = 413
    code = "payload_too_large"


class UnsupportedMedia(KarenaError):
    """An upload whose content is not an accepted type, whatever its name says."""

    status_code = 415
    code = "unsupported_media"


class UpstreamError(KarenaError):
    """A generator or judge endpoint that failed, timed out, or answered nonsense."""

    status_code = 502
    code = "upstream_error"


class ConfigError(KarenaError):
    """Settings that cannot work together."""

    status_code = 500
    code = "config_error"
