"""Voting: vote submission, imports, abuse controls and bans, and reading the vote log.

A submission is checked here holding no lock (one statement reads the battle, its slots and
the voter's abuse state); the per-worker :class:`~karena.store.vote_writer.VoteWriter` then
records it, in a batch with its neighbours, under the arena lock.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from karena.errors import Conflict, Expired, Forbidden, InvalidInput, NotFound, RateLimited
from karena.rating.types import parse_outcome
from karena.store import convert, reads
from karena.store.context import StoreContext
from karena.store.lookups import find_arena, find_model, lock_arena, page_bounds
from karena.store.models import (
    Arena,
    BannedAddress,
    BannedVoter,
    Battle,
    BattleSlot,
    Output,
    Prompt,
    VoteRow,
)
from karena.store.rate_limits import vote_allowances
from karena.store.ratings import rebuild
from karena.store.recording import NewVote, record_votes
from karena.store.text import text_key, token_key
from karena.store.types import Page, StoredVote, VoteResult
from karena.store.vote_queries import abuse_columns, battle_for_vote_statement
from karena.store.vote_writer import ClaimLost
from karena.store.votes import address_voter_id

#: The votes table as a Core object: the hot path runs on a bare connection, not the ORM.
VOTES: Any = VoteRow.__table__


class Voting:
    """Votes, abuse controls, bans and the vote log: ``store.voting``."""

    def __init__(self, ctx: StoreContext) -> None:
        self.ctx = ctx

    def voter_hash(self, voter_id: str) -> str:
        """The salted hash stored for a raw voter id (cookie or address)."""
        return self.ctx.voter_hash(voter_id)

    def address_hash(self, address_id: str) -> str:
        """The salted hash stored for a client address (kept apart from voter ids)."""
        return self.ctx.address_hash(address_id)

    # -- votes -------------------------------------------------------------------------------

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
        except (IntegrityError, ClaimLost):
            # Another request voted this battle between our read and our claim: a retry sees
            # that vote and replays it or reports the conflict.
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
        voter = self.ctx.voter_hash(voter_id)
        address = self.ctx.address_hash(address_id) if address_id is not None else None
        key = token_key(token)
        # Everything that can refuse the vote is checked here, holding no lock; the vote
        # writer then claims the battle and records the vote under the arena lock.
        now = self.ctx.now()
        with self.ctx.db.read_conn() as conn:
            # One statement: the battle, its slots with model names, its arena, any vote, and
            # whether the voter the cookie names (or the address) is banned.
            slots = conn.execute(
                battle_for_vote_statement(address is not None),
                {"token": key, "voter": voter, "address": address},
            ).all()
            if not slots:
                raise NotFound("unknown battle", detail={"token": str(token)[:64]})
            battle = slots[0]
            banned = bool(battle.banned)
            if address_id is not None and battle.voter_hash not in (None, voter):
                # A voter id other than the one that opened the battle is unverifiable (a
                # browser keeps its cookie; a bot can mint one per request): the vote counts as
                # its address, for the per-voter limit and bans alike. A browser's first battle,
                # opened before it had a cookie, counts as its address and is no such case.
                salt = self.ctx.settings.voter_salt.get_secret_value()
                if battle.voter_hash != self.ctx.voter_hash(address_voter_id(salt, address_id)):
                    voter = self.ctx.address_hash(address_id)
                    banned = self._banned(conn, voter, address)
            names = {int(row.model_id): str(row.model_name) for row in slots}
            outcome = parse_outcome(mode, k=len(slots), ranks=ranks, winner=winner)
            if battle.vote_id is not None:
                row = conn.execute(select(VOTES).where(VOTES.c.id == battle.vote_id)).one()
                existing = VoteRow(**row._asdict())
                if existing.mode != outcome.kind or tuple(existing.ranks) != outcome.ranks:
                    raise Conflict("this battle already has a different vote")
                return convert.vote_result(
                    existing, token=key, arena_slug=battle.arena_slug, names=names, replayed=True
                )
            if now >= battle.expires_at:
                raise Expired("this battle has expired; start a new one")
            if banned:
                raise Forbidden("this voter may not vote")
            self._bot_guard(battle.created_at, now)
        # The rate limits are taken where the vote is recorded, in its transaction: a vote over
        # a limit is refused there (429), and an accepted one counts exactly once.
        vote = self.ctx.vote_writer.submit(
            int(battle.arena_id),
            NewVote(
                battle_id=int(battle.id),
                model_ids=tuple(int(row.model_id) for row in slots),
                outcome=outcome,
                voter_hash=voter,
                address_hash=address,
                client=dict(client or {}),
                limits=vote_allowances(self.ctx.settings, voter, address),
            ),
        )
        return convert.vote_result(vote, token=key, arena_slug=battle.arena_slug, names=names)

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
        now = self.ctx.now()
        with self.ctx.db.write() as s:
            a = find_arena(s, arena)
            prompt = s.scalar(
                select(Prompt).where(
                    Prompt.arena_id == a.id, Prompt.key == text_key(prompt_key, "prompt")
                )
            )
            if prompt is None:
                raise NotFound(f"no prompt {prompt_key!r} in arena {arena!r}")
            if len(models) != a.k:
                raise InvalidInput(f"arena {arena!r} has K={a.k}, the import names {len(models)}")
            outcome = parse_outcome("rank", k=a.k, ranks=list(ranks))
            ids, outs = [], []
            for name in models:
                m = find_model(s, a, name)
                out = s.scalar(
                    select(Output).where(Output.model_id == m.id, Output.prompt_id == prompt.id)
                )
                if out is None:
                    raise NotFound(f"model {name!r} has no output for prompt {prompt_key!r}")
                ids.append(m.id)
                outs.append(out.id)
            if len(set(ids)) != len(ids):
                raise InvalidInput(f"the same model appears twice in {source}")
            lock_arena(s, a.id)
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
            (vote,) = record_votes(
                s.connection(),
                arena_id=a.id,
                votes=[
                    NewVote(
                        battle_id=battle.id,
                        model_ids=tuple(ids),
                        outcome=outcome,
                        voter_hash=self.ctx.voter_hash(voter),
                        client={"import": str(source)[:300]},
                    )
                ],
                clock=self.ctx.now,
            )
            return convert.vote_result(
                vote, token=battle.token, arena_slug=a.slug, names=convert.model_names(s, ids)
            )

    def _bot_guard(self, shown_at: datetime, now: datetime) -> None:
        min_s = self.ctx.settings.min_vote_seconds
        elapsed = (now - shown_at).total_seconds()
        if min_s > 0 and elapsed < min_s:
            raise RateLimited(
                f"vote cast {elapsed:.1f} s after the battle was shown; take at least {min_s:g} s",
                detail={"retry_after": round(min_s - elapsed, 3)},
            )

    @staticmethod
    def _banned(conn: Connection, voter: str, address: str | None) -> bool:
        """Whether the voter, or the address (when known), is banned."""
        return bool(
            conn.execute(
                select(*abuse_columns(address is not None)),
                {"voter": voter, "address": address},
            ).scalar_one()
        )

    def check_rate_limit(self, *, voter_id: str, address_id: str | None = None) -> None:
        """Raise RateLimited when the voter (or the address) is at its per-minute vote limit.

        A read that takes nothing: the limits are taken when a vote is recorded.
        """
        address = self.ctx.address_hash(address_id) if address_id is not None else None
        allowances = vote_allowances(self.ctx.settings, self.ctx.voter_hash(voter_id), address)
        with self.ctx.db.read_conn() as conn:
            refused = self.ctx.rate_counters.peek(conn, allowances, self.ctx.now())
        if refused is not None:
            raise refused

    def get_vote_result(self, *, token: str) -> VoteResult:
        """The reveal of an already voted battle (NotFound when not voted)."""
        with self.ctx.db.read() as s:
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
            return convert.vote_result(
                vote,
                token=battle.token,
                arena_slug=arena.slug,
                names=convert.model_names(s, vote.model_ids),
                replayed=True,
            )

    def ban_voter(
        self,
        *,
        voter_id: str | None = None,
        voter_hash: str | None = None,
        reason: str = "",
        discount_past: bool = True,
        ban_addresses: bool = True,
    ) -> int:
        """Ban a voter; with ``discount_past`` their earlier votes stop counting (ratings rebuilt).

        With ``ban_addresses`` the ban also covers every address the voter voted from (their
        keyed hashes, kept in ``banned_addresses``): a fresh cookie from there is refused too,
        as is anyone else voting from that address. Returns the number of votes discounted.
        """
        vh = self._resolve_voter(voter_id, voter_hash)
        now = self.ctx.now()
        with self.ctx.db.write() as s:
            if s.get(BannedVoter, vh) is None:
                s.add(BannedVoter(voter_hash=vh, reason=str(reason)[:500], created_at=now))
            if ban_addresses:
                addresses = {
                    a
                    for a in s.scalars(
                        select(VoteRow.address_hash)
                        .where(VoteRow.voter_hash == vh, VoteRow.address_hash.is_not(None))
                        .distinct()
                    )
                    if a is not None
                }
                known = set(
                    s.scalars(
                        select(BannedAddress.address_hash).where(
                            BannedAddress.address_hash.in_(sorted(addresses))
                        )
                    )
                )
                s.add_all(
                    BannedAddress(address_hash=a, voter_hash=vh, created_at=now)
                    for a in sorted(addresses - known)
                )
            if not discount_past:
                return 0
            return self._set_counted(s, vh, counted=False)

    def unban_voter(
        self,
        *,
        voter_id: str | None = None,
        voter_hash: str | None = None,
        restore_past: bool = True,
    ) -> int:
        """Lift a ban; with ``restore_past`` the votes it discounted count again (ratings rebuilt).

        A ban is the only thing that stops a stored vote counting, so every uncounted vote of
        this voter is one the ban discounted. Returns the number of votes counted again.
        """
        vh = self._resolve_voter(voter_id, voter_hash)
        with self.ctx.db.write() as s:
            row = s.get(BannedVoter, vh)
            if row is None:
                raise NotFound("voter is not banned")
            s.delete(row)
            s.execute(delete(BannedAddress).where(BannedAddress.voter_hash == vh))
            return self._set_counted(s, vh, counted=True) if restore_past else 0

    def _set_counted(self, s: Session, voter: str, *, counted: bool) -> int:
        """Set ``counted`` on each vote of ``voter`` that differs; rebuild every arena touched."""
        arena_ids = sorted(
            set(
                s.scalars(
                    select(VoteRow.arena_id).where(
                        VoteRow.voter_hash == voter, VoteRow.counted.is_(not counted)
                    )
                )
            )
        )
        changed = 0
        for arena_id in arena_ids:  # ascending ids: the same lock order as everywhere
            arena = lock_arena(s, arena_id)
            for vote in s.scalars(
                select(VoteRow).where(
                    VoteRow.arena_id == arena_id,
                    VoteRow.voter_hash == voter,
                    VoteRow.counted.is_(not counted),
                )
            ):
                vote.counted = counted
                changed += 1
            s.flush()
            rebuild(s, arena=arena, now=self.ctx.now())
        return changed

    def is_banned(self, *, voter_id: str, address_id: str | None = None) -> bool:
        """Whether this raw voter id is banned, or (given) this client address is."""
        address = self.ctx.address_hash(address_id) if address_id is not None else None
        with self.ctx.db.read_conn() as conn:
            return self._banned(conn, self.ctx.voter_hash(voter_id), address)

    def _resolve_voter(self, voter_id: str | None, voter_hash: str | None) -> str:
        if (voter_id is None) == (voter_hash is None):
            raise InvalidInput("give exactly one of voter_id and voter_hash")
        if voter_hash is not None:
            if len(voter_hash) != 64 or any(c not in "0123456789abcdef" for c in voter_hash):
                raise InvalidInput("voter_hash must be 64 lower-case hex digits")
            return voter_hash
        assert voter_id is not None
        return self.ctx.voter_hash(voter_id)

    # -- the vote log (export, the judge, rewards) --------------------------------------------

    def list_votes(self, *, arena: str, offset: int = 0, limit: int = 100) -> Page[StoredVote]:
        """A page of the vote log in sequence order."""
        offset, limit = page_bounds(offset, limit)
        with self.ctx.db.read() as s:
            a = find_arena(s, arena)
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
        return reads.iter_votes(self.ctx.db, arena, counted_only=counted_only)

    def export_votes(
        self,
        *,
        arena: str,
        path: Path,
        fmt: Literal["jsonl", "csv", "parquet"],
        category: str | None = None,
        public: bool = False,
    ) -> int:
        """Write the vote log to ``path`` (JSONL, CSV or flat Parquet); returns rows written.

        ``category``: only the votes on prompts of that category (NotFound if the arena has no
        prompt in it). ``public`` leaves out the outputs' content hashes (``output_sha256``), as
        the public web export does; the operator's export keeps them (ArenaPO reads them).
        """
        from karena.store.export import COLUMNS, PUBLIC_COLUMNS, write_votes

        with self.ctx.db.read() as s:
            a = find_arena(s, arena)  # NotFound before a file is written
            if category is not None and not s.scalar(
                select(Prompt.id).where(Prompt.arena_id == a.id, Prompt.category == category)
            ):
                raise NotFound(f"arena {a.slug!r} has no prompts in category {category!r}")
        votes = reads.iter_votes(self.ctx.db, arena, category=category)
        columns = PUBLIC_COLUMNS if public else COLUMNS
        return write_votes(votes, Path(path), fmt, columns=columns)
