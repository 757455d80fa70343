"""Rating history and movement, read from this worker's :class:`VoteLogCache`.

* :func:`model_history`: a model's online μ and σ after its own votes (one replay pass from the
  memoised state before the first point, through ``karena.rating.history.sample``) and the
  batch board at intervals (:mod:`karena.store.batch_history`).
* :func:`earlier_ratings`: every model's rating as it stood ``window`` counted votes ago, the
  baseline of the leaderboard's movement column.

The service that calls these (``store.boards``) opens the read transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from karena.rating.history import grid_step, sample
from karena.store.batch_history import BatchHistoryFitter, BatchJob, load_points
from karena.store.families import arena_beta
from karena.store.models import Arena, Model
from karena.store.types import BatchPoint, ModelHistory, OnlinePoint
from karena.store.vote_log_cache import COLD_READ_VOTES, ArenaLog, VoteLogCache

__all__ = ["EarlierRating", "earlier_ratings", "model_history", "spread_points"]


@dataclass(frozen=True, slots=True)
class EarlierRating:
    """A model's rating after an earlier vote, in the shape the leaderboard rows read."""

    mu: float
    sigma: float
    votes: int
    updated_at: datetime | None = None


def spread_points(hits: npt.NDArray[np.int64], points: int) -> npt.NDArray[np.int64]:
    """At most ``points`` of ``hits`` (increasing), evenly spread, the first and last kept."""
    if hits.size <= points:
        return hits
    picks = np.unique(np.round(np.linspace(0, hits.size - 1, points)).astype(np.int64))
    return hits[picks]


def _stamp(log: ArenaLog, vote: int) -> datetime:
    return datetime.fromtimestamp(float(log.times[vote - 1]), tz=UTC)


def _online(log: ArenaLog, model_id: int, points: int) -> tuple[OnlinePoint, ...]:
    index = log.index.get(model_id)
    if index is None:
        return ()
    hits = np.flatnonzero((log.models == index).any(axis=1)).astype(np.int64) + 1
    chosen = spread_points(hits, points)
    start = log.state_at(int(chosen[0]) - 1)
    series = sample(log.model, start, log.models, log.ranks, chosen, index, log.n_models, log.prior)
    return tuple(
        OnlinePoint(int(v), _stamp(log, int(v)), float(mu), float(sigma), int(votes))
        for v, mu, sigma, votes in zip(
            series.at, series.mu, series.sigma, series.votes, strict=True
        )
    )


def model_history(
    session: Session,
    cache: VoteLogCache,
    fitter: BatchHistoryFitter,
    *,
    arena: Arena,
    model: Model,
    points: int,
    batch_points: int,
    rounds: int,
) -> ModelHistory:
    """``model``'s rating over time in ``arena`` (see :class:`~karena.store.types.ModelHistory`).

    Batch points missing from ``batch_history``, or fitted to a log prefix that has changed
    since, go to ``fitter``; the answer holds those stored and counts the rest as pending.
    """
    beta = arena_beta(arena.rating_model, arena.rating_params)
    config = json.dumps(["batch-history-1", beta, rounds])
    with cache.lock(arena.id):
        log = cache.log(session, arena)
        online = _online(log, model.id, points)
        step = grid_step(log.n, batch_points)
        grid = list(range(step, log.n + 1, step))
        digests = log.digest_at(grid, config)
        stored = load_points(session, arena.id)
        ids = tuple(log.ids)
        missing = [v for v in grid if stored.get(v, ("", {}))[0] != digests[v]]
        jobs = [
            BatchJob(arena.id, v, digests[v], ids, log.models[:v], log.ranks[:v], beta, rounds)
            for v in missing
        ]
        stamps = {v: _stamp(log, v) for v in grid}
        n = log.n
    fitter.submit(jobs)
    batch = []
    for v in grid:
        if v in missing:
            continue
        entry = stored[v][1].get(str(model.id))
        if entry is not None:
            mu, low, high, rank = entry
            batch.append(BatchPoint(v, stamps[v], mu, low, high, int(rank)))
    return ModelHistory(
        arena_slug=arena.slug,
        model=model.name,
        rating_model=arena.rating_model,
        arena_votes=n,
        online=online,
        batch=tuple(batch),
        batch_step=step,
        batch_pending=fitter.pending(arena.id),
    )


def earlier_ratings(
    session: Session,
    cache: VoteLogCache,
    *,
    arena: Arena,
    window: int,
    wait_votes: int | None = None,
) -> dict[int, EarlierRating] | None:
    """Each model's rating after all but the last ``window`` counted votes (models with votes
    by then only); None when the arena has no more than ``window`` counted votes.

    Also None, for now, when this worker's log cache would first have to read more than
    ``wait_votes`` votes (default :data:`COLD_READ_VOTES`): that read goes to the background
    (``cache.warm``), and a later call finds the log current.
    """
    limit = COLD_READ_VOTES if wait_votes is None else wait_votes
    if cache.backlog(session, arena) > limit:
        cache.warm(arena.id)
        return None
    with cache.lock(arena.id):
        log = cache.log(session, arena)
        if window <= 0 or log.n <= window:
            return None
        state = log.state_at(log.n - window)
        return {
            log.ids[i]: EarlierRating(
                float(state.mu[i]), float(state.sigma[i]), int(state.votes[i])
            )
            for i in range(state.mu.shape[0])
            if state.votes[i] > 0
        }
