"""The batch board at intervals: fitted to prefixes of the vote log, off the request path.

A point of the batch history is :func:`karena.rating.batch_board.fit_batch_board` on the first
``v`` counted votes, for ``v`` a multiple of a power of two (at most
``Settings.history_batch_points`` of them: :func:`karena.rating.history.grid_step`), so points
stay valid as the log grows. A fit of a million votes takes tens of seconds, so a request
never waits for one: it reads the points stored in ``batch_history`` (revision 0008) whose
digest matches the log prefix, and hands the missing ones to this worker's
:class:`BatchHistoryFitter`, a daemon thread that fits them one at a time, oldest first, and
stores each. The answer says how many points are still pending.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from karena.rating.batch_board import fit_batch_board
from karena.rating.types import EMPTY, Vote, outcome_from_rank_row
from karena.store.db import Database
from karena.store.models import BatchHistoryRow

__all__ = [
    "CHILD_FIT_VOTES",
    "BatchHistoryFitter",
    "BatchJob",
    "fit_point",
    "fit_point_in_child",
    "load_points",
]

#: A point of at least this many votes (a fit of a second or more) is fitted in a child
#: process spawned for it while ``Settings.batch_board_fit_in_child`` is on (the default), so
#: it never competes with the worker's request threads for the interpreter lock; smaller ones
#: are fitted in the fitter's thread (a spawn costs about a second).
CHILD_FIT_VOTES = 20_000

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class BatchJob:
    """One batch point to fit: the first ``votes`` rows of a log (model indices into ``ids``)."""

    arena_id: int
    votes: int
    digest: str
    ids: tuple[int, ...]
    models: IntArray
    ranks: IntArray
    beta: float
    rounds: int


def fit_point(job: BatchJob) -> dict[str, list[float]]:
    """The batch board of the job's votes as ``{"<model_id>": [mu, ci_low, ci_high, rank]}``."""
    votes = []
    for row_m, row_r in zip(job.models.tolist(), job.ranks.tolist(), strict=True):
        used = [j for j, m in enumerate(row_m) if m != EMPTY]
        votes.append(
            Vote(
                tuple(job.ids[row_m[j]] for j in used),
                outcome_from_rank_row([row_r[j] for j in used]),
            )
        )
    board = fit_batch_board(votes, rounds=job.rounds, beta=job.beta, rng=np.random.default_rng(0))
    return {
        str(row.model_id): [row.mu, row.ci_low, row.ci_high, float(row.rank)] for row in board.rows
    }


def _fit_in_child(conn: Any, job: BatchJob) -> None:
    """Body of the child process: fit, send the board (or the error) back, exit."""
    try:
        conn.send(("ok", fit_point(job)))
    except BaseException as exc:  # the parent raises it; the child only reports
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def fit_point_in_child(job: BatchJob) -> dict[str, list[float]]:
    """:func:`fit_point` in a fresh spawned child process (the caller's thread only waits)."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(
        target=_fit_in_child, args=(send, job), name="karena-history-fit", daemon=True
    )
    process.start()
    send.close()  # the child holds its end: recv() sees EOF if it dies
    try:
        status, value = receive.recv()
    except EOFError:
        raise RuntimeError("the batch history fit's child process died") from None
    finally:
        receive.close()
        process.join(timeout=5.0)
    if status != "ok":
        raise RuntimeError(f"the batch history fit failed in its child process: {value}")
    return dict(value)


def load_points(session: Session, arena_id: int) -> dict[int, tuple[str, dict[str, list[float]]]]:
    """The stored batch points of an arena: vote count → (digest, board)."""
    rows = session.execute(
        select(BatchHistoryRow.votes, BatchHistoryRow.digest, BatchHistoryRow.board).where(
            BatchHistoryRow.arena_id == arena_id
        )
    )
    return {int(v): (str(d), dict(b)) for v, d, b in rows}


def save_point(
    session: Session, job: BatchJob, board: dict[str, list[float]], now: datetime
) -> None:
    """Insert or replace the job's point."""
    session.execute(
        delete(BatchHistoryRow).where(
            BatchHistoryRow.arena_id == job.arena_id, BatchHistoryRow.votes == job.votes
        )
    )
    session.add(
        BatchHistoryRow(
            arena_id=job.arena_id, votes=job.votes, digest=job.digest, board=board, created_at=now
        )
    )


class BatchHistoryFitter:
    """This worker's queue of batch points to fit, worked by one daemon thread while it has any.

    A job is keyed by (arena, vote count): submitting it again while it waits or is being fitted
    changes nothing, unless its digest differs (the log prefix changed), which replaces it. The
    thread stops when the queue is empty and starts again on the next submission; :meth:`close`
    (the store's) drops the queue and lets a running fit finish unstored. ``in_child`` says
    whether large points are fitted in a child process (:data:`CHILD_FIT_VOTES`).
    """

    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        in_child: Callable[[], bool] = lambda: False,
    ) -> None:
        self._db = db
        self._clock = clock
        self._in_child = in_child
        self._lock = threading.Lock()
        self._queue: dict[tuple[int, int], BatchJob] = {}
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, jobs: Iterable[BatchJob]) -> None:
        """Queue ``jobs`` (replacing queued ones of the same point); make sure one thread works."""
        with self._lock:
            if self._closed:
                return
            for job in jobs:
                queued = self._queue.get((job.arena_id, job.votes))
                if queued is None or queued.digest != job.digest:
                    self._queue[(job.arena_id, job.votes)] = job
            if self._queue and (self._thread is None or not self._thread.is_alive()):
                self._thread = threading.Thread(
                    target=self._work, name="karena-batch-history", daemon=True
                )
                self._thread.start()

    def pending(self, arena_id: int) -> int:
        """Points of ``arena_id`` queued or being fitted."""
        with self._lock:
            return sum(1 for a, _ in self._queue if a == arena_id)

    def close(self, timeout: float = 5.0) -> None:
        """Stop taking jobs and wait (up to ``timeout`` s) for the thread to stop."""
        with self._lock:
            self._closed = True
            self._queue.clear()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _next(self) -> BatchJob | None:
        with self._lock:
            if self._closed or not self._queue:
                self._thread = None  # the next submission starts a new thread
                return None
            return min(self._queue.values(), key=lambda j: (j.votes, j.arena_id))

    def _work(self) -> None:
        while (job := self._next()) is not None:
            try:
                big = job.votes >= CHILD_FIT_VOTES and self._in_child()
                board = fit_point_in_child(job) if big else fit_point(job)
                with self._lock:
                    current = self._queue.get((job.arena_id, job.votes))
                    stale = self._closed or current is None or current.digest != job.digest
                if not stale:
                    with self._db.write() as s:
                        save_point(s, job, board, self._clock())
            except Exception:  # a failed fit must not kill the worker: log it, drop the job
                log.exception("batch history point %s/%s failed", job.arena_id, job.votes)
            with self._lock:
                queued = self._queue.get((job.arena_id, job.votes))
                if queued is not None and queued.digest == job.digest:
                    del self._queue[(job.arena_id, job.votes)]
