"""JSON bodies of a model's rating history (``GET /api/models/{name}/history``); the rest of the
API's bodies are in :mod:`karena.web.schemas`."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from karena.store.types import ModelHistory


class OnlinePointOut(BaseModel):
    """The model's online rating right after the arena's counted vote number ``vote``."""

    vote: int = Field(description="1-based index of the vote in the arena's counted log")
    time: datetime = Field(description="when that vote was cast")
    mu: float
    sigma: float
    votes: int = Field(description="the model's counted votes so far")


class BatchPointOut(BaseModel):
    """The model on the batch board fitted to the arena's first ``vote`` counted votes."""

    vote: int
    time: datetime
    mu: float
    ci_low: float = Field(description="equal to mu unless KARENA_HISTORY_BATCH_ROUNDS ≥ 2")
    ci_high: float
    rank: int


class ModelHistoryOut(BaseModel):
    """A model's rating over time: the online μ and σ, and the batch board at intervals."""

    arena: str
    model: str
    rating_model: str
    arena_votes: int = Field(description="counted votes in the arena")
    online: list[OnlinePointOut] = Field(
        description="after the model's own votes, evenly spread; the last is the live rating"
    )
    batch: list[BatchPointOut] = Field(description="every batch_step votes, as fitted so far")
    batch_step: int
    batch_pending: int = Field(description="batch points still being fitted; ask again later")

    @classmethod
    def of(cls, history: ModelHistory) -> ModelHistoryOut:
        return cls(
            arena=history.arena_slug,
            model=history.model,
            rating_model=history.rating_model,
            arena_votes=history.arena_votes,
            online=[
                OnlinePointOut(vote=p.vote, time=p.time, mu=p.mu, sigma=p.sigma, votes=p.votes)
                for p in history.online
            ],
            batch=[
                BatchPointOut(
                    vote=p.vote,
                    time=p.time,
                    mu=p.mu,
                    ci_low=p.ci_low,
                    ci_high=p.ci_high,
                    rank=p.rank,
                )
                for p in history.batch
            ],
            batch_step=history.batch_step,
            batch_pending=history.batch_pending,
        )
