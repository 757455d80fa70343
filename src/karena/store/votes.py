"""Vote submissions: validation into an outcome, and recording a vote with its rating update.

The recording half runs inside the caller's write transaction, after the arena row is locked,
so one arena's votes get gap-free sequence numbers and its ratings change one vote at a time.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from karena.errors import InvalidVote
from karena.rating.base import OnlineRatingModel
from karena.rating.types import BestOfK, Outcome, Ranking, Rating, outcome_ranks
from karena.store.models import Arena, Battle, PairCount, RatingRow, VoteRow
from karena.store.types import VOTE_MODES

__all__ = [
    "ParsedVote",
    "hash_voter",
    "normalise_ranks",
    "outcome_for",
    "parse_vote",
    "record_vote",
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


def upsert(
    session: Session,
    table: Any,
    rows: list[dict[str, Any]],
    keys: list[str],
    update: dict[str, Any],
) -> None:
    """INSERT … ON CONFLICT DO UPDATE for SQLite and PostgreSQL, as one executemany."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(table)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table)
    values = {k: (v(stmt.excluded) if callable(v) else v) for k, v in update.items()}
    session.connection().execute(stmt.on_conflict_do_update(index_elements=keys, set_=values), rows)


def record_vote(
    session: Session,
    *,
    arena: Arena,
    battle: Battle,
    model_ids: Sequence[int],
    parsed: ParsedVote,
    rating_model: OnlineRatingModel,
    voter_hash: str,
    client: Mapping[str, object] | None,
    now: datetime,
    counted: bool = True,
    address_hash: str | None = None,
) -> VoteRow:
    """Append a vote and (when counted) update ratings and pair counts. Caller holds the lock.

    Few round trips: one read of the K ratings, one upsert of them, one upsert of the pairs.
    """
    ids = [int(m) for m in model_ids]
    table = RatingRow.__table__
    current = {
        int(mid): (mu, sigma, votes)
        for mid, mu, sigma, votes in session.connection().execute(
            select(RatingRow.model_id, RatingRow.mu, RatingRow.sigma, RatingRow.votes).where(
                RatingRow.arena_id == arena.id, RatingRow.model_id.in_(ids)
            )
        )
    }
    prior = rating_model.initial()
    before = tuple(Rating(current[m][0], current[m][1]) if m in current else prior for m in ids)
    after = rating_model.update(before, parsed.outcome) if counted else before
    reveal = [[b.mu, b.sigma, a.mu, a.sigma] for b, a in zip(before, after, strict=True)]
    if counted:
        upsert(
            session,
            table,
            [
                {
                    "arena_id": arena.id,
                    "model_id": m,
                    "mu": a.mu,
                    "sigma": a.sigma,
                    "votes": (current[m][2] if m in current else 0) + 1,
                    "updated_at": now,
                }
                for m, a in zip(ids, after, strict=True)
            ],
            ["arena_id", "model_id"],
            {
                "mu": lambda ex: ex.mu,
                "sigma": lambda ex: ex.sigma,
                "votes": lambda ex: ex.votes,
                "updated_at": lambda ex: ex.updated_at,
            },
        )
        pairs = sorted({(min(a, b), max(a, b)) for i, a in enumerate(ids) for b in ids[i + 1 :]})
        pair_table = PairCount.__table__
        upsert(
            session,
            pair_table,
            [{"arena_id": arena.id, "model_a": a, "model_b": b, "n": 1} for a, b in pairs],
            ["arena_id", "model_a", "model_b"],
            {"n": pair_table.c.n + 1},
        )
    # Core statements, not the ORM unit of work: the flush machinery cost more CPU than the SQL.
    # The in-memory arena and battle take the new values as already committed (no second write).
    seq = arena.vote_seq + 1
    values: dict[str, Any] = {
        "arena_id": arena.id,
        "seq": seq,
        "battle_id": battle.id,
        "mode": parsed.mode,
        "ranks": list(parsed.ranks),
        "model_ids": ids,
        "counted": counted,
        "voter_hash": voter_hash,
        "address_hash": address_hash,
        "client": clean_client(client),
        "reveal": reveal,
        "created_at": now,
    }
    conn = session.connection()
    votes_table: Any = VoteRow.__table__
    arenas_table: Any = Arena.__table__
    battles_table: Any = Battle.__table__
    vote_id = conn.execute(insert(votes_table).returning(votes_table.c.id), values).scalar_one()
    conn.execute(update(arenas_table).where(Arena.id == arena.id).values(vote_seq=seq))
    set_committed_value(arena, "vote_seq", seq)
    if battle.state == "open":
        conn.execute(update(battles_table).where(Battle.id == battle.id).values(state="voted"))
        set_committed_value(battle, "state", "voted")
    if seq % SNAPSHOT_EVERY == 0:
        from karena.store.ratings import write_snapshot

        write_snapshot(session, arena=arena, reason="periodic", now=now)
    # A detached row object carrying what was stored, for the reveal.
    return VoteRow(id=vote_id, **values)
