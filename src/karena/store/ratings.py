"""Ratings: the leaderboard, snapshots, and the exact rebuild from the vote log."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.orm import Session

from karena.rating.base import OnlineRatingModel
from karena.rating.types import Rating
from karena.store.models import Arena, Model, PairCount, RatingRow, RatingSnapshot, VoteRow
from karena.store.registry import rating_model
from karena.store.types import LeaderboardRow
from karena.store.votes import outcome_for

__all__ = ["leaderboard_rows", "load_ratings", "rebuild", "write_snapshot"]

#: z for the two-sided 95% interval μ ± zσ.
Z95 = 1.959963984540054


def model_for_arena(arena: Arena) -> OnlineRatingModel:
    """The arena's online rating model."""
    return rating_model(arena.rating_model, arena.rating_params)


def load_ratings(session: Session, arena_id: int) -> dict[int, RatingRow]:
    """Current rating rows by model id."""
    return {
        row.model_id: row
        for row in session.scalars(select(RatingRow).where(RatingRow.arena_id == arena_id))
    }


def write_snapshot(
    conn: Connection, *, arena_id: int, seq: int, reason: str, now: datetime
) -> None:
    """Store every current rating of an arena as of its vote ``seq``."""
    payload = {
        str(mid): [mu, sigma, votes]
        for mid, mu, sigma, votes in conn.execute(
            select(RatingRow.model_id, RatingRow.mu, RatingRow.sigma, RatingRow.votes).where(
                RatingRow.arena_id == arena_id
            )
        )
    }
    table: Any = RatingSnapshot.__table__
    conn.execute(
        insert(table),
        {"arena_id": arena_id, "seq": seq, "reason": reason, "ratings": payload, "created_at": now},
    )


def rebuild(session: Session, *, arena: Arena, now: datetime) -> int:
    """Replace ratings and pair counts with a replay of the counted votes in ``seq`` order.

    The replay calls the same ``update`` with the same inputs as the incremental path, so the
    floats agree bit for bit. The caller holds the arena lock. Returns the votes replayed.
    """
    model = model_for_arena(arena)
    prior = model.initial()
    state: dict[int, Rating] = {}
    votes_of: dict[int, int] = {}
    updated: dict[int, datetime] = {}
    pairs: dict[tuple[int, int], int] = {}
    replayed = 0
    rows = session.execute(
        select(VoteRow.model_ids, VoteRow.mode, VoteRow.ranks, VoteRow.created_at)
        .where(VoteRow.arena_id == arena.id, VoteRow.counted.is_(True))
        .order_by(VoteRow.seq)
        .execution_options(yield_per=2000)
    )
    for model_ids, mode, ranks, created_at in rows:
        ids = [int(m) for m in model_ids]
        before = tuple(state.get(m, prior) for m in ids)
        after = model.update(before, outcome_for(mode, ranks))
        for mid, new in zip(ids, after, strict=True):
            state[mid] = new
            votes_of[mid] = votes_of.get(mid, 0) + 1
            updated[mid] = created_at
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                key = (min(a, b), max(a, b))
                pairs[key] = pairs.get(key, 0) + 1
        replayed += 1
    session.execute(delete(RatingRow).where(RatingRow.arena_id == arena.id))
    session.execute(delete(PairCount).where(PairCount.arena_id == arena.id))
    session.add_all(
        RatingRow(
            arena_id=arena.id,
            model_id=mid,
            mu=r.mu,
            sigma=r.sigma,
            votes=votes_of[mid],
            updated_at=updated[mid],
        )
        for mid, r in state.items()
    )
    session.add_all(
        PairCount(arena_id=arena.id, model_a=a, model_b=b, n=n) for (a, b), n in pairs.items()
    )
    session.flush()
    write_snapshot(
        session.connection(), arena_id=arena.id, seq=arena.vote_seq, reason="recompute", now=now
    )
    return replayed


def leaderboard_rows(
    models: Iterable[Model],
    ratings: dict[int, RatingRow],
    *,
    prior: Rating,
    provisional_sigma: float,
    include_disabled: bool = True,
) -> tuple[LeaderboardRow, ...]:
    """Rank models by μ − 3σ (K-Sort Arena Eq. 6), via ``rating.leaderboard.build_leaderboard``.

    Unrated models sit at the prior and are provisional; equal scores share a rank.
    """
    from karena.rating.leaderboard import build_leaderboard

    by_id = {m.id: m for m in models if m.enabled or include_disabled}
    beliefs: dict[Hashable, Rating] = {
        mid: Rating(ratings[mid].mu, ratings[mid].sigma) if mid in ratings else prior
        for mid in by_id
    }
    counts: dict[Hashable, int] = {
        mid: ratings[mid].votes if mid in ratings else 0 for mid in by_id
    }
    rows = build_leaderboard(beliefs, counts, provisional_sigma=provisional_sigma, z=Z95)
    out = []
    for row in rows:
        mid = int(row.model)  # type: ignore[call-overload]
        m, stored = by_id[mid], ratings.get(mid)
        out.append(
            LeaderboardRow(
                rank=row.rank,
                model_id=mid,
                model_name=m.name,
                organization=m.organization,
                link=m.link,
                score=row.score,
                mu=row.mu,
                sigma=row.sigma,
                ci_low=row.lower,
                ci_high=row.upper,
                votes=row.votes,
                provisional=row.provisional or row.votes == 0,
                last_updated=stored.updated_at if stored is not None else None,
                enabled=m.enabled,
            )
        )
    return tuple(out)
