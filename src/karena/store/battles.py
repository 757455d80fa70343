"""Battles: opening one (matchmaker, prompt, outputs), reading it back, serving its media.

The hot path is :meth:`Battles.create_battle` on a catalog this worker has cached: it plans
with no database access (:mod:`karena.store.planning`) and inserts the battle with one
statement on PostgreSQL. A layer above that fills in outputs first (typed prompts with live
generators, :mod:`karena.services.live`) uses :meth:`~Battles.arena_catalog`,
:meth:`~Battles.pick_models` and :meth:`~Battles.open_battle`.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import numpy as np
from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from karena.errors import Conflict, NotFound
from karena.store import convert, planning
from karena.store.arena_cache import ArenaCatalog, ModelRow
from karena.store.context import StoreContext
from karena.store.lookups import row_id
from karena.store.models import Battle, BattleSlot, Output
from karena.store.rows import insert_rows
from karena.store.text import token_key
from karena.store.types import POSITION_LABELS, BattleMedia, BattleView, MediaBlob

__all__ = ["Battles"]

BATTLES: Any = Battle.__table__
#: Plans tried before giving up when the arena's catalog changes under each of them.
CATALOG_ATTEMPTS = 3


class Battles:
    """Opening battles and reading them back: ``store.battles``."""

    def __init__(self, ctx: StoreContext) -> None:
        self.ctx = ctx

    # -- battles -----------------------------------------------------------------------------

    def create_battle(
        self,
        *,
        arena: str,
        voter_id: str | None = None,
        seed: int | None = None,
    ) -> BattleView:
        """Open a battle: K contestants from the matchmaker and a prompt all K have outputs for.

        Never returns a battle with a missing output. (A battle on a user-typed prompt, whose
        outputs a live generator makes first, is :meth:`karena.services.live.LiveGenerators.
        create_battle`.)
        """
        rng = np.random.default_rng(seed if seed is not None else secrets.randbits(64))
        now = self.ctx.now()
        if self.ctx.db.is_postgres:
            view = self._open_on_cached_catalog(arena, voter_id, rng, now)
            if view is not None:
                return view
        for _ in range(CATALOG_ATTEMPTS):
            # Plan first, holding no connection (one connection at a time per request: a
            # request holding one while waiting for another can exhaust the pool).
            with self.ctx.db.read_conn() as conn:
                catalog = self.ctx.arena_cache.catalog(conn, arena)
            state = self.ctx.arena_cache.match_state(self.ctx.db, catalog, now)
            plan = planning.plan_battle(catalog, state, rng=rng)
            # The catalog version is checked where the battle is inserted, so a battle never
            # names a model or output that a concurrent catalog change took away.
            with self.ctx.db.write_conn() as conn:
                if self.ctx.arena_cache.version(conn, arena) != catalog.version:
                    continue
                view = self._insert_battle(conn, plan, voter_id, now)
            self.ctx.arena_cache.note_battle(catalog, plan.model_ids)
            return view
        raise Conflict(f"arena {arena!r} changed while the battle was planned; try again")

    def _open_on_cached_catalog(
        self, arena: str, voter_id: str | None, rng: np.random.Generator, now: datetime
    ) -> BattleView | None:
        """PostgreSQL: plan on the cached catalog and insert battle and slots in one statement.

        The statement inserts only while ``arenas.catalog_version`` still equals the cached
        catalog's, so it needs no transaction of its own (one round trip in all). None when
        nothing is cached or the guard found the catalog stale: the caller takes the slow path,
        which re-reads it.
        """
        catalog = self.ctx.arena_cache.cached(arena)
        if catalog is None:
            return None
        state = self.ctx.arena_cache.match_state(self.ctx.db, catalog, now)
        plan = planning.plan_battle(catalog, state, rng=rng)
        token = secrets.token_urlsafe(24)
        expires = now + timedelta(seconds=self.ctx.settings.battle_ttl_seconds)
        params: dict[str, Any] = {
            "arena": plan.arena_id,
            "version": catalog.version,
            "prompt": plan.prompt_id,
            "token": token,
            "voter": self.ctx.voter_hash(voter_id) if voter_id is not None else None,
            # The store keeps naive UTC (models.UTCDateTime); driver SQL skips that type.
            "created": now.astimezone(UTC).replace(tzinfo=None),
            "expires": expires.astimezone(UTC).replace(tzinfo=None),
        }
        for i, (m, o) in enumerate(zip(plan.model_ids, plan.output_ids, strict=True)):
            params[f"m{i}"], params[f"o{i}"] = m, o
        with self.ctx.db.autocommit_conn() as conn:
            inserted = conn.exec_driver_sql(_guarded_battle_sql(len(plan.model_ids)), params)
            if not inserted.all():
                self.ctx.arena_cache.forget(arena)
                return None
        self.ctx.arena_cache.note_battle(catalog, plan.model_ids)
        return _battle_view(plan, token, now, expires)

    def _insert_battle(
        self,
        conn: Connection,
        plan: planning.BattlePlan,
        voter_id: str | None,
        now: datetime,
        token: str | None = None,
        voter_hash: str | None = None,
    ) -> BattleView:
        token = token if token is not None else secrets.token_urlsafe(24)
        if voter_id is not None:
            voter_hash = self.ctx.voter_hash(voter_id)
        expires = now + timedelta(seconds=self.ctx.settings.battle_ttl_seconds)
        battle_id = conn.execute(
            _insert_battle_statement(),
            {
                "arena_id": plan.arena_id,
                "prompt_id": plan.prompt_id,
                "token": token,
                "state": "open",
                "voter_hash": voter_hash,
                "created_at": now,
                "expires_at": expires,
            },
        ).scalar_one()
        insert_rows(
            conn,
            "battle_slots",
            [
                {"battle_id": battle_id, "position": i, "model_id": m, "output_id": o}
                for i, (m, o) in enumerate(zip(plan.model_ids, plan.output_ids, strict=True))
            ],
        )
        return _battle_view(plan, token, now, expires)

    # -- for a layer above that fills in outputs first (typed prompts) ----------------------

    def arena_catalog(self, *, arena: str) -> ArenaCatalog:
        """This worker's catalog of ``arena`` (models, prompts with outputs), re-read if stale."""
        with self.ctx.db.read_conn() as conn:
            return self.ctx.arena_cache.catalog(conn, arena)

    def pick_models(
        self, catalog: ArenaCatalog, *, only: Collection[str], rng: np.random.Generator
    ) -> list[ModelRow]:
        """K models chosen by the arena's matchmaker among the enabled ones named in ``only``."""
        state = self.ctx.arena_cache.match_state(self.ctx.db, catalog, self.ctx.now())
        return planning.pick_models(catalog, state, rng=rng, only=set(only))

    def open_battle(
        self,
        *,
        arena: str,
        prompt_id: int,
        model_ids: Sequence[int],
        voter_id: str | None = None,
        rng: np.random.Generator,
        token: str | None = None,
        voter_hash: str | None = None,
    ) -> BattleView:
        """Open a battle on this prompt with these models, in a shuffled display order.

        Every model must have an output for the prompt (NotFound otherwise): add them first.
        ``token`` opens it under a token handed out before (a pending battle's; Conflict if a
        battle has it already); ``voter_hash`` stands for ``voter_id`` when only it is known.
        """
        now = self.ctx.now()
        try:
            with self.ctx.db.write_conn() as conn:
                catalog = self.ctx.arena_cache.catalog(conn, arena)
                plan = planning.plan_for_prompt(catalog, prompt_id, model_ids, rng)
                view = self._insert_battle(conn, plan, voter_id, now, token, voter_hash)
        except IntegrityError:
            if token is None:
                raise
            raise Conflict("a battle with this token is open already") from None
        self.ctx.arena_cache.note_battle(catalog, plan.model_ids)
        return view

    # -- reads -------------------------------------------------------------------------------

    def get_battle(self, *, token: str) -> BattleView:
        """A battle as the voter sees it (NotFound)."""
        with self.ctx.db.read() as s:
            battle = s.scalar(select(Battle).where(Battle.token == token_key(token)))
            if battle is None:
                raise NotFound("unknown battle")
            return convert.battle_view(s, battle)

    def battle_media(self, *, token: str, position: int) -> MediaBlob:
        """Bytes and type of one battle slot, looked up by the opaque token (NotFound)."""
        with self.ctx.db.read() as s:
            out = s.scalar(
                select(Output)
                .join(BattleSlot, BattleSlot.output_id == Output.id)
                .join(Battle, Battle.id == BattleSlot.battle_id)
                .where(
                    Battle.token == token_key(token),
                    BattleSlot.position == row_id(position, "slot"),
                )
            )
            if out is None:
                raise NotFound("no such battle media")
            return convert.media_blob(self.ctx.media, out)


@cache
def _insert_battle_statement() -> Any:
    return insert(BATTLES).returning(BATTLES.c.id)


def _battle_view(
    plan: planning.BattlePlan, token: str, now: datetime, expires: datetime
) -> BattleView:
    return BattleView(
        token=token,
        arena_slug=plan.arena_slug,
        k=len(plan.model_ids),
        prompt_text=plan.prompt_text,
        created_at=now,
        expires_at=expires,
        state="open",
        slots=tuple(
            BattleMedia(position=i, label=POSITION_LABELS[i], content_type=ct, kind=kind)
            for i, (ct, kind) in enumerate(zip(plan.content_types, plan.kinds, strict=True))
        ),
    )


@cache
def _guarded_battle_sql(k: int) -> str:
    """PostgreSQL: a battle and its K slots in one statement, if the catalog is unchanged."""
    slots = ", ".join(f"({i}, %(m{i})s::integer, %(o{i})s::integer)" for i in range(k))
    return (
        "WITH b AS ("
        " INSERT INTO battles"
        " (arena_id, prompt_id, token, state, voter_hash, created_at, expires_at)"
        " SELECT %(arena)s, %(prompt)s, %(token)s, 'open', %(voter)s, %(created)s, %(expires)s"
        " WHERE EXISTS (SELECT 1 FROM arenas"
        " WHERE id = %(arena)s AND catalog_version = %(version)s)"
        " RETURNING id)"
        " INSERT INTO battle_slots (battle_id, position, model_id, output_id)"
        " SELECT b.id, s.position, s.model_id, s.output_id"
        f" FROM b CROSS JOIN (VALUES {slots}) AS s (position, model_id, output_id)"
        " RETURNING battle_id"
    )
