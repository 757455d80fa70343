"""The one storage API for the web, CLI, judge and reward layers (keyword-only arguments).

Build it with :meth:`Store.open`; every method returns frozen values from
:mod:`karena.store.types` and raises :mod:`karena.errors` exceptions on bad input.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from karena.errors import Conflict, Expired, Forbidden, InvalidInput, NotFound, RateLimited
from karena.generators.base import Generator
from karena.media.storage import MediaStore
from karena.settings import Settings
from karena.store import battles as battle_service
from karena.store import convert, reads
from karena.store.db import Database
from karena.store.models import (
    Arena,
    BannedVoter,
    Battle,
    BattleSlot,
    Model,
    Output,
    Prompt,
    VoteRow,
)
from karena.store.ratings import leaderboard_rows, load_ratings, model_for_arena, rebuild
from karena.store.registry import matchmaker as load_matchmaker
from karena.store.registry import rating_model as load_rating_model
from karena.store.text import clean_name, clean_prompt, clean_slug
from karena.store.types import (
    ArenaInfo,
    BattleView,
    LeaderboardRow,
    MediaBlob,
    ModelInfo,
    ModelPage,
    OutputInfo,
    Page,
    PairVote,
    PromptInfo,
    ReferenceBattle,
    StoredVote,
    VoteResult,
)
from karena.store.votes import hash_voter, parse_vote, record_vote

Clock = Callable[[], datetime]
MODALITY_KINDS: dict[str, Literal["image", "video", "text"]] = {
    "image": "image",
    "video": "video",
    "text": "text",
}
MAX_PAGE = 1000


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class Store:
    """Arenas, models, prompts, outputs, battles, votes and ratings on SQLite or PostgreSQL."""

    def __init__(self, settings: Settings, db: Database, media: MediaStore, clock: Clock) -> None:
        self.settings = settings
        self.db = db
        self.media = media
        self.clock = clock
        self._generators: dict[tuple[int, str], Generator] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True, clock: Clock | None = None) -> Store:
        """Connect to ``settings.resolved_database_url()`` and (by default) migrate to the latest.

        ``clock`` returns the current UTC time; tests pass a fake one to move time without sleeping.
        """
        db = Database.connect(settings.resolved_database_url())
        if migrate:
            db.migrate()
        media = MediaStore(settings.resolved_media_dir(), max_bytes=settings.max_upload_bytes)
        return cls(settings, db, media, clock if clock is not None else utc_now)

    def close(self) -> None:
        """Dispose of the connection pool."""
        self.db.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _now(self) -> datetime:
        now = self.clock()
        return now if now.tzinfo is not None else now.replace(tzinfo=UTC)

    # -- lookups -------------------------------------------------------------------------------

    @staticmethod
    def _arena(session: Session, slug: str, *, lock: bool = False) -> Arena:
        query = select(Arena).where(Arena.slug == slug)
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
        arena = session.scalar(select(Arena).where(Arena.id == arena_id).with_for_update())
        if arena is None:
            raise NotFound("arena vanished")
        return arena

    @staticmethod
    def _model(session: Session, arena: Arena, name: str) -> Model:
        model = session.scalar(select(Model).where(Model.arena_id == arena.id, Model.name == name))
        if model is None:
            raise NotFound(f"no model {name!r} in arena {arena.slug!r}")
        return model

    # -- arenas, models, prompts, outputs (admin) ----------------------------------------------

    def create_arena(
        self,
        *,
        slug: str,
        name: str | None = None,
        modality: str = "image",
        k: int | None = None,
        rating_model: str | None = None,
        rating_params: Mapping[str, object] | None = None,
        matchmaker: str | None = None,
        matchmaker_params: Mapping[str, object] | None = None,
        exist_ok: bool = False,
    ) -> ArenaInfo:
        """Create an arena; K, rating model and matchmaker default to the settings."""
        slug = clean_slug(slug)
        if modality not in MODALITY_KINDS:
            raise InvalidInput(
                f"modality must be one of {sorted(MODALITY_KINDS)}, got {modality!r}"
            )
        k = k if k is not None else self.settings.default_k
        if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= 8:
            raise InvalidInput(f"K must be an integer in 2..8, got {k!r}")
        rm = rating_model if rating_model is not None else self.settings.rating_model
        mm = matchmaker if matchmaker is not None else self.settings.matchmaker
        load_rating_model(rm, dict(rating_params or {}))  # fail now, not at the first vote
        load_matchmaker(mm, dict(matchmaker_params or {}))
        with self.db.write() as s:
            existing = s.scalar(select(Arena).where(Arena.slug == slug))
            if existing is not None:
                if exist_ok:
                    return convert.arena_info(existing)
                raise Conflict(f"arena {slug!r} already exists")
            arena = Arena(
                slug=slug,
                name=clean_name(name if name is not None else slug, "arena name"),
                modality=modality,
                k=k,
                rating_model=rm,
                rating_params=dict(rating_params or {}),
                matchmaker=mm,
                matchmaker_params=dict(matchmaker_params or {}),
                vote_seq=0,
                created_at=self._now(),
            )
            s.add(arena)
            s.flush()
            return convert.arena_info(arena)

    def get_arena(self, *, slug: str) -> ArenaInfo:
        """Look up an arena by slug (NotFound)."""
        with self.db.read() as s:
            return convert.arena_info(self._arena(s, slug))

    def list_arenas(self) -> tuple[ArenaInfo, ...]:
        """All arenas, by slug."""
        with self.db.read() as s:
            return tuple(
                convert.arena_info(a) for a in s.scalars(select(Arena).order_by(Arena.slug))
            )

    def add_model(
        self,
        *,
        arena: str,
        name: str,
        organization: str = "",
        link: str = "",
        enabled: bool = True,
        generator: Mapping[str, object] | None = None,
        exist_ok: bool = False,
    ) -> ModelInfo:
        """Add a contestant model; ``generator`` is a live-generator config (see generators)."""
        name = clean_name(name, "model name")
        org = clean_name(organization, "organization") if organization else ""
        link = clean_name(link, "link", 500) if link else ""
        if link and not link.startswith(("https://", "http://")):
            raise InvalidInput("model link must be an http(s) URL")
        if generator is not None:
            from karena.generators.registry import check_generator_config

            check_generator_config(generator)
        with self.db.write() as s:
            a = self._arena(s, arena)
            existing = s.scalar(select(Model).where(Model.arena_id == a.id, Model.name == name))
            if existing is not None:
                if exist_ok:
                    return convert.model_info(existing)
                raise Conflict(f"model {name!r} already exists in arena {arena!r}")
            model = Model(
                arena_id=a.id,
                name=name,
                organization=org,
                link=link,
                enabled=bool(enabled),
                generator=dict(generator) if generator is not None else None,
                created_at=self._now(),
            )
            s.add(model)
            s.flush()
            return convert.model_info(model)

    def set_model_enabled(self, *, arena: str, name: str, enabled: bool) -> ModelInfo:
        """Enable or disable a model; disabled models are never matched."""
        with self.db.write() as s:
            model = self._model(s, self._arena(s, arena), name)
            model.enabled = bool(enabled)
            s.flush()
            return convert.model_info(model)

    def list_models(self, *, arena: str) -> tuple[ModelInfo, ...]:
        """All models of an arena, by name."""
        with self.db.read() as s:
            a = self._arena(s, arena)
            models = s.scalars(select(Model).where(Model.arena_id == a.id).order_by(Model.name))
            return tuple(convert.model_info(m) for m in models)

    def get_model(self, *, arena: str, name: str) -> ModelInfo:
        """One model by name (NotFound)."""
        with self.db.read() as s:
            return convert.model_info(self._model(s, self._arena(s, arena), name))

    def register_generator(self, *, arena: str, model: str, generator: Generator) -> None:
        """Attach an in-process live generator (e.g. a Python callable) to a model."""
        info = self.get_model(arena=arena, name=model)
        self._generators[(info.arena_id, info.name)] = generator

    def add_prompt(
        self,
        *,
        arena: str,
        text: str,
        key: str | None = None,
        source: str = "admin",
        category: str = "",
        exist_ok: bool = True,
    ) -> PromptInfo:
        """Add a prompt (``key`` defaults to a text hash); an existing key returns the stored."""
        text = clean_prompt(text)
        key = clean_name(key, "prompt key") if key is not None else prompt_key_for(text)
        with self.db.write() as s:
            a = self._arena(s, arena)
            return convert.prompt_info(
                self._ensure_prompt(s, a, key, text, source, category, exist_ok=exist_ok)
            )

    def _ensure_prompt(
        self,
        s: Session,
        a: Arena,
        key: str,
        text: str,
        source: str,
        category: str,
        *,
        exist_ok: bool = True,
    ) -> Prompt:
        existing = s.scalar(select(Prompt).where(Prompt.arena_id == a.id, Prompt.key == key))
        if existing is not None:
            if existing.text != text:
                raise Conflict(f"prompt key {key!r} already holds a different text")
            if not exist_ok:
                raise Conflict(f"prompt {key!r} already exists")
            return existing
        prompt = Prompt(
            arena_id=a.id,
            key=key,
            text=text,
            source=clean_name(source, "source", 64) if source else "",
            category=clean_name(category, "category", 64) if category else "",
            created_at=self._now(),
        )
        s.add(prompt)
        s.flush()
        return prompt

    def list_prompts(self, *, arena: str, offset: int = 0, limit: int = 100) -> Page[PromptInfo]:
        """A page of an arena's prompts, by id."""
        offset, limit = _page_bounds(offset, limit)
        with self.db.read() as s:
            a = self._arena(s, arena)
            total = s.scalar(
                select(func.count()).select_from(Prompt).where(Prompt.arena_id == a.id)
            )
            rows = s.scalars(
                select(Prompt)
                .where(Prompt.arena_id == a.id)
                .order_by(Prompt.id)
                .offset(offset)
                .limit(limit)
            )
            return Page(tuple(convert.prompt_info(p) for p in rows), int(total or 0), offset, limit)

    def add_output(
        self,
        *,
        arena: str,
        model: str,
        prompt_key: str,
        data: bytes,
        metadata: Mapping[str, object] | None = None,
        replace: bool = False,
    ) -> OutputInfo:
        """Validate, re-encode and store one output for (model, prompt).

        Raises PayloadTooLarge / UnsupportedMedia on bad bytes, Conflict when one exists and
        ``replace`` is False.
        """
        with self.db.read() as s:
            a = self._arena(s, arena)
            kind = MODALITY_KINDS[a.modality]
        stored = self.media.put(data, expected_kind=kind)  # outside the transaction: slow work
        with self.db.write() as s:
            a = self._arena(s, arena)
            m = self._model(s, a, model)
            p = s.scalar(select(Prompt).where(Prompt.arena_id == a.id, Prompt.key == prompt_key))
            if p is None:
                raise NotFound(f"no prompt {prompt_key!r} in arena {arena!r}")
            return convert.output_info(self._put_output(s, m, p, stored, metadata, replace=replace))

    def _put_output(
        self,
        s: Session,
        m: Model,
        p: Prompt,
        stored: Any,
        metadata: Mapping[str, object] | None,
        *,
        replace: bool,
    ) -> Output:
        existing = s.scalar(select(Output).where(Output.model_id == m.id, Output.prompt_id == p.id))
        meta = {str(k)[:64]: v for k, v in dict(metadata or {}).items()}
        if existing is not None:
            if existing.sha256 == stored.sha256:
                return existing
            if not replace:
                raise Conflict(f"model {m.name!r} already has an output for prompt {p.key!r}")
            existing.sha256, existing.content_type = stored.sha256, stored.content_type
            existing.kind, existing.byte_size, existing.meta = stored.kind, stored.byte_size, meta
            s.flush()
            return existing
        out = Output(
            model_id=m.id,
            prompt_id=p.id,
            sha256=stored.sha256,
            content_type=stored.content_type,
            kind=stored.kind,
            byte_size=stored.byte_size,
            meta=meta,
            created_at=self._now(),
        )
        s.add(out)
        s.flush()
        return out

    def get_output(self, *, model_id: int, prompt_id: int) -> OutputInfo | None:
        """The cached output of (model, prompt), or None."""
        with self.db.read() as s:
            out = s.scalar(
                select(Output).where(Output.model_id == model_id, Output.prompt_id == prompt_id)
            )
            return convert.output_info(out) if out is not None else None

    # -- media -------------------------------------------------------------------------------

    def battle_media(self, *, token: str, position: int) -> MediaBlob:
        """Bytes and type of one battle slot, looked up by the opaque token (NotFound)."""
        with self.db.read() as s:
            out = s.scalar(
                select(Output)
                .join(BattleSlot, BattleSlot.output_id == Output.id)
                .join(Battle, Battle.id == BattleSlot.battle_id)
                .where(Battle.token == str(token), BattleSlot.position == int(position))
            )
            if out is None:
                raise NotFound("no such battle media")
            return self._blob(out)

    def output_media(self, *, output_id: int) -> MediaBlob:
        """Bytes and type of an output by id (for model pages after the reveal, and the judge)."""
        with self.db.read() as s:
            out = s.get(Output, int(output_id))
            if out is None:
                raise NotFound(f"no output {output_id}")
            return self._blob(out)

    def _blob(self, out: Output) -> MediaBlob:
        path = self.media.path_for(out.sha256, out.content_type)
        data = self.media.read(out.sha256, out.content_type)
        return MediaBlob(data=data, content_type=out.content_type, etag=out.sha256[:32], path=path)

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
        now = self._now()
        if prompt_text is not None:
            return self._typed_prompt_battle(arena, clean_prompt(prompt_text), voter_id, rng)
        with self.db.read() as s:
            a = self._arena(s, arena)
            plan = battle_service.plan_battle(s, a, rng=rng, now=now)
        return self._open_battle(plan, voter_id, now)

    def _open_battle(
        self, plan: battle_service.BattlePlan, voter_id: str | None, now: datetime
    ) -> BattleView:
        token = secrets.token_urlsafe(24)
        with self.db.write() as s:
            battle = Battle(
                arena_id=plan.arena_id,
                prompt_id=plan.prompt_id,
                token=token,
                state="open",
                voter_hash=self.voter_hash(voter_id) if voter_id is not None else None,
                created_at=now,
                expires_at=now + timedelta(seconds=self.settings.battle_ttl_seconds),
            )
            s.add(battle)
            s.flush()
            s.add_all(
                BattleSlot(battle_id=battle.id, position=i, model_id=m, output_id=o)
                for i, (m, o) in enumerate(zip(plan.model_ids, plan.output_ids, strict=True))
            )
            s.flush()
            return convert.battle_view(s, battle)

    def _typed_prompt_battle(
        self, arena: str, text: str, voter_id: str | None, rng: np.random.Generator
    ) -> BattleView:
        from karena.generators.registry import build_generator

        with self.db.read() as s:
            a = self._arena(s, arena)
            live = [
                m.name
                for m in s.scalars(select(Model).where(Model.arena_id == a.id, Model.enabled))
                if m.generator is not None or (a.id, m.name) in self._generators
            ]
            if len(live) < a.k:
                raise InvalidInput(
                    f"arena {arena!r} has {len(live)} models with a live generator; typed "
                    f"prompts need K={a.k}"
                )
            picked = battle_service.pick_models(s, a, rng=rng, now=self._now(), only=set(live))
        prompt = self.add_prompt(arena=arena, text=text, source="user")
        for model_id, name, config in picked:
            if self.get_output(model_id=model_id, prompt_id=prompt.id) is not None:
                continue
            gen = self._generators.get((prompt.arena_id, name))
            if gen is None:
                gen = build_generator(config or {}, timeout=self.settings.generator_timeout_seconds)
            produced = gen.generate(text)
            self.add_output(
                arena=arena,
                model=name,
                prompt_key=prompt.key,
                data=produced.data,
                metadata=produced.metadata,
            )
        with self.db.read() as s:
            plan = battle_service.plan_for_prompt(
                s, prompt.arena_id, prompt.id, [m for m, _, _ in picked], rng
            )
        return self._open_battle(plan, voter_id, self._now())

    def get_battle(self, *, token: str) -> BattleView:
        """A battle as the voter sees it (NotFound)."""
        with self.db.read() as s:
            battle = s.scalar(select(Battle).where(Battle.token == str(token)))
            if battle is None:
                raise NotFound("unknown battle")
            return convert.battle_view(s, battle)

    # -- votes -------------------------------------------------------------------------------

    def voter_hash(self, voter_id: str) -> str:
        """The salted hash stored for a raw voter id (cookie or address)."""
        return hash_voter(self.settings.voter_salt.get_secret_value(), str(voter_id))

    def submit_vote(
        self,
        *,
        token: str,
        mode: str,
        ranks: Sequence[object] | None = None,
        winner: object | None = None,
        voter_id: str,
        client: Mapping[str, object] | None = None,
    ) -> VoteResult:
        """Record one vote and update the ratings in the same transaction.

        ``mode="rank"`` needs ``ranks`` (rank of each position, 1 = best, equal = tie);
        ``mode="best"`` needs ``winner`` (a position); ``"tie"`` and ``"all_bad"`` need neither.

        Raises NotFound (404), Expired (410), InvalidVote (422, nothing stored), Conflict (409: a
        different vote exists), Forbidden (403: banned voter) and RateLimited (429: rate limit or
        the bot guard). The same submission twice returns the first result with ``replayed=True``.
        """
        args = (token, mode, ranks, winner, voter_id, client)
        try:
            return self._submit_once(*args)
        except IntegrityError:
            # Two workers raced on one battle (the arena lock makes this all but impossible):
            # the unique battle_id kept one vote; a retry replays it or reports the conflict.
            return self._submit_once(*args)

    def _submit_once(
        self,
        token: str,
        mode: str,
        ranks: Sequence[object] | None,
        winner: object | None,
        voter_id: str,
        client: Mapping[str, object] | None,
    ) -> VoteResult:
        voter = self.voter_hash(voter_id)
        with self.db.write() as s:
            battle = s.scalar(select(Battle).where(Battle.token == str(token)))
            if battle is None:
                raise NotFound("unknown battle", detail={"token": str(token)[:64]})
            k = len(battle_service.slots_of(s, battle.id))
            parsed = parse_vote(mode, ranks, winner, k)
            arena = self._lock_arena(s, battle.arena_id)
            now = self._now()
            existing = s.scalar(select(VoteRow).where(VoteRow.battle_id == battle.id))
            if existing is not None:
                if existing.mode == parsed.mode and tuple(existing.ranks) == parsed.ranks:
                    return convert.vote_result(s, existing, battle, arena, replayed=True)
                raise Conflict("this battle already has a different vote")
            if now >= battle.expires_at:
                raise Expired("this battle has expired; start a new one")
            if s.get(BannedVoter, voter) is not None:
                raise Forbidden("this voter may not vote")
            self._bot_guard(battle, now)
            self._rate_limit(s, voter, now)
            slots = battle_service.slots_of(s, battle.id)
            vote = record_vote(
                s,
                arena=arena,
                battle=battle,
                model_ids=[slot.model_id for slot in slots],
                parsed=parsed,
                rating_model=model_for_arena(arena),
                voter_hash=voter,
                client=client,
                now=now,
            )
            return convert.vote_result(s, vote, battle, arena)

    def _bot_guard(self, battle: Battle, now: datetime) -> None:
        min_s = self.settings.min_vote_seconds
        elapsed = (now - battle.created_at).total_seconds()
        if min_s > 0 and elapsed < min_s:
            raise RateLimited(
                f"vote cast {elapsed:.1f} s after the battle was shown; take at least {min_s:g} s",
                detail={"retry_after": round(min_s - elapsed, 3)},
            )

    def _rate_limit(self, s: Session, voter: str, now: datetime) -> None:
        limit = self.settings.rate_limit_per_minute
        if limit <= 0:
            return
        recent = s.scalar(
            select(func.count())
            .select_from(VoteRow)
            .where(VoteRow.voter_hash == voter, VoteRow.created_at > now - timedelta(seconds=60))
        )
        if int(recent or 0) >= limit:
            raise RateLimited(
                f"too many votes: the limit is {limit} a minute", detail={"retry_after": 60}
            )

    def check_rate_limit(self, *, voter_id: str) -> None:
        """Raise RateLimited when the voter cast ``rate_limit_per_minute`` votes in 60 s."""
        with self.db.read() as s:
            self._rate_limit(s, self.voter_hash(voter_id), self._now())

    def get_vote_result(self, *, token: str) -> VoteResult:
        """The reveal of an already voted battle (NotFound when not voted)."""
        with self.db.read() as s:
            battle = s.scalar(select(Battle).where(Battle.token == str(token)))
            vote = (
                s.scalar(select(VoteRow).where(VoteRow.battle_id == battle.id))
                if battle is not None
                else None
            )
            if battle is None or vote is None:
                raise NotFound("no vote for this battle")
            arena = s.get(Arena, battle.arena_id)
            assert arena is not None
            return convert.vote_result(s, vote, battle, arena, replayed=True)

    def ban_voter(
        self,
        *,
        voter_id: str | None = None,
        voter_hash: str | None = None,
        reason: str = "",
        discount_past: bool = True,
    ) -> int:
        """Ban a voter; with ``discount_past`` their earlier votes stop counting (ratings rebuilt).

        Returns the number of votes discounted.
        """
        vh = self._resolve_voter(voter_id, voter_hash)
        with self.db.write() as s:
            if s.get(BannedVoter, vh) is None:
                s.add(BannedVoter(voter_hash=vh, reason=str(reason)[:500], created_at=self._now()))
            if not discount_past:
                return 0
            arena_ids = sorted(
                set(
                    s.scalars(
                        select(VoteRow.arena_id).where(
                            VoteRow.voter_hash == vh, VoteRow.counted.is_(True)
                        )
                    )
                )
            )
            discounted = 0
            for arena_id in arena_ids:  # ascending ids: the same lock order as everywhere
                arena = self._lock_arena(s, arena_id)
                for vote in s.scalars(
                    select(VoteRow).where(
                        VoteRow.arena_id == arena_id,
                        VoteRow.voter_hash == vh,
                        VoteRow.counted.is_(True),
                    )
                ):
                    vote.counted = False
                    discounted += 1
                s.flush()
                rebuild(s, arena=arena, now=self._now())
            return discounted

    def unban_voter(self, *, voter_id: str | None = None, voter_hash: str | None = None) -> None:
        """Lift a ban (past discounted votes stay discounted)."""
        vh = self._resolve_voter(voter_id, voter_hash)
        with self.db.write() as s:
            row = s.get(BannedVoter, vh)
            if row is None:
                raise NotFound("voter is not banned")
            s.delete(row)

    def is_banned(self, *, voter_id: str) -> bool:
        """Whether this raw voter id is banned."""
        with self.db.read() as s:
            return s.get(BannedVoter, self.voter_hash(voter_id)) is not None

    def _resolve_voter(self, voter_id: str | None, voter_hash: str | None) -> str:
        if (voter_id is None) == (voter_hash is None):
            raise InvalidInput("give exactly one of voter_id and voter_hash")
        if voter_hash is not None:
            if len(voter_hash) != 64 or any(c not in "0123456789abcdef" for c in voter_hash):
                raise InvalidInput("voter_hash must be 64 lower-case hex digits")
            return voter_hash
        assert voter_id is not None
        return self.voter_hash(voter_id)

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
        offset, limit = _page_bounds(offset, limit)
        board = {row.model_id: row for row in self.leaderboard(arena=arena)}
        with self.db.read() as s:
            a = self._arena(s, arena)
            m = self._model(s, a, name)
            return reads.model_page(s, a, m, board.get(m.id), offset=offset, limit=limit)

    # -- reads for export, the judge and rewards ---------------------------------------------

    def list_votes(self, *, arena: str, offset: int = 0, limit: int = 100) -> Page[StoredVote]:
        """A page of the vote log in sequence order."""
        offset, limit = _page_bounds(offset, limit)
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


def prompt_key_for(text: str) -> str:
    """The default external key of a prompt: a short hash of its text."""
    return "p-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def _page_bounds(offset: int, limit: int) -> tuple[int, int]:
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidInput(f"offset must be an integer >= 0, got {offset!r}")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be an integer in 1..{MAX_PAGE}, got {limit!r}")
    return offset, limit
