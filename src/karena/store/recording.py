"""Recording votes: append them to the log and apply them to the ratings, a batch at a time.

All votes of an arena pass through one row lock, so its hold time bounds the arena's throughput.
Taking the lock once for a batch of votes (group commit) and applying them one after another in
Python keeps every property of one-vote-at-a-time recording: gap-free ``seq``, each vote's own
before/after ratings for its reveal, and ratings that a replay of the log reproduces bit for
bit, because :func:`record_votes` calls the same ``update`` on the same inputs in ``seq`` order.

Statements per batch, whatever its size: reserve the sequence numbers (this takes the lock),
read the arena's ratings, upsert the changed ratings, upsert the pair counts, insert the votes
(and, every ``SNAPSHOT_EVERY`` votes, a snapshot).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from karena.rating.registry import rating_model as load_rating_model
from karena.rating.types import Outcome, Rating
from karena.store.models import Arena, RatingRow, VoteRow
from karena.store.rate_limits import Allowance
from karena.store.rows import insert_rows
from karena.store.votes import SNAPSHOT_EVERY, clean_client

__all__ = ["NewVote", "record_votes"]


@dataclass(frozen=True, slots=True)
class NewVote:
    """A validated vote waiting to be recorded.

    ``battle_id`` is the battle it answers; ``model_ids`` are in display order; the log keeps
    ``outcome.kind`` and ``outcome.ranks``. ``limits`` are the rate limits it takes an event
    from, in the transaction that records it (the vote writer; imports take none).
    """

    battle_id: int
    model_ids: tuple[int, ...]
    outcome: Outcome
    voter_hash: str
    address_hash: str | None = None
    client: Mapping[str, object] = field(default_factory=dict)
    counted: bool = True
    limits: tuple[Allowance, ...] = ()


@cache
def _reserve_seqs_statement() -> Any:
    """Take the arena's row lock and ``n`` sequence numbers in one statement."""
    table: Any = Arena.__table__
    return (
        update(table)
        .where(table.c.id == bindparam("arena"))
        .values(vote_seq=table.c.vote_seq + bindparam("n"))
        .returning(table.c.vote_seq, table.c.rating_model, table.c.rating_params)
    )


@cache
def _ratings_statement() -> Any:
    return select(RatingRow.model_id, RatingRow.mu, RatingRow.sigma, RatingRow.votes).where(
        RatingRow.arena_id == bindparam("arena")
    )


def _pairs(ids: Sequence[int]) -> set[tuple[int, int]]:
    return {(min(a, b), max(a, b)) for i, a in enumerate(ids) for b in ids[i + 1 :]}


def record_votes(
    conn: Connection, *, arena_id: int, votes: Sequence[NewVote], clock: Callable[[], datetime]
) -> list[VoteRow]:
    """Append ``votes`` (in order) and apply the counted ones, in the caller's transaction.

    The first statement locks the arena row (PostgreSQL; SQLite's single writer already
    serialises), so the ratings read next are the latest committed. ``clock`` is read after the
    lock, so ``created_at`` follows ``seq`` across workers. Returns detached rows carrying
    what was stored, for the reveals.
    """
    last, model_name, model_params = conn.execute(
        _reserve_seqs_statement(), {"arena": arena_id, "n": len(votes)}
    ).one()
    now = clock()
    model = load_rating_model(str(model_name), model_params)
    prior = model.initial()
    # model id → [mu, sigma, votes]; every rating of the arena, so snapshots come from memory.
    state = {
        int(mid): [mu, sigma, int(n)]
        for mid, mu, sigma, n in conn.execute(_ratings_statement(), {"arena": arena_id})
    }
    changed: set[int] = set()
    met: Counter[tuple[int, int]] = Counter()
    rows: list[dict[str, Any]] = []
    snapshots: list[dict[str, Any]] = []
    first = int(last) - len(votes) + 1
    for seq, vote in enumerate(votes, start=first):
        ids = [int(m) for m in vote.model_ids]
        before = tuple(Rating(state[m][0], state[m][1]) if m in state else prior for m in ids)
        after = model.update(before, vote.outcome) if vote.counted else before
        if vote.counted:
            for m, a in zip(ids, after, strict=True):
                state[m] = [a.mu, a.sigma, (state[m][2] if m in state else 0) + 1]
            changed.update(ids)
            met.update(_pairs(ids))
        rows.append(
            {
                "arena_id": arena_id,
                "seq": seq,
                "battle_id": vote.battle_id,
                "mode": vote.outcome.kind.value,
                "ranks": list(vote.outcome.ranks),
                "model_ids": ids,
                "counted": vote.counted,
                "voter_hash": vote.voter_hash,
                "address_hash": vote.address_hash,
                "client": clean_client(vote.client),
                "reveal": [
                    [b.mu, b.sigma, a.mu, a.sigma] for b, a in zip(before, after, strict=True)
                ],
                "created_at": now,
            }
        )
        if seq % SNAPSHOT_EVERY == 0:
            ratings = {str(m): list(v) for m, v in sorted(state.items())}
            snapshots.append(
                {"arena_id": arena_id, "seq": seq, "reason": "periodic", "ratings": ratings}
            )
    insert_rows(
        conn,
        "ratings",
        [
            {
                "arena_id": arena_id,
                "model_id": m,
                "mu": state[m][0],
                "sigma": state[m][1],
                "votes": state[m][2],
                "updated_at": now,
            }
            for m in sorted(changed)
        ],
    )
    insert_rows(
        conn,
        "pair_counts",
        [
            {"arena_id": arena_id, "model_a": a, "model_b": b, "n": n}
            for (a, b), n in sorted(met.items())
        ],
    )
    insert_rows(conn, "votes", rows)
    insert_rows(conn, "rating_snapshots", [{**snap, "created_at": now} for snap in snapshots])
    return [VoteRow(**row) for row in rows]
