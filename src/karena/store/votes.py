"""Vote submissions: voter hashing and client info (outcomes: :mod:`karena.rating.types`).

Recording a vote with its rating update lives in :mod:`karena.store.recording`.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["address_voter_id", "clean_client", "hash_voter"]

#: Write a rating snapshot every this many votes of an arena.
SNAPSHOT_EVERY = 100
#: Longest client-info string kept (user agent etc.).
MAX_CLIENT_FIELD = 300


def hash_voter(salt: str, voter_id: str) -> str:
    """HMAC-SHA256 of a raw voter id under the server's secret salt (hex, 64 chars)."""
    return hmac.new(salt.encode(), voter_id.encode("utf-8", "replace"), hashlib.sha256).hexdigest()


def address_voter_id(salt: str, address: str) -> str:
    """The voter id (32 hex) a request without a voter cookie counts as: its address, salted."""
    return hmac.new(salt.encode(), f"address:{address}".encode(), hashlib.sha256).hexdigest()[:32]


def clean_client(client: Mapping[str, object] | None) -> dict[str, Any]:
    """Keep a few short scalar client fields (user agent, viewport); drop everything else."""
    out: dict[str, Any] = {}
    for key, value in (client or {}).items():
        if len(out) >= 16:
            break
        name = str(key)[:64].replace("\x00", "")
        if isinstance(value, bool | int) or (isinstance(value, float) and math.isfinite(value)):
            out[name] = value
        elif isinstance(value, str):
            # PostgreSQL text cannot hold NUL; drop it (and anything else unprintable).
            out[name] = "".join(c for c in value[:MAX_CLIENT_FIELD] if c.isprintable())
    return out
