"""Storage: SQLAlchemy models, Alembic migrations and the :class:`Store` API."""

from karena.rating.leaderboard import LeaderboardRow
from karena.store.api import Store
from karena.store.types import (
    ArenaInfo,
    BattleView,
    ContestantResult,
    MediaBlob,
    ModelInfo,
    ModelPage,
    OpponentStats,
    OutputInfo,
    Page,
    PairVote,
    PromptInfo,
    ReferenceBattle,
    StoredVote,
    VoteResult,
)

__all__ = [
    "ArenaInfo",
    "BattleView",
    "ContestantResult",
    "LeaderboardRow",
    "MediaBlob",
    "ModelInfo",
    "ModelPage",
    "OpponentStats",
    "OutputInfo",
    "Page",
    "PairVote",
    "PromptInfo",
    "ReferenceBattle",
    "Store",
    "StoredVote",
    "VoteResult",
]
