"""What every part of a Store shares: settings, database, media, clock and per-worker state.

One :class:`StoreContext` per :class:`~karena.store.api.Store`; each service (catalog, battles,
voting, boards) holds a reference to it and to nothing else, so no service reaches into another.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import event

from karena.media.storage import MediaStore
from karena.settings import Settings
from karena.store.arena_cache import ArenaCache, bump_catalog_versions
from karena.store.batch_history import BatchHistoryFitter
from karena.store.db import Database
from karena.store.rate_limits import RateCounters
from karena.store.vote_log_cache import VoteLogCache
from karena.store.vote_writer import VoteWriter
from karena.store.votes import hash_voter

__all__ = ["Clock", "StoreContext", "utc_now"]

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class StoreContext:
    """Settings, database, media, clock; this worker's caches, vote writer and rate counters.

    ``clock`` may be replaced after construction (tests move to the real clock); :meth:`now`
    reads it on every call.
    """

    def __init__(self, settings: Settings, db: Database, media: MediaStore, clock: Clock) -> None:
        self.settings = settings
        self.db = db
        self.media = media
        self.clock = clock
        self.arena_cache = ArenaCache(
            settings.match_state_max_age_seconds, margin=settings.variant_margin
        )
        self.rate_counters = RateCounters()
        self.vote_writer = VoteWriter(db, self.now, self.rate_counters)
        # The rating history's counted-log arrays and replay states, and its batch-point fits.
        self.vote_logs = VoteLogCache(db)
        self.batch_fitter = BatchHistoryFitter(
            db, self.now, in_child=lambda: self.settings.batch_board_fit_in_child
        )
        # Not event.contains(): SQLAlchemy keys its registry by id(target), so a new session
        # class at the address of a collected one looked "already hooked" and went without
        # the hook (a rare CI failure: a catalog write that moved no version).
        if not db.catalog_hooked:
            event.listen(db.writes, "before_flush", bump_catalog_versions)
            db.catalog_hooked = True

    def now(self) -> datetime:
        """The clock's time, as timezone-aware UTC."""
        now = self.clock()
        return now if now.tzinfo is not None else now.replace(tzinfo=UTC)

    def voter_hash(self, voter_id: str) -> str:
        """The salted hash stored for a raw voter id (cookie or address)."""
        return hash_voter(self.settings.voter_salt.get_secret_value(), str(voter_id))

    def address_hash(self, address_id: str) -> str:
        """The salted hash stored for a client address (kept apart from voter ids)."""
        return hash_voter(self.settings.voter_salt.get_secret_value(), "address:" + str(address_id))
