"""SQLAlchemy 2.0 ORM tables; the Alembic migrations in ``store/migrations`` create these."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "Arena",
    "BannedAddress",
    "BannedVoter",
    "Base",
    "BatchBoardRow",
    "BatchHistoryRow",
    "Battle",
    "BattleSlot",
    "GenerationJob",
    "Model",
    "Output",
    "PairCount",
    "PendingBattle",
    "Prompt",
    "RateCounter",
    "RatingRow",
    "RatingSnapshot",
    "UTCDateTime",
    "VoteRow",
]


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC on every backend and hands back timezone-aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


class Base(DeclarativeBase):
    """Declarative base of every karena table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, datetime: UTCDateTime}


class Arena(Base):
    """One modality or category with its own K, rating model and matchmaker."""

    __tablename__ = "arenas"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    modality: Mapped[str] = mapped_column(String(16))
    k: Mapped[int] = mapped_column(Integer)
    rating_model: Mapped[str] = mapped_column(String(64))
    rating_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    matchmaker: Mapped[str] = mapped_column(String(64))
    matchmaker_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The last vote sequence number handed out; bumped under this row's lock.
    vote_seq: Mapped[int] = mapped_column(Integer, default=0)
    # Bumped with every change to this arena's models, prompts or outputs (revision 0003), so
    # workers may cache the catalog and check one integer per battle.
    catalog_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Model(Base):
    """A contestant of one arena."""

    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("arena_id", "name", name="uq_models_arena_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    arena_id: Mapped[int] = mapped_column(ForeignKey("arenas.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    organization: Mapped[str] = mapped_column(String(200), default="")
    link: Mapped[str] = mapped_column(String(500), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    generator: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The model this one is a variant of (same arena; revision 0006): variant families.
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("models.id", ondelete="SET NULL", name="fk_models_parent_id_models"),
        nullable=True,
        index=True,
    )


class Prompt(Base):
    """A prompt of one arena; ``key`` is its stable external id."""

    __tablename__ = "prompts"
    __table_args__ = (UniqueConstraint("arena_id", "key", name="uq_prompts_arena_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    arena_id: Mapped[int] = mapped_column(ForeignKey("arenas.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(64), default="")
    category: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Output(Base):
    """One model's output for one prompt; the bytes live in the media store under ``sha256``."""

    __tablename__ = "outputs"
    __table_args__ = (
        UniqueConstraint("model_id", "prompt_id", name="uq_outputs_model_prompt"),
        Index("ix_outputs_prompt_model", "prompt_id", "model_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    byte_size: Mapped[int] = mapped_column(Integer)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Battle(Base):
    """K outputs shown together under one opaque token."""

    __tablename__ = "battles"
    __table_args__ = (Index("ix_battles_arena_state_expires", "arena_id", "state", "expires_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    arena_id: Mapped[int] = mapped_column(ForeignKey("arenas.id", ondelete="CASCADE"))
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16))  # open | voted | imported
    voter_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BattleSlot(Base):
    """Position ``position`` (0 = A) of a battle: which model and which output."""

    __tablename__ = "battle_slots"
    battle_id: Mapped[int] = mapped_column(
        ForeignKey("battles.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    output_id: Mapped[int] = mapped_column(ForeignKey("outputs.id", ondelete="CASCADE"))


class VoteRow(Base):
    """An append-only vote. ``seq`` is the arena-wide order in which ratings consumed it."""

    __tablename__ = "votes"
    __table_args__ = (
        UniqueConstraint("arena_id", "seq", name="uq_votes_arena_seq"),
        Index("ix_votes_voter_created", "voter_hash", "created_at"),
        Index("ix_votes_address_created", "address_hash", "created_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    arena_id: Mapped[int] = mapped_column(ForeignKey("arenas.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    battle_id: Mapped[int] = mapped_column(
        ForeignKey("battles.id", ondelete="CASCADE"), unique=True
    )
    mode: Mapped[str] = mapped_column(String(16))
    ranks: Mapped[list[int]] = mapped_column(JSON)
    # Model ids in display order, copied from the battle so replay needs no join.
    model_ids: Mapped[list[int]] = mapped_column(JSON)
    counted: Mapped[bool] = mapped_column(Boolean, default=True)
    voter_hash: Mapped[str] = mapped_column(String(64))
    # Salted hash of the client address, for the per-address rate limit (revision 0002).
    address_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    client: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # [[mu_before, sigma_before, mu_after, sigma_after], ...] per position: the reveal.
    reveal: Mapped[list[list[float]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RatingRow(Base):
    """The current rating of one model in one arena."""

    __tablename__ = "ratings"
    arena_id: Mapped[int] = mapped_column(
        ForeignKey("arenas.id", ondelete="CASCADE"), primary_key=True
    )
    model_id: Mapped[int] = mapped_column(
        ForeignKey("models.id", ondelete="CASCADE"), primary_key=True
    )
    mu: Mapped[float] = mapped_column(Double)
    sigma: Mapped[float] = mapped_column(Double)
    votes: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PairCount(Base):
    """n_iq: how often two models met in a counted vote (``model_a < model_b``)."""

    __tablename__ = "pair_counts"
    arena_id: Mapped[int] = mapped_column(
        ForeignKey("arenas.id", ondelete="CASCADE"), primary_key=True
    )
    model_a: Mapped[int] = mapped_column(
        ForeignKey("models.id", ondelete="CASCADE"), primary_key=True
    )
    model_b: Mapped[int] = mapped_column(
        ForeignKey("models.id", ondelete="CASCADE"), primary_key=True
    )
    n: Mapped[int] = mapped_column(Integer, default=0)


class JudgePlacementRow(Base):
    """A judge's placement of a model on an arena's board (``karena eval --place``).

    Kept apart from votes and ratings: nothing here is replayed, and the leaderboard read joins
    it in (rating.leaderboard.build_leaderboard). One placement per model; placing again
    replaces it. ``skill_quantiles`` are 99 quantiles of the judge's posterior over the skill.
    """

    __tablename__ = "judge_placements"
    arena_id: Mapped[int] = mapped_column(
        ForeignKey("arenas.id", ondelete="CASCADE"), primary_key=True
    )
    model_id: Mapped[int] = mapped_column(
        ForeignKey("models.id", ondelete="CASCADE"), primary_key=True
    )
    mu: Mapped[float] = mapped_column(Double)
    sigma: Mapped[float] = mapped_column(Double)
    skill_quantiles: Mapped[list[float]] = mapped_column(JSON)
    rank: Mapped[int] = mapped_column(Integer)
    rank_low: Mapped[int] = mapped_column(Integer)
    rank_high: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(16))
    judge: Mapped[str] = mapped_column(String(200))
    runs: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BatchHistoryRow(Base):
    """One point of an arena's batch-board history: the board fitted to its first ``votes``
    counted votes (revision 0008).

    A cache: ``digest`` fingerprints that prefix of the log (its models and outcomes, and the
    fit's settings), so a point whose prefix changed (a ban, a recompute) is fitted again.
    ``board`` is ``{"<model_id>": [mu, ci_low, ci_high, rank], ...}``.
    """

    __tablename__ = "batch_history"
    arena_id: Mapped[int] = mapped_column(
        ForeignKey("arenas.id", ondelete="CASCADE"), primary_key=True
    )
    votes: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    digest: Mapped[str] = mapped_column(String(64))
    board: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RatingSnapshot(Base):
    """All ratings of an arena as they stood after vote ``seq``."""

    __tablename__ = "rating_snapshots"
    __table_args__ = (Index("ix_snapshots_arena_seq", "arena_id", "seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    arena_id: Mapped[int] = mapped_column(ForeignKey("arenas.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))
    # {"<model_id>": [mu, sigma, votes], ...}
    ratings: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BannedVoter(Base):
    """A voter hash whose votes are refused and no longer counted."""

    __tablename__ = "banned_voters"
    voter_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BatchBoardRow(Base):
    """A fitted batch board of an arena (``category`` ``""``) or of one prompt category.

    ``rows`` are the fitted leaderboard rows (``[{"model_id", "rank", "score", "mu", "sigma",
    "ci_low", "ci_high", "votes", "provisional", "rank_ub"}, ...]``, best first); ``votes`` the
    counted votes fitted; ``vote_seq`` the arena's vote sequence number when they were read.
    ``fitting_since`` (on the overall row only) is a worker's claim while it refits the arena;
    ``fitted_at`` is None until the first fit. Revision 0007.
    """

    __tablename__ = "batch_boards"
    arena_id: Mapped[int] = mapped_column(
        ForeignKey("arenas.id", ondelete="CASCADE"), primary_key=True
    )
    category: Mapped[str] = mapped_column(String(64), primary_key=True)
    rows: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    votes: Mapped[int] = mapped_column(Integer)
    vote_seq: Mapped[int] = mapped_column(Integer)
    rounds: Mapped[int] = mapped_column(Integer)
    weighted: Mapped[bool] = mapped_column(Boolean)
    seconds: Mapped[float] = mapped_column(Double)
    fitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    fitting_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class GenerationJob(Base):
    """One output to generate: (model, prompt), queued for ``karena worker`` (revision 0010).

    ``state``: queued -> running (claimed by ``worker`` until ``lease_until``; a lease that
    runs out makes the job claimable again) -> done, or back to queued after a retryable
    failure (not before ``available_at``), or failed after ``max_attempts``.
    """

    __tablename__ = "generation_jobs"
    __table_args__ = (
        UniqueConstraint("model_id", "prompt_id", name="uq_generation_jobs_model_prompt"),
        Index("ix_generation_jobs_state_available", "state", "available_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    arena_id: Mapped[int] = mapped_column(ForeignKey("arenas.id", ondelete="CASCADE"), index=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PendingBattle(Base):
    """A battle on a typed prompt that waits for its outputs (revision 0010).

    It opens, under the same ``token``, once every model has its output; ``state`` is
    generating | open | failed (``message`` says why, ``next_token`` is the battle offered
    instead).
    """

    __tablename__ = "pending_battles"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    arena_id: Mapped[int] = mapped_column(ForeignKey("arenas.id", ondelete="CASCADE"), index=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    model_ids: Mapped[list[int]] = mapped_column(JSON)
    voter_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, default="")
    next_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BannedAddress(Base):
    """A client address (its keyed hash) that a ban covers: fresh cookies from it stay banned."""

    __tablename__ = "banned_addresses"
    __table_args__ = (Index("ix_banned_addresses_voter", "voter_hash"),)
    address_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    voter_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RateCounter(Base):
    """Events of one limit key in one slot (a sixth of its window): the atomic rate limits.

    ``expires`` (Unix seconds) is when the row can no longer fall inside its window.
    """

    __tablename__ = "rate_counters"
    __table_args__ = (Index("ix_rate_counters_expires", "expires"),)
    bucket: Mapped[str] = mapped_column(String(120), primary_key=True)
    slot: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer)
    expires: Mapped[int] = mapped_column(BigInteger)
