"""Finding rows by what callers name them, and checking paging arguments.

Plain functions shared by the Store's services (catalog, battles, voting, boards): each takes
the open session it reads through, so a service decides its own transactions. Every lookup
raises NotFound for a name that cannot exist, before or instead of a query.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from karena.errors import InvalidInput, NotFound
from karena.store.models import Arena, Model
from karena.store.text import text_key

__all__ = [
    "MAX_OFFSET",
    "MAX_PAGE",
    "MAX_ROW_ID",
    "find_arena",
    "find_model",
    "lock_arena",
    "page_bounds",
    "prompt_key_for",
    "row_id",
]

MAX_PAGE = 1000
#: Largest offset accepted by listings (keeps every value inside a 32-bit SQL integer).
MAX_OFFSET = 1_000_000_000
#: Largest row id looked up; anything bigger cannot exist and would overflow the SQL integer.
MAX_ROW_ID = 2**31 - 1


def find_arena(session: Session, slug: str) -> Arena:
    """The arena with this slug (NotFound)."""
    arena = session.scalar(select(Arena).where(Arena.slug == text_key(slug, "arena")))
    if arena is None:
        raise NotFound(f"no arena {slug!r}")
    return arena


def lock_arena(session: Session, arena_id: int) -> Arena:
    """Take the arena's row lock, which every change of its votes and ratings holds."""
    # PostgreSQL: a row lock serialises this arena's votes across workers. SQLite: the
    # write transaction already holds the database's single write lock (BEGIN IMMEDIATE).
    # NO KEY UPDATE: foreign-key checks of concurrent battle inserts (KEY SHARE) do not wait.
    arena = session.scalar(
        select(Arena).where(Arena.id == arena_id).with_for_update(key_share=True)
    )
    if arena is None:
        raise NotFound("arena vanished")
    return arena


def find_model(session: Session, arena: Arena, name: str) -> Model:
    """The model of ``arena`` with this name (NotFound)."""
    # Names are stored NFC-normalised; look them up the same way.
    name = text_key(name, "model")
    model = session.scalar(select(Model).where(Model.arena_id == arena.id, Model.name == name))
    if model is None:
        raise NotFound(f"no model {name!r} in arena {arena.slug!r}")
    return model


def row_id(value: object, what: str) -> int:
    """A positive integer id within SQL range, or NotFound."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ROW_ID:
        raise NotFound(f"no {what} {str(value)[:40]}")
    return value


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
