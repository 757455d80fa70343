"""Ratings: the leaderboard, snapshots, and the exact rebuild from the vote log."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import numpy as np
from sqlalchemy import delete, select
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


def load_pair_counts(session: Session, arena_id: int, index: dict[int, int]) -> np.ndarray:
    """The symmetric n×n matrix n_iq over the models in ``index`` (model id → row)."""
    n = len(index)
    counts = np.zeros((n, n), dtype=np.int64)
    for a, b, n_ab in session.execute(
        select(PairCount.model_a, PairCount.model_b, PairCount.n).where(
            PairCount.arena_id == arena_id
        )
    ):
        i, j = index.get(a), index.get(b)
        if i is not None and j is not None:
            counts[i, j] = counts[j, i] = n_ab
    return counts


def write_snapshot(session: Session, *, arena: Arena, reason: str, now: datetime) -> None:
    """Store every current rating of ``arena`` as of its last vote."""
    payload = {
        str(mid): [row.mu, row.sigma, row.votes]
        for mid, row in load_ratings(session, arena.id).items()
    }
    session.add(
        RatingSnapshot(
            arena_id=arena.id, seq=arena.vote_seq, reason=reason, ratings=payload, created_at=now
        )
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
    write_snapshot(session, arena=arena, reason="recompute", now=now)
    return replayed


def leaderboard_rows(
    models: Iterable[Model],
    ratings: dict[int, RatingRow],
    *,
    prior: Rating,
    provisional_sigma: float,
    include_disabled: bool = True,
) -> tuple[LeaderboardRow, ...]:
    """Rank models by μ − 3σ (K-Sort Arena Eq. 6), best first; unrated models sit at the prior."""
    entries = []
    for m in models:
        if not m.enabled and not include_disabled:
            continue
        row = ratings.get(m.id)
        mu, sigma = (row.mu, row.sigma) if row is not None else (prior.mu, prior.sigma)
        votes = row.votes if row is not None else 0
        entries.append((m, mu, sigma, votes, row.updated_at if row is not None else None))
    entries.sort(key=lambda e: (-(e[1] - 3.0 * e[2]), e[0].name))
    return tuple(
        LeaderboardRow(
            rank=i + 1,
            model_id=m.id,
            model_name=m.name,
            organization=m.organization,
            link=m.link,
            score=mu - 3.0 * sigma,
            mu=mu,
            sigma=sigma,
            ci_low=mu - Z95 * sigma,
            ci_high=mu + Z95 * sigma,
            votes=votes,
            provisional=sigma > provisional_sigma or votes == 0,
            last_updated=updated,
            enabled=m.enabled,
        )
        for i, (m, mu, sigma, votes, updated) in enumerate(entries)
    )
