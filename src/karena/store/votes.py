"""Vote submissions: validation into an outcome, voter hashing and client info.

Recording a vote with its rating update lives in :mod:`karena.store.recording`.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from karena.rating.types import Outcome, parse_outcome, stored_outcome

__all__ = [
    "ParsedVote",
    "hash_voter",
    "outcome_for",
    "parse_vote",
]

#: Write a rating snapshot every this many votes of an arena.
SNAPSHOT_EVERY = 100
#: Longest client-info string kept (user agent etc.).
MAX_CLIENT_FIELD = 300


@dataclass(frozen=True, slots=True)
class ParsedVote:
    """A validated submission: its mode, canonical ranks and the outcome the rating model sees."""

    mode: str
    ranks: tuple[int, ...]
    outcome: Outcome


def hash_voter(salt: str, voter_id: str) -> str:
    """HMAC-SHA256 of a raw voter id under the server's secret salt (hex, 64 chars)."""
    return hmac.new(salt.encode(), voter_id.encode("utf-8", "replace"), hashlib.sha256).hexdigest()


def address_voter_id(salt: str, address: str) -> str:
    """The voter id (32 hex) a request without a voter cookie counts as: its address, salted."""
    return hmac.new(salt.encode(), f"address:{address}".encode(), hashlib.sha256).hexdigest()[:32]


def outcome_for(mode: str, ranks: Sequence[int]) -> Outcome:
    """The outcome a stored (mode, ranks) pair stands for; replay uses exactly this."""
    return stored_outcome(mode, ranks)


def parse_vote(mode: object, ranks: object, winner: object, k: int) -> ParsedVote:
    """Validate a submission for a battle of ``k`` positions (InvalidVote, nothing stored).

    See :func:`karena.rating.types.parse_outcome`.
    """
    outcome = parse_outcome(mode, k=k, ranks=ranks, winner=winner)
    return ParsedVote(outcome.kind.value, outcome.ranks, outcome)


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
