"""Request and response bodies of the JSON API (they define the OpenAPI schema at /docs)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool

from karena.rating.leaderboard import LeaderboardRow
from karena.services.queue import BattleStatus
from karena.store.types import (
    ArenaInfo,
    BattleView,
    ContestantResult,
    ModelInfo,
    ModelPage,
    PromptInfo,
    VoteResult,
)
from karena.web.schemas_families import FamilyOut

#: Longest prompt a voter may type; longer ones are refused with 422 before any work.
MAX_PROMPT_CHARS = 500
MAX_K = 8
Slug = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
# What the store accepts as a name: no control or bidi-override characters, and no leading or
# trailing whitespace (the store strips it, so a blank name would become empty).
_BAD = r"\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069"
_NAME_PATTERN = rf"^[^\s{_BAD}](?:[^{_BAD}]*[^\s{_BAD}])?$"
# Prompts may also hold tabs and newlines inside.
_BAD_IN_TEXT = r"\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069"
_TEXT_PATTERN = rf"^[^\s{_BAD}](?:[^{_BAD_IN_TEXT}]*[^\s{_BAD}])?$"
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=_NAME_PATTERN)]
Label = Annotated[str, Field(min_length=1, max_length=64, pattern=_NAME_PATTERN)]
# No C0 or C1 control (U+0086 included), as the store's clean_name refuses (issue 13, finding 12).
Link = Annotated[str, Field(max_length=500, pattern=rf"^(https?://[^\s{_BAD}]+)?$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorOut(BaseModel):
    """Every error: a one-line message and optional structured detail."""

    error: str
    detail: Any = None


class ArenaOut(BaseModel):
    slug: str
    name: str
    modality: str
    k: int
    rating_model: str
    matchmaker: str
    vote_count: int

    @classmethod
    def of(cls, arena: ArenaInfo) -> ArenaOut:
        return cls(
            slug=arena.slug,
            name=arena.name,
            modality=arena.modality,
            k=arena.k,
            rating_model=arena.rating_model,
            matchmaker=arena.matchmaker,
            vote_count=arena.vote_count,
        )


class BattleCreate(_Body):
    """Open a battle; ``prompt`` (optional) is typed by the voter and needs live generators."""

    arena: Slug | None = None
    prompt: (
        Annotated[str, Field(min_length=1, max_length=MAX_PROMPT_CHARS, pattern=_TEXT_PATTERN)]
        | None
    ) = None


class SlotOut(BaseModel):
    """One anonymous output: its label and an opaque URL; nothing names the model."""

    position: int
    label: str
    url: str
    content_type: str
    kind: str


class BattleOut(BaseModel):
    token: str
    arena: str
    k: int
    prompt: str
    state: str
    created_at: datetime
    expires_at: datetime
    slots: list[SlotOut]

    @classmethod
    def of(cls, battle: BattleView, image_type: str | None = None) -> BattleOut:
        """``image_type``: the type image slots are served as (per-battle copies), if not stored."""
        return cls(
            token=battle.token,
            arena=battle.arena_slug,
            k=battle.k,
            prompt=battle.prompt_text,
            state=battle.state,
            created_at=battle.created_at,
            expires_at=battle.expires_at,
            slots=[
                SlotOut(
                    position=s.position,
                    label=s.label,
                    url=f"/b/{battle.token}/{s.position}",
                    content_type=image_type
                    if image_type is not None and s.kind == "image"
                    else s.content_type,
                    kind=s.kind,
                )
                for s in battle.slots
            ],
        )


def _no_bool_or_text(value: object) -> object:
    """JSON integers only: 2 and 2.0 are fine (JSON Schema agrees); true, "2" and 2.5 are not."""
    if isinstance(value, bool | str | bytes):
        raise ValueError("must be a JSON integer")
    return value


_JSON_INT = BeforeValidator(_no_bool_or_text)
Rank = Annotated[int, Field(ge=1, le=MAX_K), _JSON_INT]


class BattleStatusOut(BaseModel):
    """A typed prompt's battle while its outputs are made: poll ``status_url`` until ready."""

    token: str
    arena: str
    prompt: str
    state: Literal["generating", "ready", "failed"]
    done: int = Field(description="outputs stored so far")
    total: int = Field(description="outputs the battle needs")
    message: str = Field("", description="why it failed, for the voter")
    next_token: str | None = Field(None, description="a new battle offered after a failure")
    status_url: str
    battle: BattleOut | None = None

    @classmethod
    def of(cls, status: BattleStatus, image_type: str | None = None) -> BattleStatusOut:
        return cls(
            token=status.token,
            arena=status.arena_slug,
            prompt=status.prompt_text,
            state=status.state,  # type: ignore[arg-type]
            done=status.done,
            total=status.total,
            message=status.message,
            next_token=status.next_token,
            status_url=f"/api/battles/{status.token}/status",
            battle=BattleOut.of(status.battle, image_type) if status.battle is not None else None,
        )


class RankVote(_Body):
    """Rank mode: ``ranks[i]`` is the rank of position ``i`` (1 = best, equal ranks tie)."""

    mode: Literal["rank"]
    ranks: Annotated[list[Rank], Field(min_length=2, max_length=MAX_K)]


class BestVote(_Body):
    """Best mode: ``winner`` is the position (0..K−1) of the best output."""

    mode: Literal["best"]
    winner: Annotated[int, Field(ge=0, lt=MAX_K), _JSON_INT]


class TieVote(_Body):
    """No output is better than the others ("tie"), or all of them are bad ("all_bad")."""

    mode: Literal["tie", "all_bad"]


#: A vote body; ``mode`` decides which fields it has.
VoteIn = Annotated[RankVote | BestVote | TieVote, Field(discriminator="mode")]


class ContestantOut(BaseModel):
    position: int
    label: str
    model_id: int
    model_name: str
    rank: int
    mu_before: float
    sigma_before: float
    mu_after: float
    sigma_after: float
    delta_mu: float
    delta_score: float
    score_after: float

    @classmethod
    def of(cls, c: ContestantResult) -> ContestantOut:
        return cls(
            position=c.position,
            label=c.label,
            model_id=c.model_id,
            model_name=c.model_name,
            rank=c.rank,
            mu_before=c.mu_before,
            sigma_before=c.sigma_before,
            mu_after=c.mu_after,
            sigma_after=c.sigma_after,
            delta_mu=c.delta_mu,
            delta_score=c.delta_score,
            score_after=c.score_after,
        )


class VoteOut(BaseModel):
    """The reveal: who was who, and how each rating moved."""

    token: str
    arena: str
    seq: int
    mode: str
    ranks: list[int]
    counted: bool
    replayed: bool
    created_at: datetime
    contestants: list[ContestantOut]

    @classmethod
    def of(cls, result: VoteResult) -> VoteOut:
        return cls(
            token=result.token,
            arena=result.arena_slug,
            seq=result.seq,
            mode=result.mode,
            ranks=list(result.ranks),
            counted=result.counted,
            replayed=result.replayed,
            created_at=result.created_at,
            contestants=[ContestantOut.of(c) for c in result.contestants],
        )


class LeaderboardRowOut(BaseModel):
    rank: int
    model_id: int
    model: str
    organization: str
    link: str
    score: float
    mu: float
    sigma: float
    ci_low: float
    ci_high: float
    votes: int
    provisional: bool
    enabled: bool
    last_updated: datetime | None
    #: Chatbot Arena's Rank (UB): 1 + the models whose 95% interval lies wholly above this one's.
    rank_ub: int | None = None
    #: The row stands by a VLM judge's placement (karena eval --place), not by human votes.
    placed_by_judge: bool = False
    #: That placement's 90% rank interval on this board (null for human-rated rows).
    judge_rank_low: int | None = None
    judge_rank_high: int | None = None
    #: Places gained (+) or lost (−) over the last KARENA_MOVEMENT_VOTES counted votes (null
    #: while the arena has no more votes than that, or for a model without votes then).
    movement: int | None = None

    @classmethod
    def of(cls, row: LeaderboardRow) -> LeaderboardRowOut:
        interval = row.judge_rank_interval
        return cls(
            rank=row.rank,
            model_id=int(row.model_id),  # type: ignore[call-overload]
            model=row.model_name,
            organization=row.organization,
            link=row.link,
            score=row.score,
            mu=row.mu,
            sigma=row.sigma,
            ci_low=row.ci_low,
            ci_high=row.ci_high,
            votes=row.votes,
            provisional=row.provisional,
            enabled=row.enabled,
            last_updated=row.last_updated,
            rank_ub=row.rank_ub,
            placed_by_judge=row.placed_by_judge,
            judge_rank_low=interval[0] if interval else None,
            judge_rank_high=interval[1] if interval else None,
            movement=row.movement,
        )


class LeaderboardOut(BaseModel):
    """One board of an arena: ``batch`` (the default) or ``online`` (docs/ratings.md)."""

    arena: str
    #: ``batch``: the Plackett–Luce fit of every counted vote (order-independent, bootstrap
    #: intervals, ranked by rating); ``online``: the live ratings, ranked by μ − 3σ.
    board: Literal["batch", "online"] = "online"
    #: The prompt category of a batch board (null: every vote).
    category: str | None = None
    last_updated: datetime | None
    rows: list[LeaderboardRowOut]
    #: The batch board: when it was fitted (null: not yet), the counted votes it covers, the
    #: votes cast in the arena since, and whether a worker is refitting it now.
    fitted_at: datetime | None = None
    votes_fitted: int | None = None
    votes_since: int | None = None
    fitting: bool = False
    #: The arena's prompt categories (each has a batch board).
    categories: list[str] = Field(default_factory=list)


class OpponentOut(BaseModel):
    opponent: str
    wins: int
    losses: int
    ties: int
    battles: int
    win_rate: float


class ModelBattleOut(BaseModel):
    seq: int
    prompt: str
    created_at: datetime
    mode: str
    rank: int
    models: list[str]
    ranks: list[int]


class ModelOut(BaseModel):
    id: int
    name: str
    organization: str
    link: str
    enabled: bool
    live: bool
    parent: str | None = None

    @classmethod
    def of(cls, model: ModelInfo) -> ModelOut:
        return cls(
            id=model.id,
            name=model.name,
            organization=model.organization,
            link=model.link,
            enabled=model.enabled,
            live=model.generator is not None,
            parent=model.parent,
        )


class ModelPageOut(BaseModel):
    arena: str
    model: ModelOut
    leaderboard: LeaderboardRowOut | None
    opponents: list[OpponentOut]
    battles: list[ModelBattleOut]
    battles_total: int
    family: FamilyOut | None = None

    @classmethod
    def of(cls, page: ModelPage) -> ModelPageOut:
        return cls(
            arena=page.arena_slug,
            family=FamilyOut.of(page.family) if page.family is not None else None,
            model=ModelOut.of(page.model),
            leaderboard=LeaderboardRowOut.of(page.row) if page.row is not None else None,
            opponents=[
                OpponentOut(
                    opponent=o.opponent_name,
                    wins=o.wins,
                    losses=o.losses,
                    ties=o.ties,
                    battles=o.battles,
                    win_rate=o.win_rate,
                )
                for o in page.opponents
            ],
            battles=[
                ModelBattleOut(
                    seq=b.seq,
                    prompt=b.prompt_text,
                    created_at=b.created_at,
                    mode=b.mode,
                    rank=b.rank,
                    models=list(b.models),
                    ranks=list(b.ranks),
                )
                for b in page.battles
            ],
            battles_total=page.battles_total,
        )


# -- admin --------------------------------------------------------------------------------------


class ArenaCreate(_Body):
    slug: Slug
    name: Name | None = None
    modality: Literal["image", "video", "text"] = "image"
    k: Annotated[int, Field(ge=2, le=MAX_K), _JSON_INT] | None = None


class ModelCreate(_Body):
    arena: Slug
    name: Name
    organization: Name | Literal[""] = ""
    link: Link = ""
    enabled: StrictBool = True
    parent: Name | None = None


class ModelUpdate(_Body):
    enabled: StrictBool


class ParentIn(_Body):
    """The model's parent (another model of its arena), or null for none."""

    parent: Name | None


class PromptCreate(_Body):
    arena: Slug
    text: Annotated[str, Field(min_length=1, max_length=4000, pattern=_TEXT_PATTERN)]
    key: Name | None = None
    source: Label | Literal[""] = "admin"
    category: Label | Literal[""] = ""


class PromptCategoryIn(_Body):
    """A prompt's category (``""``: none)."""

    category: Label | Literal[""]


class PromptOut(BaseModel):
    id: int
    key: str
    text: str
    source: str
    category: str

    @classmethod
    def of(cls, prompt: PromptInfo) -> PromptOut:
        return cls(
            id=prompt.id,
            key=prompt.key,
            text=prompt.text,
            source=prompt.source,
            category=prompt.category,
        )


class OutputOut(BaseModel):
    id: int
    sha256: str
    content_type: str
    kind: str
    byte_size: int


class BanIn(_Body):
    voter_hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    # Same character rule as prompts: PostgreSQL text cannot hold NUL (finding R-PG-1).
    reason: Annotated[str, Field(max_length=500, pattern=rf"^[^{_BAD_IN_TEXT}]*$")] = ""
    discount_past: StrictBool = True
    #: Also ban every address the voter voted from (a fresh cookie from there stays banned).
    ban_address: StrictBool = True


class CountOut(BaseModel):
    count: int


_RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before trying again (KARENA_RETRY_AFTER_SECONDS)",
        "schema": {"type": "integer"},
    }
}
#: What any route may answer: a body over the cap, and an outage of the database or disk.
_ALWAYS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorOut, "description": "request body over KARENA_MAX_BODY_BYTES"},
    503: {
        "model": ErrorOut,
        "description": "the database is unreachable, locked or out of space: retry later",
        "headers": _RETRY_AFTER,
    },
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error codes a route may answer, all in the ErrorOut shape.

    Every route also declares 413 (body cap) and 503 with ``Retry-After`` (an outage); a 429
    also declares its ``Retry-After`` header (whole seconds).
    """
    declared: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        if code in _ALWAYS:
            continue
        entry: dict[str, Any] = {"model": ErrorOut, "description": "error"}
        if code == 429:
            entry["description"] = "over a rate limit or budget; nothing was taken or stored"
            entry["headers"] = {
                "Retry-After": {
                    "description": "seconds until the limit lets this client in again",
                    "schema": {"type": "integer", "minimum": 1},
                }
            }
        declared[code] = entry
    return {**_ALWAYS, **declared}
