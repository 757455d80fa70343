"""The immutable values :class:`~karena.store.api.Store` returns; no ORM object leaves the store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

if TYPE_CHECKING:
    from karena.rating.leaderboard import LeaderboardRow
    from karena.rating.variants import HeadToHead

__all__ = [
    "ArenaInfo",
    "BatchBoardView",
    "BatchRefresh",
    "BattleMedia",
    "BattleView",
    "ClaimedJob",
    "ContestantResult",
    "FamilyRecord",
    "JobCounts",
    "JobState",
    "MediaBlob",
    "ModelBattle",
    "ModelFamily",
    "ModelInfo",
    "ModelPage",
    "OpponentStats",
    "OutputInfo",
    "Page",
    "PairVote",
    "PendingBattleInfo",
    "PromptInfo",
    "Recomputed",
    "ReferenceBattle",
    "StoredVote",
    "VoteResult",
    "VoterReliability",
    "VoterReport",
]

#: Display labels of battle positions.
POSITION_LABELS = "ABCDEFGH"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ArenaInfo:
    """One arena: a modality or category with its own K, rating model and matchmaker."""

    id: int
    slug: str
    name: str
    modality: str
    k: int
    rating_model: str
    matchmaker: str
    matchmaker_params: Mapping[str, object]
    vote_count: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A contestant model of one arena."""

    id: int
    arena_id: int
    name: str
    organization: str
    link: str
    enabled: bool
    generator: Mapping[str, object] | None = None
    parent: str | None = None  # the name of the model this one is a variant of


@dataclass(frozen=True, slots=True)
class PromptInfo:
    """A prompt of one arena; ``key`` is its external id (gallery folder name, manifest id)."""

    id: int
    arena_id: int
    key: str
    text: str
    source: str
    category: str


@dataclass(frozen=True, slots=True)
class OutputInfo:
    """One model's stored output for one prompt."""

    id: int
    model_id: int
    prompt_id: int
    sha256: str
    content_type: str
    kind: str  # "image" | "video" | "text"
    byte_size: int
    metadata: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class MediaBlob:
    """Bytes to serve, with their type. ``etag`` is derived from the content, never from a model."""

    data: bytes
    content_type: str
    etag: str
    path: Path


@dataclass(frozen=True, slots=True)
class BattleMedia:
    """One anonymous slot of a battle as the voter sees it (no model, no output id)."""

    position: int
    label: str
    content_type: str
    kind: str


@dataclass(frozen=True, slots=True)
class BattleView:
    """A battle as shown before the vote: the token, the prompt and K anonymous slots."""

    token: str
    arena_slug: str
    k: int
    prompt_text: str
    created_at: datetime
    expires_at: datetime
    state: str  # "open" | "voted" | "imported"
    slots: tuple[BattleMedia, ...]


@dataclass(frozen=True, slots=True)
class ContestantResult:
    """One revealed contestant after a vote, with its rating before and after."""

    position: int
    label: str
    model_id: int
    model_name: str
    rank: int
    mu_before: float
    sigma_before: float
    mu_after: float
    sigma_after: float

    @property
    def score_before(self) -> float:
        """Conservative score μ − 3σ before the vote."""
        return self.mu_before - 3.0 * self.sigma_before

    @property
    def score_after(self) -> float:
        """Conservative score μ − 3σ after the vote."""
        return self.mu_after - 3.0 * self.sigma_after

    @property
    def delta_mu(self) -> float:
        return self.mu_after - self.mu_before

    @property
    def delta_score(self) -> float:
        return self.score_after - self.score_before


@dataclass(frozen=True, slots=True)
class VoteResult:
    """The reveal a vote returns; ``replayed`` is True for an idempotent resubmission.

    ``counted`` is False only for votes that were stored without touching ratings (imported
    uncounted votes, or votes later discounted by a ban); the rating fields then show no change.
    """

    token: str
    arena_slug: str
    seq: int
    mode: str
    ranks: tuple[int, ...]
    counted: bool
    created_at: datetime
    contestants: tuple[ContestantResult, ...]
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class ModelBattle:
    """One voted battle seen from a model's side."""

    seq: int
    token: str
    prompt_text: str
    created_at: datetime
    opponents: tuple[str, ...]
    rank: int
    ranks: tuple[int, ...]
    models: tuple[str, ...]
    mode: str


@dataclass(frozen=True, slots=True)
class OpponentStats:
    """Head-to-head record of a model against one opponent (pairs from counted votes)."""

    opponent_id: int
    opponent_name: str
    wins: int
    losses: int
    ties: int

    @property
    def battles(self) -> int:
        return self.wins + self.losses + self.ties

    @property
    def win_rate(self) -> float:
        """Wins / decided pairs, ties counted as half a win; NaN-free: 0.5 when no battles."""
        n = self.battles
        return (self.wins + 0.5 * self.ties) / n if n > 0 else 0.5


@dataclass(frozen=True, slots=True)
class ModelPage:
    """Everything the model page shows."""

    model: ModelInfo
    arena_slug: str
    row: LeaderboardRow | None
    battles: tuple[ModelBattle, ...]
    battles_total: int
    opponents: tuple[OpponentStats, ...]
    family: ModelFamily | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing."""

    items: tuple[T, ...]
    total: int
    offset: int
    limit: int


@dataclass(frozen=True, slots=True)
class StoredVote:
    """A vote from the log, flattened for export (one row per vote)."""

    seq: int
    arena_slug: str
    token: str
    prompt_id: int
    prompt_key: str
    prompt_text: str
    mode: str
    ranks: tuple[int, ...]
    model_ids: tuple[int, ...]
    models: tuple[str, ...]
    output_ids: tuple[int, ...]
    output_sha256: tuple[str, ...]
    voter_hash: str
    counted: bool
    battle_created_at: datetime
    created_at: datetime
    client: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReferenceBattle:
    """A voted battle for K-Sort Eval: prompt, K outputs, the human ranking, the models' names.

    ``ranks[i]`` is the rank (1 = best) of position ``i``; ``media_paths[i]`` is a readable file.
    """

    seq: int
    prompt_text: str
    models: tuple[str, ...]
    model_ids: tuple[int, ...]
    output_ids: tuple[int, ...]
    content_types: tuple[str, ...]
    media_paths: tuple[Path, ...]
    ranks: tuple[int, ...]
    mode: str


@dataclass(frozen=True, slots=True)
class PairVote:
    """A pairwise fact of a counted vote (ArenaPO); ``winner`` is ``"a"``, ``"b"`` or ``"tie"``."""

    seq: int
    prompt_id: int
    prompt_text: str
    model_a: str
    model_b: str
    output_a: int
    output_b: int
    winner: Literal["a", "b", "tie"]
    mode: str


@dataclass(frozen=True, slots=True)
class FamilyRecord:
    """A variant's head-to-head record against its parent, with interval and verdict."""

    variant: str
    parent: str
    record: HeadToHead


@dataclass(frozen=True, slots=True)
class ModelFamily:
    """A model's family: its record against its parent, and its variants' records against it."""

    parent: FamilyRecord | None
    variants: tuple[FamilyRecord, ...]


@dataclass(frozen=True, slots=True)
class VoterReliability:
    """One voter as :func:`karena.rating.voters.fit_voter_reliability` sees them.

    ``suspect`` names the model the voter most likely pushes (``direction`` "up" or "down")
    with probability ``suspect_probability``; None when no model was ever shown to them.
    """

    voter_hash: str
    votes: int
    reliability: float
    blind: float
    suspect: str | None
    direction: Literal["up", "down"] | None
    suspect_probability: float
    banned: bool


@dataclass(frozen=True, slots=True)
class VoterReport:
    """An arena's voters, least reliable first, and the fit they come from."""

    arena_slug: str
    voters_total: int
    votes: int
    mix: tuple[float, float, float]  # the shares of honest, blind and partisan voters
    iterations: int
    converged: bool
    voters: tuple[VoterReliability, ...]


@dataclass(frozen=True, slots=True)
class BatchBoardView:
    """A stored batch board (docs/ratings.md, "Two boards"): its rows and how fresh it is.

    ``category`` is ``""`` for the arena's overall board. ``fitted_at`` is None (and ``rows``
    empty) until the first fit; ``votes`` are the counted votes it covers, ``votes_since`` the
    votes cast in the arena (any category, counted or not) since they were read.
    ``fitting`` says a worker is refitting the arena now.
    ``categories`` lists every prompt category of the arena (with or without a board yet).
    """

    arena_slug: str
    category: str
    rows: tuple[LeaderboardRow, ...]
    votes: int
    votes_since: int
    rounds: int
    weighted: bool
    fitted_at: datetime | None
    fit_seconds: float
    fitting: bool
    categories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BatchRefresh:
    """What one refresh of an arena's batch boards did.

    ``fitted`` is False when nothing was fitted: ``reason`` says why ("not due", "another worker
    is fitting it"). ``boards`` counts the boards written (the overall one and each category's).
    """

    arena_slug: str
    fitted: bool
    reason: str
    votes: int = 0
    boards: int = 0
    categories: tuple[str, ...] = ()
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class OnlinePoint:
    """A model's online rating after the arena's counted vote number ``vote`` (1-based)."""

    vote: int
    time: datetime
    mu: float
    sigma: float
    votes: int


@dataclass(frozen=True, slots=True)
class BatchPoint:
    """A model on the batch board fitted to the arena's first ``vote`` counted votes."""

    vote: int
    time: datetime
    mu: float
    ci_low: float
    ci_high: float
    rank: int


@dataclass(frozen=True, slots=True)
class ModelHistory:
    """A model's rating over time: the online series, the batch series, and what is pending.

    ``online`` samples the state after the model's own votes (at most ``points`` of them, the
    last always among them, which equals the live rating); ``batch`` holds the batch board at
    multiples of ``batch_step`` votes that are fitted so far, ``batch_pending`` more being fitted.
    """

    arena_slug: str
    model: str
    rating_model: str
    arena_votes: int
    online: tuple[OnlinePoint, ...]
    batch: tuple[BatchPoint, ...]
    batch_step: int
    batch_pending: int


@dataclass(frozen=True, slots=True)
class Recomputed:
    """What ``karena recompute`` did to one arena: the votes replayed, and the largest change
    ``|Δμ| + |Δσ|`` of any model, the live ratings and the replay both read under the arena
    lock (so votes cast meanwhile are in both, or in neither)."""

    votes: int
    largest_change: float


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A generation job a worker holds: which output to make, and the attempt this is."""

    id: int
    arena_slug: str
    model_name: str
    generator: Mapping[str, Any] | None
    prompt_key: str
    prompt_text: str
    attempt: int
    max_attempts: int


@dataclass(frozen=True, slots=True)
class JobState:
    """The state of one model's job for a pending battle (queued/running/done/failed)."""

    model_id: int
    state: str
    error: str


@dataclass(frozen=True, slots=True)
class PendingBattleInfo:
    """A typed prompt's battle waiting for its outputs; state generating | open | failed."""

    token: str
    arena_slug: str
    prompt_id: int
    prompt_text: str
    model_ids: tuple[int, ...]
    voter_hash: str | None
    state: str
    message: str
    next_token: str | None
    created_at: datetime
    jobs: tuple[JobState, ...]


@dataclass(frozen=True, slots=True)
class JobCounts:
    """Generation jobs by state."""

    STATES: ClassVar[tuple[str, ...]] = ("queued", "running", "done", "failed")
    queued: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0
