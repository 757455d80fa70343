"""One thread per worker that records votes in batches: group commit for the arena lock.

A request thread validates its vote (no lock held), hands it to :class:`VoteWriter` and waits.
The writer thread takes everything queued so far and records it in one transaction per arena:
claim the battles (``open`` → ``voted``), refuse votes of voters (or addresses) banned meanwhile,
take each vote's rate-limit events (:mod:`karena.store.rate_limits`; a vote over a limit is
refused and its battle stays open), then :func:`~karena.store.recording.record_votes`. Under
load, batches grow by themselves while the previous one holds the lock; an idle server writes
batches of one with no added wait.

A batch that fails as a whole (a deadlock, a lost connection) is retried one vote at a time, so
one vote's failure never fails another's; a vote whose own transaction fails gets that error.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select, update

from karena.errors import Forbidden
from karena.store.db import Database
from karena.store.models import BannedAddress, BannedVoter, Battle, VoteRow
from karena.store.rate_limits import RateCounters
from karena.store.recording import NewVote, record_votes

__all__ = ["ClaimLost", "VoteWriter"]

#: Most votes recorded in one transaction.
MAX_BATCH = 64
#: Seconds a request waits for its vote to be written before it gives up with an error.
WRITE_TIMEOUT_S = 60.0

_Item = tuple[int, NewVote, "Future[VoteRow]"]


class ClaimLost(Exception):
    """Another transaction claimed the battle first (the caller retries and replays)."""


@cache
def _claim_statement() -> Any:
    table: Any = Battle.__table__
    return (
        update(table)
        .where(table.c.id.in_(bindparam("ids", expanding=True)), table.c.state == "open")
        .values(state="voted")
        .returning(table.c.id)
    )


@cache
def _reopen_statement() -> Any:
    table: Any = Battle.__table__
    return (
        update(table).where(table.c.id.in_(bindparam("ids", expanding=True))).values(state="open")
    )


@cache
def _banned_statement() -> Any:
    return select(BannedVoter.voter_hash).where(
        BannedVoter.voter_hash.in_(bindparam("voters", expanding=True))
    )


@cache
def _banned_addresses_statement() -> Any:
    return select(BannedAddress.address_hash).where(
        BannedAddress.address_hash.in_(bindparam("addresses", expanding=True))
    )


class VoteWriter:
    """Records votes handed over by request threads, a batch per transaction.

    Parameters
    ----------
    db :
        The database to write to.
    clock :
        The store's clock; read under the arena lock for ``created_at``.
    counters :
        The store's rate counters; each vote's ``limits`` are taken in its batch's transaction.
    """

    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        counters: RateCounters | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._counters = counters if counters is not None else RateCounters()
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, arena_id: int, vote: NewVote) -> VoteRow:
        """Record ``vote`` and return the stored row; raises what recording it raised."""
        future: Future[VoteRow] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the store is closed")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="karena-vote-writer", daemon=True
                )
                self._thread.start()
            self._queue.put((arena_id, vote, future))
        return future.result(timeout=WRITE_TIMEOUT_S)

    def close(self) -> None:
        """Finish the queued votes and stop the thread."""
        with self._lock:
            self._closed = True
            thread = self._thread
            self._queue.put(None)
        if thread is not None:
            thread.join(timeout=WRITE_TIMEOUT_S)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            by_arena: dict[int, list[_Item]] = {}
            for entry in batch:
                by_arena.setdefault(entry[0], []).append(entry)
            for arena_id, items in sorted(by_arena.items()):
                self._write(arena_id, items)
            if stop:
                return

    def _write(self, arena_id: int, items: Sequence[_Item]) -> None:
        try:
            outcomes = self.write_batch(arena_id, [vote for _, vote, _ in items])
        except Exception as exc:
            if len(items) > 1:
                for item in items:
                    self._write(arena_id, [item])
                return
            items[0][2].set_exception(exc)
            return
        for (_, _, future), outcome in zip(items, outcomes, strict=True):
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    def write_batch(self, arena_id: int, votes: Sequence[NewVote]) -> list[VoteRow | Exception]:
        """One transaction: claim, ban check, limits, record. Outcomes in the order of ``votes``."""
        with self._db.write_conn() as conn:
            claimed = set(
                conn.scalars(_claim_statement(), {"ids": sorted({v.battle_id for v in votes})})
            )
            banned = set(
                conn.scalars(_banned_statement(), {"voters": sorted({v.voter_hash for v in votes})})
            )
            addresses = sorted({v.address_hash for v in votes if v.address_hash is not None})
            if addresses:
                banned |= set(conn.scalars(_banned_addresses_statement(), {"addresses": addresses}))
            refused: dict[int, Exception] = {}
            reopen: list[int] = []
            candidates: list[int] = []
            for i, vote in enumerate(votes):
                if vote.battle_id not in claimed:
                    refused[i] = ClaimLost()
                elif vote.voter_hash in banned or vote.address_hash in banned:
                    refused[i] = Forbidden("this voter may not vote")
                    claimed.discard(vote.battle_id)
                    reopen.append(vote.battle_id)
                else:
                    claimed.discard(vote.battle_id)  # a second vote on it in this batch lost
                    candidates.append(i)
            over = self._counters.take(conn, [votes[i].limits for i in candidates], self._clock())
            accepted: list[NewVote] = []
            for i, limited in zip(candidates, over, strict=True):
                if limited is not None:
                    refused[i] = limited
                    reopen.append(votes[i].battle_id)
                else:
                    accepted.append(votes[i])
            if reopen:
                # A refused vote's battle stays open, as it would have without the batch.
                conn.execute(_reopen_statement(), {"ids": reopen})
            recorded = iter(
                record_votes(conn, arena_id=arena_id, votes=accepted, clock=self._clock)
                if accepted
                else []
            )
            return [refused[i] if i in refused else next(recorded) for i in range(len(votes))]
