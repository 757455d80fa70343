"""JSON bodies of variant families and voter reliability (the model page's family section, the
admin views of voters); the rest of the API's bodies are in :mod:`karena.web.schemas`."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from karena.rating.variants import HeadToHead
from karena.store.types import FamilyRecord, ModelFamily, VoterReport


def _finite(x: float) -> float | None:
    """JSON has no NaN or infinity: an unbounded end or an undefined rate is null."""
    return float(x) if math.isfinite(x) else None


class HeadToHeadOut(BaseModel):
    """A variant's record against its parent, from the variant's side (gaps in rating points)."""

    wins: int
    losses: int
    ties: int
    comparisons: int
    win_rate: float | None
    win_rate_low: float
    win_rate_high: float
    gap: float | None
    gap_low: float | None
    gap_high: float | None
    margin: float
    margin_win_rate: float
    level: float
    verdict: Literal["indistinguishable", "better", "worse", "undecided"]

    @classmethod
    def of(cls, h: HeadToHead) -> HeadToHeadOut:
        return cls(
            wins=h.wins,
            losses=h.losses,
            ties=h.ties,
            comparisons=h.comparisons,
            win_rate=_finite(h.win_rate),
            win_rate_low=h.rate_low,
            win_rate_high=h.rate_high,
            gap=_finite(h.gap),
            gap_low=_finite(h.gap_low),
            gap_high=_finite(h.gap_high),
            margin=h.margin,
            margin_win_rate=h.margin_rate,
            level=h.level,
            verdict=h.verdict,
        )


class FamilyRecordOut(BaseModel):
    variant: str
    parent: str
    head_to_head: HeadToHeadOut

    @classmethod
    def of(cls, r: FamilyRecord) -> FamilyRecordOut:
        return cls(variant=r.variant, parent=r.parent, head_to_head=HeadToHeadOut.of(r.record))


class FamilyOut(BaseModel):
    """The model's record against its parent (null without one) and its variants' records."""

    parent: FamilyRecordOut | None
    variants: list[FamilyRecordOut]

    @classmethod
    def of(cls, f: ModelFamily) -> FamilyOut:
        return cls(
            parent=FamilyRecordOut.of(f.parent) if f.parent is not None else None,
            variants=[FamilyRecordOut.of(v) for v in f.variants],
        )


class PairedIn(BaseModel):
    """Paired evaluation: the share of battles that seat an undecided variant with its parent."""

    model_config = ConfigDict(extra="forbid")
    # strict: a JSON number only, as the schema says ("0.5" and true are refused, 422).
    share: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False, strict=True)]


class VoterOut(BaseModel):
    voter_hash: str
    votes: int
    reliability: float
    blind: float
    suspect: str | None
    direction: Literal["up", "down"] | None
    suspect_probability: float
    banned: bool


class VoterReportOut(BaseModel):
    """An arena's voters, least reliable first (see docs/voters.md)."""

    arena: str
    voters_total: int
    votes: int
    share_honest: float
    share_blind: float
    share_partisan: float
    iterations: int
    converged: bool
    voters: list[VoterOut]

    @classmethod
    def of(cls, r: VoterReport) -> VoterReportOut:
        return cls(
            arena=r.arena_slug,
            voters_total=r.voters_total,
            votes=r.votes,
            share_honest=r.mix[0],
            share_blind=r.mix[1],
            share_partisan=r.mix[2],
            iterations=r.iterations,
            converged=r.converged,
            voters=[
                VoterOut(
                    voter_hash=v.voter_hash,
                    votes=v.votes,
                    reliability=v.reliability,
                    blind=v.blind,
                    suspect=v.suspect,
                    direction=v.direction,
                    suspect_probability=v.suspect_probability,
                    banned=v.banned,
                )
                for v in r.voters
            ],
        )
