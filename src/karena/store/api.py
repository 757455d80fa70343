"""The one storage API for the web, CLI, judge and reward layers (keyword-only arguments).

Build it with :meth:`Store.open`; every method returns frozen values from
:mod:`karena.store.types` and raises :mod:`karena.errors` exceptions on bad input.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

from sqlalchemy import func, select

from karena.media.storage import MediaStore
from karena.settings import Settings
from karena.store import reads
from karena.store.base import Clock, StoreBase, page_bounds, utc_now
from karena.store.db import Database
from karena.store.models import (
    Model,
    VoteRow,
)
from karena.store.ratings import leaderboard_rows, load_ratings, model_for_arena, rebuild
from karena.store.types import (
    LeaderboardRow,
    ModelPage,
    Page,
    PairVote,
    ReferenceBattle,
    StoredVote,
)
from karena.store.voting import VotingMixin

__all__ = ["Clock", "Store", "StoreBase", "utc_now"]


class Store(VotingMixin):
    """Arenas, models, prompts, outputs, battles, votes and ratings on SQLite or PostgreSQL."""

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True, clock: Clock | None = None) -> Store:
        """Connect to ``settings.resolved_database_url()`` and (by default) migrate to the latest.

        ``clock`` returns the current UTC time; tests pass a fake one to move time without sleeping.
        """
        db = Database.connect(settings.resolved_database_url())
        if migrate:
            db.migrate()
        media = MediaStore(
            settings.resolved_media_dir(),
            max_bytes=settings.max_upload_bytes,
            image_size=settings.media_image_size,
        )
        return cls(settings, db, media, clock if clock is not None else utc_now)

    def close(self) -> None:
        """Finish queued votes, then dispose of the connection pool."""
        self._vote_writer.close()
        self.db.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- ratings -----------------------------------------------------------------------------

    def leaderboard(
        self, *, arena: str, include_disabled: bool = True
    ) -> tuple[LeaderboardRow, ...]:
        """Leaderboard rows sorted by μ − 3σ, best first."""
        with self.db.read() as s:
            a = self._arena(s, arena)
            models = list(s.scalars(select(Model).where(Model.arena_id == a.id)))
            return leaderboard_rows(
                models,
                load_ratings(s, a.id),
                prior=model_for_arena(a).initial(),
                provisional_sigma=self.settings.provisional_sigma,
                include_disabled=include_disabled,
            )

    def recompute(self, *, arena: str) -> int:
        """Rebuild ratings and pair counts from the counted vote log; returns votes replayed."""
        with self.db.write() as s:
            a = self._arena(s, arena)
            a = self._lock_arena(s, a.id)
            return rebuild(s, arena=a, now=self._now())

    def model_page(self, *, arena: str, name: str, offset: int = 0, limit: int = 50) -> ModelPage:
        """A model's battles (newest first) and head-to-head records."""
        offset, limit = page_bounds(offset, limit)
        board = {row.model_id: row for row in self.leaderboard(arena=arena)}
        with self.db.read() as s:
            a = self._arena(s, arena)
            m = self._model(s, a, name)
            return reads.model_page(s, a, m, board.get(m.id), offset=offset, limit=limit)

    # -- reads for export, the judge and rewards ---------------------------------------------

    def list_votes(self, *, arena: str, offset: int = 0, limit: int = 100) -> Page[StoredVote]:
        """A page of the vote log in sequence order."""
        offset, limit = page_bounds(offset, limit)
        with self.db.read() as s:
            a = self._arena(s, arena)
            total = s.scalar(
                select(func.count()).select_from(VoteRow).where(VoteRow.arena_id == a.id)
            )
            votes = list(
                s.scalars(
                    select(VoteRow)
                    .where(VoteRow.arena_id == a.id)
                    .order_by(VoteRow.seq)
                    .offset(offset)
                    .limit(limit)
                )
            )
            return Page(tuple(reads.stored_votes(s, a, votes)), int(total or 0), offset, limit)

    def iter_votes(self, *, arena: str, counted_only: bool = False) -> Iterator[StoredVote]:
        """Every vote of an arena in sequence order, streamed in batches."""
        after = 0
        while True:
            with self.db.read() as s:
                a = self._arena(s, arena)
                query = select(VoteRow).where(VoteRow.arena_id == a.id, VoteRow.seq > after)
                if counted_only:
                    query = query.where(VoteRow.counted.is_(True))
                votes = list(s.scalars(query.order_by(VoteRow.seq).limit(1000)))
                if not votes:
                    return
                batch = reads.stored_votes(s, a, votes)
            yield from batch
            after = batch[-1].seq

    def export_votes(
        self, *, arena: str, path: Path, fmt: Literal["jsonl", "csv", "parquet"]
    ) -> int:
        """Write the vote log to ``path`` (JSONL, CSV or flat Parquet); returns rows written."""
        from karena.store.export import write_votes

        self.get_arena(slug=arena)
        return write_votes(self.iter_votes(arena=arena), Path(path), fmt)

    def reference_battles(
        self, *, arena: str, limit: int | None = None, modes: Sequence[str] = ("rank",)
    ) -> tuple[ReferenceBattle, ...]:
        """Counted voted battles with their K outputs and human ranks (K-Sort Eval instances)."""
        with self.db.read() as s:
            a = self._arena(s, arena)
            return reads.reference_battles(s, a, self.media, limit=limit, modes=tuple(modes))

    def pair_votes(self, *, arena: str) -> tuple[PairVote, ...]:
        """Counted votes decomposed into pairwise facts, in sequence order (ArenaPO's input)."""
        return tuple(reads.pair_votes(self.iter_votes(arena=arena, counted_only=True)))
