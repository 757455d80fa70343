"""The one storage API for the web, CLI, judge and reward layers (keyword-only arguments).

Build it with :meth:`Store.open`; every method returns frozen values from
:mod:`karena.store.types` and raises :mod:`karena.errors` exceptions on bad input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Literal

from karena.settings import Settings
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

Clock = Callable[[], datetime]


class Store:
    """Arenas, models, prompts, outputs, battles, votes and ratings on SQLite or PostgreSQL."""

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True, clock: Clock | None = None) -> Store:
        """Connect to ``settings.resolved_database_url()`` and (by default) migrate to the latest.

        ``clock`` returns the current UTC time; tests pass a fake one to move time without sleeping.
        """
        raise NotImplementedError

    def close(self) -> None:
        """Dispose of the connection pool."""
        raise NotImplementedError

    # -- arenas, models, prompts, outputs (admin) ----------------------------------------------

    def create_arena(
        self,
        *,
        slug: str,
        name: str | None = None,
        modality: str = "image",
        k: int | None = None,
        rating_model: str | None = None,
        matchmaker: str | None = None,
        matchmaker_params: Mapping[str, object] | None = None,
        exist_ok: bool = False,
    ) -> ArenaInfo:
        """Create an arena; K, rating model and matchmaker default to the settings."""
        raise NotImplementedError

    def get_arena(self, *, slug: str) -> ArenaInfo:
        """Look up an arena by slug (NotFound)."""
        raise NotImplementedError

    def list_arenas(self) -> tuple[ArenaInfo, ...]:
        """All arenas, by slug."""
        raise NotImplementedError

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
        raise NotImplementedError

    def set_model_enabled(self, *, arena: str, name: str, enabled: bool) -> ModelInfo:
        """Enable or disable a model; disabled models are never matched."""
        raise NotImplementedError

    def list_models(self, *, arena: str) -> tuple[ModelInfo, ...]:
        """All models of an arena, by name."""
        raise NotImplementedError

    def get_model(self, *, arena: str, name: str) -> ModelInfo:
        """One model by name (NotFound)."""
        raise NotImplementedError

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
        raise NotImplementedError

    def list_prompts(self, *, arena: str, offset: int = 0, limit: int = 100) -> Page[PromptInfo]:
        """A page of an arena's prompts, by id."""
        raise NotImplementedError

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
        raise NotImplementedError

    def get_output(self, *, model_id: int, prompt_id: int) -> OutputInfo | None:
        """The cached output of (model, prompt), or None."""
        raise NotImplementedError

    # -- media -------------------------------------------------------------------------------

    def battle_media(self, *, token: str, position: int) -> MediaBlob:
        """Bytes and type of one battle slot, looked up by the opaque token (NotFound)."""
        raise NotImplementedError

    def output_media(self, *, output_id: int) -> MediaBlob:
        """Bytes and type of an output by id (for model pages after the reveal, and the judge)."""
        raise NotImplementedError

    # -- battles and votes -------------------------------------------------------------------

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
        raise NotImplementedError

    def get_battle(self, *, token: str) -> BattleView:
        """A battle as the voter sees it (NotFound)."""
        raise NotImplementedError

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
        raise NotImplementedError

    def get_vote_result(self, *, token: str) -> VoteResult:
        """The reveal of an already voted battle (NotFound when not voted)."""
        raise NotImplementedError

    def voter_hash(self, voter_id: str) -> str:
        """The salted hash stored for a raw voter id (cookie or address)."""
        raise NotImplementedError

    def check_rate_limit(self, *, voter_id: str) -> None:
        """Raise RateLimited when the voter cast ``rate_limit_per_minute`` votes in 60 s."""
        raise NotImplementedError

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
        raise NotImplementedError

    def unban_voter(self, *, voter_id: str | None = None, voter_hash: str | None = None) -> None:
        """Lift a ban (past discounted votes stay discounted)."""
        raise NotImplementedError

    # -- ratings -----------------------------------------------------------------------------

    def leaderboard(
        self, *, arena: str, include_disabled: bool = True
    ) -> tuple[LeaderboardRow, ...]:
        """Leaderboard rows sorted by μ − 3σ, best first."""
        raise NotImplementedError

    def recompute(self, *, arena: str) -> int:
        """Rebuild ratings and pair counts from the counted vote log; returns votes replayed."""
        raise NotImplementedError

    def model_page(self, *, arena: str, name: str, offset: int = 0, limit: int = 50) -> ModelPage:
        """A model's battles (newest first) and head-to-head records."""
        raise NotImplementedError

    # -- reads for export, the judge and rewards ---------------------------------------------

    def list_votes(self, *, arena: str, offset: int = 0, limit: int = 100) -> Page[StoredVote]:
        """A page of the vote log in sequence order."""
        raise NotImplementedError

    def iter_votes(self, *, arena: str, counted_only: bool = False) -> Iterator[StoredVote]:
        """Every vote of an arena in sequence order, streamed in batches."""
        raise NotImplementedError

    def export_votes(
        self, *, arena: str, path: Path, fmt: Literal["jsonl", "csv", "parquet"]
    ) -> int:
        """Write the vote log to ``path`` (JSONL, CSV or flat Parquet); returns rows written."""
        raise NotImplementedError

    def reference_battles(
        self, *, arena: str, limit: int | None = None
    ) -> tuple[ReferenceBattle, ...]:
        """Counted voted battles with their K outputs and human ranks (K-Sort Eval instances)."""
        raise NotImplementedError

    def pair_votes(self, *, arena: str) -> tuple[PairVote, ...]:
        """Counted votes decomposed into pairwise facts, in sequence order (ArenaPO's input)."""
        raise NotImplementedError
