"""Rate limits that hold under concurrency and across worker processes: counters in the database.

Each limit is "at most ``limit`` events of one key in any ``window_s`` seconds". Its events are
counted in the ``rate_counters`` table, one row per (key, slot), a slot being a sixth of the
window; an event is allowed while the current slot and the five before it hold fewer than
``limit``. So a window slides in steps of a sixth of it: an event stops counting 50 to 60 s after
it happened (for a one-minute limit), and never more than ``limit`` events land in one
slot-aligned window (a burst straddling two such windows can reach 2 × ``limit`` in just over
50 s: the usual price of a sliding-window counter, which keeps one row per sixth).

:meth:`RateCounters.take` decides a batch of requests in the caller's transaction: one upsert
adds every request's event to the current slot of each key the batch names and locks those rows,
in sorted key order, so two transactions never wait on each other in a cycle; the earlier slots
are read (they no longer change); each request is granted or refused in order, on the counts
as they were before the batch; the events of refused requests are given back. Nothing else
writes those rows meanwhile (PostgreSQL row locks; SQLite's one writer), so concurrent requests
cannot both take the last event, and a refused request takes nothing. The vote writer calls it
in the transaction that records the votes: a vote counts against its limits exactly when it is
stored. :meth:`RateCounters.take_one` and :meth:`RateCounters.take_one_autocommit` are the
one-request paths of ``store.limits`` (new battles, exports, live generation).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, delete, select

from karena.errors import RateLimited
from karena.settings import Settings
from karena.store.models import RateCounter

__all__ = [
    "BATTLES_PER_VOTE",
    "SLOTS",
    "Allowance",
    "RateCounters",
    "battle_allowances",
    "export_allowances",
    "live_allowances",
    "vote_allowances",
]

#: Slots per window: the window slides in steps of a sixth of its length.
SLOTS = 6
#: Seconds between two deletions of expired counter rows (per process).
PRUNE_EVERY_S = 60.0

COUNTERS: Any = RateCounter.__table__


@dataclass(frozen=True, slots=True)
class Allowance:
    """One event to take from a limit: at most ``limit`` per ``window_s`` seconds for ``bucket``.

    ``message`` is what a refusal says ("too many votes: the limit is 30 a minute"). A limit of
    0 or less is no limit.
    """

    bucket: str
    limit: int
    window_s: int
    message: str

    def refusal(self, retry_after: float) -> RateLimited:
        """The error a request over this limit gets (a 429 with Retry-After)."""
        return RateLimited(
            self.message,
            detail={
                "retry_after": max(1, math.ceil(retry_after)),
                "limit": self.limit,
                "window_seconds": self.window_s,
            },
        )


def _slot(now_s: float, window_s: int) -> int:
    return math.floor(now_s * SLOTS / window_s)


def _slot_end(slot: int, window_s: int) -> float:
    """Unix time at which ``slot`` leaves every window."""
    return (slot + SLOTS) * window_s / SLOTS


def _bucket(allowance: Allowance) -> str:
    return allowance.bucket


def _placeholder(dialect: str, name: str) -> str:
    """A named parameter in the driver's style (psycopg or pysqlite)."""
    return f"%({name})s" if dialect == "postgresql" else f":{name}"


@cache
def _take_sql(dialect: str, keys: int) -> tuple[tuple[str, ...], str]:
    """Driver SQL of :meth:`RateCounters.take`: the statements that increment the current slots
    (locking them) and read the earlier ones, as rows (bucket, slot, count, fresh); then the
    write that gives increments back (executemany)."""

    def p(name: str) -> str:
        return _placeholder(dialect, name)

    values = ", ".join(
        f"({p(f'b{i}')}, {p(f's{i}')}, {p(f'n{i}')}, {p(f'e{i}')})" for i in range(keys)
    )
    buckets = ", ".join(p(f"b{i}") for i in range(keys))
    increment = (
        "INSERT INTO rate_counters AS c (bucket, slot, count, expires) VALUES "
        f"{values} ON CONFLICT (bucket, slot) DO UPDATE SET count = c.count + excluded.count "
    )
    earlier = (
        "SELECT bucket, slot, count, 0 FROM rate_counters "
        f"WHERE bucket IN ({buckets}) AND slot > {p('lo')}"
    )
    write = f"UPDATE rate_counters SET count = {p('c')} WHERE bucket = {p('b')} AND slot = {p('s')}"
    if dialect == "postgresql":
        # One round trip: the CTE's increments, and the earlier slots as they were before it.
        return (
            f"WITH cur AS ({increment} RETURNING c.bucket, c.slot, c.count) "
            f"SELECT bucket, slot, count, 1 FROM cur UNION ALL {earlier}",
        ), write
    return (f"{increment} RETURNING bucket, slot, count, 1", earlier), write


@cache
def _take_one_pg_sql(keys: int) -> tuple[str, str]:
    """PostgreSQL SQL of :meth:`RateCounters.take_one_autocommit`: take, and give back."""
    values = ", ".join(f"(%(b{i})s, %(s)s, 1, %(e)s)" for i in range(keys))
    buckets = ", ".join(f"%(b{i})s" for i in range(keys))
    take = (
        "WITH cur AS (INSERT INTO rate_counters AS c (bucket, slot, count, expires) VALUES "
        f"{values} ON CONFLICT (bucket, slot) DO UPDATE SET count = c.count + 1 "
        "RETURNING c.bucket, c.count) "
        "SELECT cur.bucket, cur.count, COALESCE((SELECT SUM(p.count) FROM rate_counters p "
        "WHERE p.bucket = cur.bucket AND p.slot > %(lo)s AND p.slot < %(s)s), 0) FROM cur"
    )
    give_back = (
        "UPDATE rate_counters SET count = count - 1 "
        f"WHERE bucket IN ({buckets}) AND slot = %(s)s AND count > 0"
    )
    return take, give_back


@cache
def _take_one_sql(dialect: str, keys: int) -> tuple[str, str]:
    """Driver SQL of :meth:`RateCounters.take_one`: the locking increment, the earlier slots."""

    def p(name: str) -> str:
        return _placeholder(dialect, name)

    values = ", ".join(f"({p(f'b{i}')}, {p('s')}, 1, {p('e')})" for i in range(keys))
    buckets = ", ".join(p(f"b{i}") for i in range(keys))
    lock = (
        "INSERT INTO rate_counters AS c (bucket, slot, count, expires) VALUES "
        f"{values} ON CONFLICT (bucket, slot) DO UPDATE SET count = c.count + 1 "
        "RETURNING bucket, count"
    )
    prev = (
        f"SELECT bucket, SUM(count) FROM rate_counters WHERE bucket IN ({buckets}) "
        f"AND slot > {p('lo')} AND slot < {p('s')} GROUP BY bucket"
    )
    return lock, prev


class RateCounters:
    """The database-backed limits of one store (one per :class:`StoreContext`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pruned_at = 0.0

    def take(
        self, conn: Connection, requests: Sequence[Sequence[Allowance]], now: datetime
    ) -> list[RateLimited | None]:
        """Grant or refuse each request (all of its allowances, or none), in order.

        Runs in the caller's write transaction; returns, per request, None when granted or the
        error of the first limit it would exceed. Optimistic, like :meth:`take_one`: each key
        is first incremented by every request that names it (the upsert locks the rows, in
        sorted order), and only the increments of refused requests are given back, so a batch
        where nothing is refused costs one statement on PostgreSQL and two on SQLite.
        """
        now_s = now.timestamp()
        live = sorted(
            {(a.bucket, a.window_s) for request in requests for a in request if a.limit > 0}
        )
        if not live:
            return [None] * len(requests)
        windows: dict[str, int] = {}
        for bucket, window_s in live:
            if windows.setdefault(bucket, window_s) != window_s:
                raise ValueError(f"rate-limit bucket {bucket!r} used with two windows")
        current = {bucket: _slot(now_s, window_s) for bucket, window_s in live}
        need: dict[str, int] = {}
        for request in requests:
            for bucket in {a.bucket for a in request if a.limit > 0}:
                need[bucket] = need.get(bucket, 0) + 1
        params: dict[str, Any] = {"lo": min(current.values()) - SLOTS}
        for i, (bucket, window_s) in enumerate(live):
            params[f"b{i}"], params[f"s{i}"], params[f"n{i}"] = (
                bucket,
                current[bucket],
                need[bucket],
            )
            params[f"e{i}"] = math.ceil(_slot_end(current[bucket], window_s)) + 1
        statements, write_sql = _take_sql(conn.dialect.name, len(live))
        counts: dict[tuple[str, int], int] = {}
        taken: dict[str, int] = {}
        for sql in statements:
            for bucket, slot, count, fresh in conn.exec_driver_sql(sql, params):
                bucket, slot = str(bucket), int(slot)
                if fresh:  # the current slot, after this batch's increments
                    taken[bucket] = int(count)
                    counts[(bucket, slot)] = int(count) - need[bucket]
                elif current[bucket] - SLOTS < slot < current[bucket]:
                    counts[(bucket, slot)] = int(count)
        outcomes: list[RateLimited | None] = []
        for request in requests:
            refused = None
            for a in request:
                if a.limit > 0 and self._used(counts, a, current) >= a.limit:
                    refused = a.refusal(self._retry_after(counts, a, current, now_s))
                    break
            if refused is None:
                for bucket in {a.bucket for a in request if a.limit > 0}:
                    counts[(bucket, current[bucket])] += 1
            outcomes.append(refused)
        give_back = [
            {"b": b, "s": current[b], "c": counts[(b, current[b])]}
            for b in sorted(taken)
            if counts[(b, current[b])] != taken[b]
        ]
        if give_back:  # the increments of refused requests
            conn.exec_driver_sql(write_sql, give_back)
        self._maybe_prune(conn, now_s)
        return outcomes

    def take_one(
        self, conn: Connection, allowances: Sequence[Allowance], now: datetime
    ) -> RateLimited | None:
        """One request's allowances, in two round trips (the path of new battles and exports).

        Optimistic: every key's current slot is incremented at once (an upsert that locks the
        rows, in sorted order, and returns their counts) and the window's earlier slots are
        read. When a limit is exceeded the error is returned and the caller must roll the
        transaction back, which undoes the increments; nothing else wrote those rows meanwhile.
        Allowances of different windows take the general path, :meth:`take`.
        """
        live = sorted({a.bucket: a for a in allowances if a.limit > 0}.values(), key=_bucket)
        if not live:
            return None
        window_s = live[0].window_s
        if any(a.window_s != window_s for a in live):
            (out,) = self.take(conn, [tuple(live)], now)
            return out
        now_s = now.timestamp()
        slot = _slot(now_s, window_s)
        params: dict[str, Any] = {f"b{i}": a.bucket for i, a in enumerate(live)}
        params.update(s=slot, lo=slot - SLOTS, e=math.ceil(_slot_end(slot, window_s)) + 1)
        lock_sql, prev_sql = _take_one_sql(conn.dialect.name, len(live))
        counts = {str(b): int(c) for b, c in conn.exec_driver_sql(lock_sql, params)}
        prev = {str(b): int(c or 0) for b, c in conn.exec_driver_sql(prev_sql, params)}
        for a in live:
            if counts[a.bucket] + prev.get(a.bucket, 0) > a.limit:
                return self.peek(conn, [a], now, taken=1) or a.refusal(window_s)
        self._maybe_prune(conn, now_s)
        return None

    def take_one_autocommit(
        self, conn: Connection, allowances: Sequence[Allowance], now: datetime
    ) -> RateLimited | None:
        """PostgreSQL, on an autocommit connection: :meth:`take_one` in one statement.

        The locking increment and the read of the earlier slots are one statement (a
        data-modifying CTE), committed by itself: one round trip for a granted request. A
        request over a limit then gives its increments back (a second statement). Meanwhile a
        concurrent request may be refused that the limit would have let in, never the reverse:
        each request is judged on a count that holds every increment made before its own, and a
        granted increment is never given back. All allowances must share one window.
        """
        live = sorted({a.bucket: a for a in allowances if a.limit > 0}.values(), key=_bucket)
        if not live:
            return None
        window_s = live[0].window_s
        if any(a.window_s != window_s for a in live):
            raise ValueError("take_one_autocommit needs allowances of one window")
        now_s = now.timestamp()
        slot = _slot(now_s, window_s)
        params: dict[str, Any] = {f"b{i}": a.bucket for i, a in enumerate(live)}
        params.update(s=slot, lo=slot - SLOTS, e=math.ceil(_slot_end(slot, window_s)) + 1)
        take_sql, give_back_sql = _take_one_pg_sql(len(live))
        used = {str(b): int(c) + int(p) for b, c, p in conn.exec_driver_sql(take_sql, params)}
        over = [a for a in live if used[a.bucket] > a.limit]
        if not over:
            self._maybe_prune(conn, now_s)
            return None
        conn.exec_driver_sql(give_back_sql, params)
        return self.peek(conn, over[:1], now) or over[0].refusal(window_s)

    def peek(
        self, conn: Connection, allowances: Sequence[Allowance], now: datetime, taken: int = 0
    ) -> RateLimited | None:
        """The error the next event would get, taking nothing (a read; no lock).

        ``taken``: events this transaction already added to each current slot (not counted).
        """
        now_s = now.timestamp()
        live = [a for a in allowances if a.limit > 0]
        if not live:
            return None
        current = {a.bucket: _slot(now_s, a.window_s) for a in live}
        counts: dict[tuple[str, int], int] = {}
        for bucket, slot, count in conn.execute(
            select(COUNTERS.c.bucket, COUNTERS.c.slot, COUNTERS.c.count).where(
                COUNTERS.c.bucket.in_(list(current)),
                COUNTERS.c.slot > min(current.values()) - SLOTS,
            )
        ):
            if current[bucket] - SLOTS < int(slot) <= current[bucket]:
                counts[(bucket, int(slot))] = int(count)
        for allowance in live:
            if self._used(counts, allowance, current) - taken >= allowance.limit:
                key = (allowance.bucket, current[allowance.bucket])
                counts[key] = counts.get(key, 0) - taken
                return allowance.refusal(self._retry_after(counts, allowance, current, now_s))
        return None

    @staticmethod
    def _used(
        counts: dict[tuple[str, int], int], allowance: Allowance, current: dict[str, int]
    ) -> int:
        end = current[allowance.bucket]
        return sum(counts.get((allowance.bucket, s), 0) for s in range(end - SLOTS + 1, end + 1))

    @staticmethod
    def _retry_after(
        counts: dict[tuple[str, int], int],
        allowance: Allowance,
        current: dict[str, int],
        now_s: float,
    ) -> float:
        """Seconds until the oldest slot that holds events leaves the window."""
        end = current[allowance.bucket]
        for slot in range(end - SLOTS + 1, end + 1):
            if counts.get((allowance.bucket, slot), 0) > 0:
                return _slot_end(slot, allowance.window_s) - now_s
        return _slot_end(end, allowance.window_s) - now_s

    def _maybe_prune(self, conn: Connection, now_s: float) -> None:
        """Delete expired rows, at most once a minute per process (in the caller's transaction)."""
        tick = time.monotonic()
        with self._lock:
            if tick - self._pruned_at < PRUNE_EVERY_S:
                return
            self._pruned_at = tick
        conn.execute(delete(COUNTERS).where(COUNTERS.c.expires < math.floor(now_s)))


# -- the limits karena applies, by what they guard ---------------------------------------------

#: One voter may open this many battles per vote allowed (people skip battles they dislike).
BATTLES_PER_VOTE = 4


def vote_allowances(
    settings: Settings, voter_hash: str, address_hash: str | None
) -> tuple[Allowance, ...]:
    """A vote: per voter (KARENA_RATE_LIMIT_PER_MINUTE) and per address (…_PER_ADDRESS_…)."""
    per_voter = settings.rate_limit_per_minute
    out = [
        Allowance(
            f"vote:v:{voter_hash}",
            per_voter,
            60,
            f"too many votes: the limit is {per_voter} a minute",
        )
    ]
    if address_hash is not None:
        per_address = settings.rate_limit_per_address_per_minute
        out.append(
            Allowance(
                f"vote:a:{address_hash}",
                per_address,
                60,
                f"too many votes from this address: the limit is {per_address} a minute",
            )
        )
    return tuple(out)


def battle_allowances(
    settings: Settings, voter_hash: str, address_hash: str | None
) -> tuple[Allowance, ...]:
    """A new battle: ``BATTLES_PER_VOTE`` times each vote limit, per voter and per address."""
    per_voter = settings.rate_limit_per_minute * BATTLES_PER_VOTE
    out = [
        Allowance(
            f"battle:v:{voter_hash}",
            per_voter,
            60,
            f"too many new battles: at most {per_voter} a minute",
        )
    ]
    if address_hash is not None:
        per_address = settings.rate_limit_per_address_per_minute * BATTLES_PER_VOTE
        out.append(
            Allowance(
                f"battle:a:{address_hash}",
                per_address,
                60,
                f"too many new battles from this address: at most {per_address} a minute",
            )
        )
    return tuple(out)


def export_allowances(settings: Settings, address_hash: str) -> tuple[Allowance, ...]:
    """A vote-log export over HTTP: per address (KARENA_EXPORT_LIMIT_PER_HOUR)."""
    limit = settings.export_limit_per_hour
    return (
        Allowance(
            f"export:a:{address_hash}",
            limit,
            3600,
            f"too many exports from this address: at most {limit} an hour",
        ),
    )


def live_allowances(
    settings: Settings, voter_hash: str | None, address_hash: str | None
) -> tuple[Allowance, ...]:
    """A typed prompt that needs live generation: per voter, per address and for everyone."""
    out = []
    if voter_hash is not None:
        limit = settings.live_generations_per_voter_per_hour
        out.append(
            Allowance(
                f"live:v:{voter_hash}",
                limit,
                3600,
                f"too many new prompts: at most {limit} an hour need new outputs; pick a "
                "battle without typing a prompt, or try again later",
            )
        )
    if address_hash is not None:
        limit = settings.live_generations_per_address_per_hour
        out.append(
            Allowance(
                f"live:a:{address_hash}",
                limit,
                3600,
                f"too many new prompts from this address: at most {limit} an hour need new "
                "outputs; try again later",
            )
        )
    limit = settings.live_generations_per_hour
    out.append(
        Allowance(
            "live:all",
            limit,
            3600,
            f"the arena's budget for new outputs is spent ({limit} prompts an hour); pick a "
            "battle without typing a prompt, or try again later",
        )
    )
    return tuple(out)
