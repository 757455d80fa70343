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

from karena.errors import InvalidVote
from karena.rating.types import BestOfK, Outcome, Ranking, outcome_ranks
from karena.store.types import VOTE_MODES

__all__ = [
    "ParsedVote",
    "hash_voter",
    "normalise_ranks",
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


def _as_int(value: object, what: str) -> int:
    if isinstance(value, bool):
        raise InvalidVote(f"{what} must be an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidVote(f"{what} is not a finite number: {value!r}")
        if value.is_integer():
            return int(value)
    raise InvalidVote(f"{what} must be an integer, got {value!r}")


def normalise_ranks(ranks: Sequence[int]) -> tuple[int, ...]:
    """Competition ranking ("1224"): each rank becomes 1 + the number of strictly better ones."""
    return tuple(1 + sum(1 for other in ranks if other < r) for r in ranks)


def outcome_for(mode: str, ranks: Sequence[int]) -> Outcome:
    """The outcome a stored (mode, ranks) pair stands for; replay uses exactly this."""
    k = len(ranks)
    if mode == "rank":
        return Ranking(tuple(ranks))
    if mode == "best":
        return BestOfK(k, list(ranks).index(1))
    return BestOfK(k, None)


def parse_vote(mode: object, ranks: object, winner: object, k: int) -> ParsedVote:
    """Validate a submission for a battle of ``k`` positions (InvalidVote, nothing stored).

    ``rank``: ``ranks[i]`` is the rank of position ``i`` (1 = best, equal = tie), integers in
    1..K; ``best``: ``winner`` is a position 0..K−1; ``tie`` and ``all_bad`` take neither.
    """
    if not isinstance(mode, str) or mode not in VOTE_MODES:
        raise InvalidVote(f"mode must be one of {', '.join(VOTE_MODES)}, got {mode!r}")
    if mode == "rank":
        if winner is not None:
            raise InvalidVote("rank mode takes 'ranks', not 'winner'")
        if isinstance(ranks, str | bytes) or not isinstance(ranks, Sequence):
            raise InvalidVote("rank mode needs 'ranks': a list with one rank per position")
        if len(ranks) != k:
            raise InvalidVote(f"ranks must have {k} entries (one per position), got {len(ranks)}")
        values = [_as_int(r, f"rank of position {i}") for i, r in enumerate(ranks)]
        for i, r in enumerate(values):
            if not 1 <= r <= k:
                raise InvalidVote(f"rank of position {i} must be in 1..{k}, got {r}")
        canonical = normalise_ranks(values)
        return ParsedVote("rank", canonical, Ranking(canonical))
    if ranks is not None:
        raise InvalidVote(f"{mode} mode takes no 'ranks'")
    if mode == "best":
        if winner is None:
            raise InvalidVote("best mode needs 'winner': the position of the best output")
        w = _as_int(winner, "winner")
        if not 0 <= w < k:
            raise InvalidVote(f"winner must be a position in 0..{k - 1}, got {w}")
        outcome: Outcome = BestOfK(k, w)
        return ParsedVote("best", outcome_ranks(outcome), outcome)
    if winner is not None:
        raise InvalidVote(f"{mode} mode takes no 'winner'")
    outcome = BestOfK(k, None)
    return ParsedVote(mode, outcome_ranks(outcome), outcome)


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
