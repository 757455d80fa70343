"""The Store's battles: opening one (matchmaker, prompt, outputs) and reading it back."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import numpy as np
from sqlalchemy import Connection, insert, select

from karena.errors import Conflict, InvalidInput, NotFound
from karena.store import battles as battle_service
from karena.store import convert
from karena.store.base import token_key
from karena.store.catalog import CatalogMixin
from karena.store.models import Battle
from karena.store.rows import insert_rows
from karena.store.text import clean_prompt
from karena.store.types import POSITION_LABELS, BattleMedia, BattleView
from karena.store.votes import hash_voter

__all__ = ["BattleMixin"]

BATTLES: Any = Battle.__table__
#: Plans tried before giving up when the arena's catalog changes under each of them.
CATALOG_ATTEMPTS = 3


class BattleMixin(CatalogMixin):
    """Opening battles."""

    def voter_hash(self, voter_id: str) -> str:
        """The salted hash stored for a raw voter id (cookie or address)."""
        return hash_voter(self.settings.voter_salt.get_secret_value(), str(voter_id))

    # -- battles -----------------------------------------------------------------------------

    def create_battle(
        self,
        *,
        arena: str,
        voter_id: str | None = None,
        prompt_text: str | None = None,
        seed: int | None = None,
    ) -> BattleView:
        """Open a battle: K contestants from the matchmaker and a prompt all K have outputs for.

        With ``prompt_text`` (a user-typed prompt) the contestants are drawn among models with a
        live generator, and missing outputs are generated (and cached) first. Never returns a
        battle with a missing output.
        """
        rng = np.random.default_rng(seed if seed is not None else secrets.randbits(64))
        if prompt_text is not None:
            return self._typed_prompt_battle(arena, clean_prompt(prompt_text), voter_id, rng)
        now = self._now()
        if self.db.is_postgres:
            view = self._open_on_cached_catalog(arena, voter_id, rng, now)
            if view is not None:
                return view
        for _ in range(CATALOG_ATTEMPTS):
            # Plan first, holding no connection (one connection at a time per request: a
            # request holding one while waiting for another can exhaust the pool).
            with self.db.read_conn() as conn:
                catalog = self._arena_cache.catalog(conn, arena)
            state = self._arena_cache.match_state(self.db, catalog, now)
            plan = battle_service.plan_battle(catalog, state, rng=rng)
            # The catalog version is checked where the battle is inserted, so a battle never
            # names a model or output that a concurrent catalog change took away.
            with self.db.write_conn() as conn:
                if self._arena_cache.version(conn, arena) != catalog.version:
                    continue
                view = self._insert_battle(conn, plan, voter_id, now)
            self._arena_cache.note_battle(catalog, plan.model_ids)
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
        catalog = self._arena_cache.cached(arena)
        if catalog is None:
            return None
        state = self._arena_cache.match_state(self.db, catalog, now)
        plan = battle_service.plan_battle(catalog, state, rng=rng)
        token = secrets.token_urlsafe(24)
        expires = now + timedelta(seconds=self.settings.battle_ttl_seconds)
        params: dict[str, Any] = {
            "arena": plan.arena_id,
            "version": catalog.version,
            "prompt": plan.prompt_id,
            "token": token,
            "voter": self.voter_hash(voter_id) if voter_id is not None else None,
            # The store keeps naive UTC (models.UTCDateTime); driver SQL skips that type.
            "created": now.astimezone(UTC).replace(tzinfo=None),
            "expires": expires.astimezone(UTC).replace(tzinfo=None),
        }
        for i, (m, o) in enumerate(zip(plan.model_ids, plan.output_ids, strict=True)):
            params[f"m{i}"], params[f"o{i}"] = m, o
        with self.db.autocommit_conn() as conn:
            inserted = conn.exec_driver_sql(_guarded_battle_sql(len(plan.model_ids)), params)
            if not inserted.all():
                self._arena_cache.forget(arena)
                return None
        self._arena_cache.note_battle(catalog, plan.model_ids)
        return _battle_view(plan, token, now, expires)

    def _insert_battle(
        self,
        conn: Connection,
        plan: battle_service.BattlePlan,
        voter_id: str | None,
        now: datetime,
    ) -> BattleView:
        token = secrets.token_urlsafe(24)
        expires = now + timedelta(seconds=self.settings.battle_ttl_seconds)
        battle_id = conn.execute(
            _insert_battle_statement(),
            {
                "arena_id": plan.arena_id,
                "prompt_id": plan.prompt_id,
                "token": token,
                "state": "open",
                "voter_hash": self.voter_hash(voter_id) if voter_id is not None else None,
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

    def _typed_prompt_battle(
        self, arena: str, text: str, voter_id: str | None, rng: np.random.Generator
    ) -> BattleView:
        from karena.generators.registry import build_generator

        with self.db.read_conn() as conn:
            catalog = self._arena_cache.catalog(conn, arena)
        attached = {name for arena_id, name in self._generators if arena_id == catalog.id}
        live = {
            m.name
            for m in catalog.models
            if m.enabled and (m.generator is not None or m.name in attached)
        }
        if len(live) < catalog.k:
            raise InvalidInput(
                f"arena {arena!r} has {len(live)} models with a live generator; typed "
                f"prompts need K={catalog.k}"
            )
        state = self._arena_cache.match_state(self.db, catalog, self._now())
        picked = battle_service.pick_models(catalog, state, rng=rng, only=live)
        prompt = self.add_prompt(arena=arena, text=text, source="user")
        for model in picked:
            if self.get_output(model_id=model.id, prompt_id=prompt.id) is not None:
                continue
            gen = self._generators.get((prompt.arena_id, model.name))
            if gen is None:
                gen = build_generator(
                    model.generator or {}, timeout=self.settings.generator_timeout_seconds
                )
            produced = gen.generate(text)
            self.add_output(
                arena=arena,
                model=model.name,
                prompt_key=prompt.key,
                data=produced.data,
                metadata=produced.metadata,
            )
        now = self._now()
        with self.db.write_conn() as conn:
            catalog = self._arena_cache.catalog(conn, arena)
            plan = battle_service.plan_for_prompt(catalog, prompt.id, [m.id for m in picked], rng)
            view = self._insert_battle(conn, plan, voter_id, now)
        self._arena_cache.note_battle(catalog, plan.model_ids)
        return view

    def get_battle(self, *, token: str) -> BattleView:
        """A battle as the voter sees it (NotFound)."""
        with self.db.read() as s:
            battle = s.scalar(select(Battle).where(Battle.token == token_key(token)))
            if battle is None:
                raise NotFound("unknown battle")
            return convert.battle_view(s, battle)


@cache
def _insert_battle_statement() -> Any:
    return insert(BATTLES).returning(BATTLES.c.id)


def _battle_view(
    plan: battle_service.BattlePlan, token: str, now: datetime, expires: datetime
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
