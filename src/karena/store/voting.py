"""The Store's voting half: battles, vote submission, abuse controls and bans."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import exists, func, insert, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from karena.errors import Conflict, Expired, Forbidden, InvalidInput, NotFound, RateLimited
from karena.store import battles as battle_service
from karena.store import convert
from karena.store.base import text_key, token_key
from karena.store.catalog import CatalogMixin
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
from karena.store.ratings import model_for_arena, rebuild
from karena.store.text import clean_prompt
from karena.store.types import (
    POSITION_LABELS,
    BattleMedia,
    BattleView,
    VoteResult,
)
from karena.store.votes import address_voter_id, hash_voter, parse_vote, record_vote

#: The tables as Core objects: the hot path inserts through the connection, not the ORM.
BATTLES: Any = Battle.__table__
BATTLE_SLOTS: Any = BattleSlot.__table__


class VotingMixin(CatalogMixin):
    """Battles and votes."""

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
        expires = now + timedelta(seconds=self.settings.battle_ttl_seconds)
        with self.db.write() as s:
            conn = s.connection()
            battle_id = conn.execute(
                insert(BATTLES)
                .values(
                    arena_id=plan.arena_id,
                    prompt_id=plan.prompt_id,
                    token=token,
                    state="open",
                    voter_hash=self.voter_hash(voter_id) if voter_id is not None else None,
                    created_at=now,
                    expires_at=expires,
                )
                .returning(Battle.id)
            ).scalar_one()
            conn.execute(
                insert(BATTLE_SLOTS),
                [
                    {"battle_id": battle_id, "position": i, "model_id": m, "output_id": o}
                    for i, (m, o) in enumerate(zip(plan.model_ids, plan.output_ids, strict=True))
                ],
            )
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
            battle = s.scalar(select(Battle).where(Battle.token == token_key(token)))
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
        address_id: str | None = None,
    ) -> VoteResult:
        """Record one vote and update the ratings in the same transaction.

        ``address_id`` (the client address, hashed before storage) adds a per-address rate
        limit that a client cannot reset by changing its voter id.

        ``mode="rank"`` needs ``ranks`` (rank of each position, 1 = best, equal = tie);
        ``mode="best"`` needs ``winner`` (a position); ``"tie"`` and ``"all_bad"`` need neither.

        Raises NotFound (404), Expired (410), InvalidVote (422, nothing stored), Conflict (409: a
        different vote exists), Forbidden (403: banned voter) and RateLimited (429: rate limit or
        the bot guard). The same submission twice returns the first result with ``replayed=True``.
        """
        args = (token, mode, ranks, winner, voter_id, client, address_id)
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
        address_id: str | None,
    ) -> VoteResult:
        voter = self.voter_hash(voter_id)
        address = self.address_hash(address_id) if address_id is not None else None
        with self.db.write() as s:
            battle = s.scalar(select(Battle).where(Battle.token == token_key(token)))
            if battle is None:
                raise NotFound("unknown battle", detail={"token": str(token)[:64]})
            if address_id is not None and battle.voter_hash not in (None, voter):
                # A voter id other than the one that opened the battle is unverifiable (a
                # browser keeps its cookie; a bot can mint one per request): the vote counts as
                # its address, for the per-voter limit and bans alike. A browser's first battle,
                # opened before it had a cookie, counts as its address and is no such case.
                salt = self.settings.voter_salt.get_secret_value()
                if battle.voter_hash != self.voter_hash(address_voter_id(salt, address_id)):
                    voter = self.address_hash(address_id)
            slots = (
                s.connection()
                .execute(
                    select(BattleSlot.model_id, Model.name)
                    .join(Model, Model.id == BattleSlot.model_id)
                    .where(BattleSlot.battle_id == battle.id)
                    .order_by(BattleSlot.position)
                )
                .all()
            )
            names = {int(mid): str(name) for mid, name in slots}
            parsed = parse_vote(mode, ranks, winner, len(slots))
            arena = self._lock_arena(s, battle.arena_id)
            now = self._now()
            existing = s.scalar(select(VoteRow).where(VoteRow.battle_id == battle.id))
            if existing is not None:
                if existing.mode == parsed.mode and tuple(existing.ranks) == parsed.ranks:
                    return convert.vote_result(
                        s, existing, battle, arena, replayed=True, names=names
                    )
                raise Conflict("this battle already has a different vote")
            if now >= battle.expires_at:
                raise Expired("this battle has expired; start a new one")
            banned, recent, from_address = self._abuse_state(s, voter, address, now)
            if banned:
                raise Forbidden("this voter may not vote")
            self._bot_guard(battle, now)
            self._check_recent(recent, from_address)
            vote = record_vote(
                s,
                arena=arena,
                battle=battle,
                model_ids=[int(mid) for mid, _ in slots],
                parsed=parsed,
                rating_model=model_for_arena(arena),
                voter_hash=voter,
                client=client,
                now=now,
                address_hash=address,
            )
            return convert.vote_result(s, vote, battle, arena, names=names)

    def import_vote(
        self,
        *,
        arena: str,
        prompt_key: str,
        models: Sequence[str],
        ranks: Sequence[object],
        source: str,
        voter: str = "import",
    ) -> VoteResult | None:
        """Record a ranking from an imported dataset as a counted vote on an ``imported`` battle.

        Every model must already have an output for the prompt. Imports bypass the bot guard
        and rate limit. Returns None (and stores nothing) when this prompt already holds an
        imported vote, so importing the same dataset twice adds no duplicates.
        """
        now = self._now()
        with self.db.write() as s:
            a = self._arena(s, arena)
            prompt = s.scalar(
                select(Prompt).where(
                    Prompt.arena_id == a.id, Prompt.key == text_key(prompt_key, "prompt")
                )
            )
            if prompt is None:
                raise NotFound(f"no prompt {prompt_key!r} in arena {arena!r}")
            if len(models) != a.k:
                raise InvalidInput(f"arena {arena!r} has K={a.k}, the import names {len(models)}")
            parsed = parse_vote("rank", list(ranks), None, a.k)
            ids, outs = [], []
            for name in models:
                m = self._model(s, a, name)
                out = s.scalar(
                    select(Output).where(Output.model_id == m.id, Output.prompt_id == prompt.id)
                )
                if out is None:
                    raise NotFound(f"model {name!r} has no output for prompt {prompt_key!r}")
                ids.append(m.id)
                outs.append(out.id)
            if len(set(ids)) != len(ids):
                raise InvalidInput(f"the same model appears twice in {source}")
            arena_row = self._lock_arena(s, a.id)
            already = s.scalar(
                select(Battle.id).where(Battle.prompt_id == prompt.id, Battle.state == "imported")
            )
            if already is not None:
                return None
            battle = Battle(
                arena_id=a.id,
                prompt_id=prompt.id,
                token=secrets.token_urlsafe(24),
                state="imported",
                voter_hash=None,
                created_at=now,
                expires_at=now,
            )
            s.add(battle)
            s.flush()
            s.add_all(
                BattleSlot(battle_id=battle.id, position=i, model_id=m, output_id=o)
                for i, (m, o) in enumerate(zip(ids, outs, strict=True))
            )
            vote = record_vote(
                s,
                arena=arena_row,
                battle=battle,
                model_ids=ids,
                parsed=parsed,
                rating_model=model_for_arena(arena_row),
                voter_hash=self.voter_hash(voter),
                client={"import": str(source)[:300]},
                now=now,
            )
            return convert.vote_result(s, vote, battle, arena_row)

    def _bot_guard(self, battle: Battle, now: datetime) -> None:
        min_s = self.settings.min_vote_seconds
        elapsed = (now - battle.created_at).total_seconds()
        if min_s > 0 and elapsed < min_s:
            raise RateLimited(
                f"vote cast {elapsed:.1f} s after the battle was shown; take at least {min_s:g} s",
                detail={"retry_after": round(min_s - elapsed, 3)},
            )

    def address_hash(self, address_id: str) -> str:
        """The salted hash stored for a client address (kept apart from voter ids)."""
        return hash_voter(self.settings.voter_salt.get_secret_value(), "address:" + str(address_id))

    def _abuse_state(
        self, s: Session, voter: str, address: str | None, now: datetime
    ) -> tuple[bool, int, int]:
        """Banned?, and votes in the last 60 s by this voter and by this address (one query)."""
        since = now - timedelta(seconds=60)
        recent: Any = literal(0)
        if self.settings.rate_limit_per_minute > 0:
            recent = (
                select(func.count())
                .select_from(VoteRow)
                .where(VoteRow.voter_hash == voter, VoteRow.created_at > since)
                .scalar_subquery()
            )
        by_address: Any = literal(0)
        if address is not None and self.settings.rate_limit_per_address_per_minute > 0:
            by_address = (
                select(func.count())
                .select_from(VoteRow)
                .where(VoteRow.address_hash == address, VoteRow.created_at > since)
                .scalar_subquery()
            )
        row = (
            s.connection()
            .execute(select(exists().where(BannedVoter.voter_hash == voter), recent, by_address))
            .one()
        )
        return bool(row[0]), int(row[1] or 0), int(row[2] or 0)

    def _check_recent(self, recent: int, from_address: int = 0) -> None:
        limit = self.settings.rate_limit_per_minute
        if limit > 0 and recent >= limit:
            raise RateLimited(
                f"too many votes: the limit is {limit} a minute", detail={"retry_after": 60}
            )
        per_address = self.settings.rate_limit_per_address_per_minute
        if per_address > 0 and from_address >= per_address:
            raise RateLimited(
                f"too many votes from this address: the limit is {per_address} a minute",
                detail={"retry_after": 60},
            )

    def check_rate_limit(self, *, voter_id: str, address_id: str | None = None) -> None:
        """Raise RateLimited when the voter (or the address) is over its per-minute limit."""
        address = self.address_hash(address_id) if address_id is not None else None
        with self.db.read() as s:
            _, recent, from_address = self._abuse_state(
                s, self.voter_hash(voter_id), address, self._now()
            )
        self._check_recent(recent, from_address)

    def get_vote_result(self, *, token: str) -> VoteResult:
        """The reveal of an already voted battle (NotFound when not voted)."""
        with self.db.read() as s:
            battle = s.scalar(select(Battle).where(Battle.token == token_key(token)))
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
