"""State and lookups shared by the Store's parts (catalog, voting, and the rest)."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from karena.errors import InvalidInput, NotFound
from karena.generators.base import Generator
from karena.media.storage import MediaStore
from karena.settings import Settings
from karena.store.db import Database
from karena.store.models import (
    Arena,
    Model,
)

Clock = Callable[[], datetime]
MODALITY_KINDS: dict[str, Literal["image", "video", "text"]] = {
    "image": "image",
    "video": "video",
    "text": "text",
}
MAX_PAGE = 1000
#: Largest offset accepted by listings (keeps every value inside a 32-bit SQL integer).
MAX_OFFSET = 1_000_000_000
#: Largest row id looked up; anything bigger cannot exist and would overflow the SQL integer.
MAX_ROW_ID = 2**31 - 1


def token_key(token: object) -> str:
    """A battle token fit for a query, or NotFound (no NUL, no giant strings reach the database)."""
    text = str(token)
    if not 1 <= len(text) <= 64 or any(
        not (c.isascii() and (c.isalnum() or c in "-_")) for c in text
    ):
        raise NotFound("unknown battle")
    return text


def text_key(value: object, what: str) -> str:
    """A name or key fit for an equality lookup, or NotFound."""
    text = unicodedata.normalize("NFC", str(value)).strip()
    if not text or len(text) > 500 or "\x00" in text:
        raise NotFound(f"no {what} {text[:80]!r}")
    return text


def row_id(value: object, what: str) -> int:
    """A positive integer id within SQL range, or NotFound."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ROW_ID:
        raise NotFound(f"no {what} {str(value)[:40]}")
    return value


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class StoreBase:
    """Holds settings, database, media store and clock; finds rows or raises NotFound."""

    def __init__(self, settings: Settings, db: Database, media: MediaStore, clock: Clock) -> None:
        self.settings = settings
        self.db = db
        self.media = media
        self.clock = clock
        self._generators: dict[tuple[int, str], Generator] = {}
        from karena.store.arena_cache import ArenaCache, bump_catalog_versions
        from karena.store.vote_writer import VoteWriter

        self._arena_cache = ArenaCache(settings.match_state_max_age_seconds)
        self._vote_writer = VoteWriter(db, self._now)
        # Not event.contains(): SQLAlchemy keys its registry by id(target), so a new session
        # class at the address of a collected one looked "already hooked" and went without
        # the hook (a rare CI failure: a catalog write that moved no version).
        if not db.catalog_hooked:
            event.listen(db.writes, "before_flush", bump_catalog_versions)
            db.catalog_hooked = True

    def _now(self) -> datetime:
        now = self.clock()
        return now if now.tzinfo is not None else now.replace(tzinfo=UTC)

    # -- lookups -------------------------------------------------------------------------------

    @staticmethod
    def _arena(session: Session, slug: str, *, lock: bool = False) -> Arena:
        query = select(Arena).where(Arena.slug == text_key(slug, "arena"))
        if lock:
            query = query.with_for_update()
        arena = session.scalar(query)
        if arena is None:
            raise NotFound(f"no arena {slug!r}")
        return arena

    @staticmethod
    def _lock_arena(session: Session, arena_id: int) -> Arena:
        # PostgreSQL: a row lock serialises this arena's votes across workers. SQLite: the
        # write transaction already holds the database's single write lock (BEGIN IMMEDIATE).
        # NO KEY UPDATE: foreign-key checks of concurrent battle inserts (KEY SHARE) do not wait.
        arena = session.scalar(
            select(Arena).where(Arena.id == arena_id).with_for_update(key_share=True)
        )
        if arena is None:
            raise NotFound("arena vanished")
        return arena

    @staticmethod
    def _model(session: Session, arena: Arena, name: str) -> Model:
        # Names are stored NFC-normalised; look them up the same way.
        name = text_key(name, "model")
        model = session.scalar(select(Model).where(Model.arena_id == arena.id, Model.name == name))
        if model is None:
            raise NotFound(f"no model {name!r} in arena {arena.slug!r}")
        return model


def prompt_key_for(text: str) -> str:
    """The default external key of a prompt: a short hash of its text."""
    return "p-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def page_bounds(offset: int, limit: int) -> tuple[int, int]:
    """Validate paging arguments."""
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput(f"offset must be an integer in 0..{MAX_OFFSET}, got {offset!r}")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be an integer in 1..{MAX_PAGE}, got {limit!r}")
    return offset, limit
