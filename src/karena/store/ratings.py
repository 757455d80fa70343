"""Ratings: the leaderboard, snapshots, and the exact rebuild from the vote log."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.orm import Session

from karena.rating.base import OnlineRatingModel
from karena.rating.leaderboard import JudgePlacement, LeaderboardRow, build_leaderboard
from karena.rating.registry import rating_model
from karena.rating.types import Rating, stored_outcome
from karena.store.models import (
    Arena,
    JudgePlacementRow,
    Model,
    PairCount,
    RatingRow,
    RatingSnapshot,
    VoteRow,
)

__all__ = [
    "leaderboard_rows",
    "load_placements",
    "load_ratings",
    "rebuild",
    "save_placement",
    "write_snapshot",
]


class StoredRating(Protocol):
    """What a leaderboard row reads of a rating: a :class:`RatingRow`, or one replayed."""

    @property
    def mu(self) -> float: ...
    @property
    def sigma(self) -> float: ...
    @property
    def votes(self) -> int: ...
    @property
    def updated_at(self) -> datetime | None: ...


def model_for_arena(arena: Arena) -> OnlineRatingModel:
    """The arena's online rating model."""
    return rating_model(arena.rating_model, arena.rating_params)


def load_ratings(session: Session, arena_id: int) -> dict[int, RatingRow]:
    """Current rating rows by model id."""
    return {
        row.model_id: row
        for row in session.scalars(select(RatingRow).where(RatingRow.arena_id == arena_id))
    }


def load_placements(session: Session, arena_id: int) -> dict[int, JudgePlacement]:
    """Judge placements by model id (they are never votes: see save_placement)."""
    return {
        row.model_id: JudgePlacement(
            mu=row.mu,
            sigma=row.sigma,
            skill_quantiles=tuple(float(q) for q in row.skill_quantiles),
            rank=row.rank,
            rank_low=row.rank_low,
            rank_high=row.rank_high,
            method=row.method,
            judge=row.judge,
            runs=row.runs,
            created_at=row.created_at,
        )
        for row in session.scalars(
            select(JudgePlacementRow).where(JudgePlacementRow.arena_id == arena_id)
        )
    }


def save_placement(
    session: Session, *, arena_id: int, model_id: int, placement: JudgePlacement, now: datetime
) -> None:
    """Insert or replace a model's judge placement. Votes, ratings and pair counts are untouched:
    a placement lives in its own table, and the rebuild never reads it."""
    session.execute(
        delete(JudgePlacementRow).where(
            JudgePlacementRow.arena_id == arena_id, JudgePlacementRow.model_id == model_id
        )
    )
    session.add(
        JudgePlacementRow(
            arena_id=arena_id,
            model_id=model_id,
            mu=placement.mu,
            sigma=placement.sigma,
            skill_quantiles=list(placement.skill_quantiles),
            rank=placement.rank,
            rank_low=placement.rank_low,
            rank_high=placement.rank_high,
            method=placement.method[:16],
            judge=placement.judge[:200],
            runs=placement.runs,
            created_at=now,
        )
    )
    session.flush()


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
        after = model.update(before, stored_outcome(mode, ranks))
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
    ratings: Mapping[int, StoredRating],
    *,
    prior: Rating,
    provisional_sigma: float,
    include_disabled: bool = True,
    placements: dict[int, JudgePlacement] | None = None,
) -> tuple[LeaderboardRow, ...]:
    """Rank models by μ − 3σ (K-Sort Arena Eq. 6) with ``rating.leaderboard.build_leaderboard``.

    Unrated models sit at the prior and are provisional; equal scores share a rank. Judge
    placements are joined in there (marked, and giving way to human votes by its rule).
    """
    by_id = {m.id: m for m in models if m.enabled or include_disabled}
    beliefs: dict[Hashable, Rating] = {
        mid: Rating(ratings[mid].mu, ratings[mid].sigma) if mid in ratings else prior
        for mid in by_id
    }
    counts: dict[Hashable, int] = {
        mid: ratings[mid].votes if mid in ratings else 0 for mid in by_id
    }
    names: dict[Hashable, str] = {mid: m.name for mid, m in by_id.items()}
    placed: dict[Hashable, JudgePlacement] = {
        mid: p for mid, p in (placements or {}).items() if mid in by_id
    }
    rows = build_leaderboard(
        beliefs, counts, names=names, provisional_sigma=provisional_sigma, placements=placed
    )
    return tuple(
        replace(
            row,
            organization=by_id[row.model_id].organization,  # type: ignore[index]
            link=by_id[row.model_id].link,  # type: ignore[index]
            enabled=by_id[row.model_id].enabled,  # type: ignore[index]
            last_updated=stored.updated_at
            if (stored := ratings.get(row.model_id)) is not None  # type: ignore[call-overload]
            else None,
        )
        for row in rows
    )
