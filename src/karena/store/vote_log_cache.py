"""A worker's cache of each arena's counted vote log as arrays, and replay states along it.

The rating history and the leaderboard's movement column need the ratings as they stood after
earlier votes: a replay of the counted log (:mod:`karena.rating.history`). Reading a million
votes from the database takes seconds, replaying them with the compiled kernel half a second,
so a worker keeps, per arena:

* the **log** as ``models``/``ranks`` matrices (:mod:`karena.rating.replay`'s conventions), the
  model id of each index, and each vote's time. It is extended with the votes counted since
  the last read (``seq`` above the cursor), and read again from the start when the arena's
  ratings were rebuilt (a recompute or a ban writes a ``recompute`` rating snapshot, whose id
  is the marker; the vote path's periodic snapshots leave it be) or its rating model changed;
* **states** (every model's μ, σ and vote count) at up to :data:`MEMO_POINTS` checkpoints,
  multiples of a power of two (:func:`karena.rating.history.grid_step`), so the state after any
  vote ``j`` is one memoised state plus at most one step of replay;
* **digests** of log prefixes at checkpoints: the batch history's cache key.

Each arena's log is used under its own lock; the arrays handed out are never written afterwards.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Text, func, select, type_coerce
from sqlalchemy.orm import Session

from karena.rating.base import OnlineRatingModel
from karena.rating.history import RatingState, advance, grid_step, start_state
from karena.rating.registry import rating_model
from karena.rating.types import EMPTY, Rating, stored_outcome
from karena.store.db import Database
from karena.store.models import Arena, RatingSnapshot, VoteRow

__all__ = ["COLD_READ_VOTES", "MEMO_POINTS", "ArenaLog", "VoteLogCache"]

log = logging.getLogger(__name__)

#: Checkpoint states kept per arena (each is 3 arrays of the arena's model count).
MEMO_POINTS = 64
#: The leaderboard waits for a read of at most this many votes (well under a second); a longer
#: one (a cold worker, a large arena) runs in the background and the movement column stays
#: empty until it is done.
COLD_READ_VOTES = 20_000

IntArray = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float64]


@dataclass
class ArenaLog:
    """One arena's counted log as arrays (the first ``n`` rows of the buffers) and its memos."""

    key: tuple[object, ...]
    model: OnlineRatingModel
    prior: Rating
    cursor: int = 0
    n: int = 0
    models_buf: IntArray = field(default_factory=lambda: np.full((0, 2), EMPTY, np.int32))
    ranks_buf: IntArray = field(default_factory=lambda: np.zeros((0, 2), np.int32))
    times_buf: FloatArray = field(default_factory=lambda: np.zeros(0))
    ids: list[int] = field(default_factory=list)
    index: dict[int, int] = field(default_factory=dict)
    states: dict[int, RatingState] = field(default_factory=dict)
    digests: dict[int, str] = field(default_factory=dict)
    hasher: Any = None
    hashed: int = 0

    @property
    def models(self) -> IntArray:
        return self.models_buf[: self.n]

    @property
    def ranks(self) -> IntArray:
        return self.ranks_buf[: self.n]

    @property
    def times(self) -> FloatArray:
        """Each counted vote's time, as POSIX seconds."""
        return self.times_buf[: self.n]

    @property
    def n_models(self) -> int:
        return len(self.ids)

    def append(self, rows: list[tuple[list[int], tuple[int, ...], float]]) -> None:
        """Add votes (model ids, rank row, time) at the end, growing the buffers as needed."""
        if not rows:
            return
        width = max(self.models_buf.shape[1], *(len(r[0]) for r in rows))
        need = self.n + len(rows)
        if need > self.models_buf.shape[0] or width > self.models_buf.shape[1]:
            size = max(need, 2 * self.models_buf.shape[0], 1024)
            models = np.full((size, width), EMPTY, dtype=np.int32)
            ranks = np.zeros((size, width), dtype=np.int32)
            times = np.zeros(size)
            models[: self.n, : self.models_buf.shape[1]] = self.models
            ranks[: self.n, : self.ranks_buf.shape[1]] = self.ranks
            times[: self.n] = self.times
            # A wider buffer changes the hashed bytes of every prefix: hash afresh.
            if width > self.models_buf.shape[1]:
                self.digests.clear()
                self.hasher, self.hashed = None, 0
            self.models_buf, self.ranks_buf, self.times_buf = models, ranks, times
        for row, (model_ids, rank_row, stamp) in enumerate(rows, start=self.n):
            for slot, model_id in enumerate(model_ids):
                at = self.index.get(model_id)
                if at is None:
                    at = self.index[model_id] = len(self.ids)
                    self.ids.append(model_id)
                self.models_buf[row, slot] = at
            self.ranks_buf[row, : len(rank_row)] = rank_row
            self.times_buf[row] = stamp
        self.n = need

    def state_at(self, j: int) -> RatingState:
        """Every model's state after the first ``j`` counted votes (memoised at checkpoints)."""
        step = grid_step(self.n, MEMO_POINTS)
        self.states = {at: s for at, s in self.states.items() if at % step == 0 and at <= self.n}
        start = max((at for at in self.states if at <= j), default=None)
        state = self.states[start] if start is not None else start_state(0, self.prior)
        stop = (j // step) * step
        for at in range(state.at + step - state.at % step, stop + 1, step):
            state = advance(
                self.model, state, self.models, self.ranks, at, self.n_models, self.prior
            )
            self.states[at] = state
        if state.at != j:
            state = advance(
                self.model, state, self.models, self.ranks, j, self.n_models, self.prior
            )
        return state

    def digest_at(self, points: list[int], config: str) -> dict[int, str]:
        """A digest of each prefix ``points`` (increasing) of the log: its model ids and ranks
        vote by vote, after ``config`` (what else the cached value depends on)."""
        out: dict[int, str] = {}
        ids = np.asarray(self.ids, dtype=np.int64)
        for p in points:
            if p in self.digests:
                out[p] = self.digests[p]
                continue
            if self.hasher is None or p < self.hashed:
                self.hasher, self.hashed = hashlib.blake2b(config.encode(), digest_size=32), 0
            models = self.models[self.hashed : p]
            real = np.where(models >= 0, ids[np.maximum(models, 0)], -1)
            self.hasher.update(
                np.concatenate([real, self.ranks[self.hashed : p]], axis=1).tobytes()
            )
            self.hashed = p
            out[p] = self.digests[p] = self.hasher.hexdigest()
        return out


@functools.lru_cache(maxsize=4096)
def _rank_row(mode: str, ranks: str | tuple[int, ...]) -> tuple[int, ...]:
    """The kernel's rank row of a stored vote, through the vocabulary's ``stored_outcome``.

    Memoised on the stored text: a log has few distinct (mode, ranks) pairs (75 rankings with
    ties at K = 4), and validating each vote again was most of the cost of reading a log.
    """
    values = json.loads(ranks) if isinstance(ranks, str) else list(ranks)
    return stored_outcome(mode, values).rank_row()


def _ids(model_ids: str | list[int]) -> list[int]:
    return [int(m) for m in (json.loads(model_ids) if isinstance(model_ids, str) else model_ids)]


class VoteLogCache:
    """This worker's :class:`ArenaLog` per arena id, brought up to date on every use.

    Each arena has its own lock (:meth:`lock`), so a long first read of one arena's log holds
    up no other arena. :meth:`warm` reads a log in a background thread, for callers that would
    rather go without than wait (the leaderboard's movement column: :meth:`backlog`).
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._guard = threading.Lock()
        self._locks: dict[int, threading.RLock] = {}
        self._logs: dict[int, ArenaLog] = {}
        self._warming: set[int] = set()

    def lock(self, arena_id: int) -> threading.RLock:
        """The lock to hold while reading or using ``arena_id``'s log."""
        with self._guard:
            return self._locks.setdefault(arena_id, threading.RLock())

    def _key(self, session: Session, arena: Arena) -> tuple[object, ...]:
        marker = session.scalar(
            select(func.max(RatingSnapshot.id)).where(
                RatingSnapshot.arena_id == arena.id, RatingSnapshot.reason == "recompute"
            )
        )
        params = json.dumps(dict(arena.rating_params or {}), sort_keys=True)
        return (arena.rating_model, params, marker)

    def backlog(self, session: Session, arena: Arena) -> int:
        """How many vote sequence numbers :meth:`log` would read now (0: the cache is current)."""
        entry = self._logs.get(arena.id)
        fresh = entry is not None and entry.key == self._key(session, arena)
        until = session.scalar(select(Arena.vote_seq).where(Arena.id == arena.id)) or 0
        return max(0, until - (entry.cursor if fresh and entry is not None else 0))

    def warm(self, arena_id: int) -> None:
        """Bring ``arena_id``'s log up to date in a background thread (one at a time)."""
        with self._guard:
            if arena_id in self._warming:
                return
            self._warming.add(arena_id)
        threading.Thread(
            target=self._warm, args=(arena_id,), name="karena-vote-log", daemon=True
        ).start()

    def _warm(self, arena_id: int) -> None:
        try:
            with self._db.read() as s:
                arena = s.get(Arena, arena_id)
                if arena is not None:
                    with self.lock(arena_id):
                        self.log(s, arena)
        except Exception:  # a closed store, a dropped arena: the next request reads it anyway
            log.warning("reading the vote log of arena %s failed", arena_id, exc_info=True)
        finally:
            with self._guard:
                self._warming.discard(arena_id)

    def log(self, session: Session, arena: Arena) -> ArenaLog:
        """The arena's log, up to date with what ``session`` sees; hold :meth:`lock` around it
        and around every use of what it returns."""
        key = self._key(session, arena)
        entry = self._logs.get(arena.id)
        if entry is None or entry.key != key:
            model = rating_model(arena.rating_model, arena.rating_params)
            entry = self._logs[arena.id] = ArenaLog(key, model, model.initial())
        until = session.scalar(select(Arena.vote_seq).where(Arena.id == arena.id)) or 0
        if until > entry.cursor:
            # The JSON columns as stored text where the driver gives text (SQLite): parsed once
            # per distinct value below, not by the column type for every row.
            rows = session.execute(
                select(
                    type_coerce(VoteRow.model_ids, Text),
                    VoteRow.mode,
                    type_coerce(VoteRow.ranks, Text),
                    VoteRow.created_at,
                )
                .where(
                    VoteRow.arena_id == arena.id,
                    VoteRow.counted.is_(True),
                    VoteRow.seq > entry.cursor,
                    VoteRow.seq <= until,
                )
                .order_by(VoteRow.seq)
                .execution_options(yield_per=5000)
            )
            entry.append(
                [
                    (
                        _ids(model_ids),
                        _rank_row(mode, ranks if isinstance(ranks, str) else tuple(ranks)),
                        created_at.timestamp(),
                    )
                    for model_ids, mode, ranks, created_at in rows
                ]
            )
            entry.cursor = until
        return entry
