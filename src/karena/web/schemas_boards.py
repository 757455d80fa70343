"""JSON bodies of the batch board: what a refit did (the admin route). The leaderboard's own
body, for both boards, is :class:`karena.web.schemas.LeaderboardOut`."""

from __future__ import annotations

from pydantic import BaseModel

from karena.store.types import BatchRefresh


class BatchRefreshOut(BaseModel):
    """One refit of an arena's batch boards (overall and per prompt category)."""

    arena: str
    fitted: bool
    reason: str
    votes: int
    boards: int
    categories: list[str]
    seconds: float

    @classmethod
    def of(cls, done: BatchRefresh) -> BatchRefreshOut:
        return cls(
            arena=done.arena_slug,
            fitted=done.fitted,
            reason=done.reason,
            votes=done.votes,
            boards=done.boards,
            categories=list(done.categories),
            seconds=done.seconds,
        )
