"""The pure rating core: values, vote outcomes and rating algorithms (numpy/scipy only).

numba is imported only when a compiled kernel is first used (:mod:`karena.rating.fast`).
"""

from karena.rating.base import OnlineRatingModel
from karena.rating.elo import Elo
from karena.rating.factor_graph import FactorGraphFFA
from karena.rating.leaderboard import LeaderboardRow, build_leaderboard, count_votes
from karena.rating.replay import has_fast_path, replay
from karena.rating.thurstone import ThurstoneK
from karena.rating.types import (
    BestOfK,
    Comparison,
    InvalidVote,
    Outcome,
    PairResult,
    Pairwise,
    Ranking,
    Rating,
    Vote,
    comparisons,
    outcome_ranks,
)

__all__ = [
    "BestOfK",
    "Comparison",
    "Elo",
    "FactorGraphFFA",
    "InvalidVote",
    "LeaderboardRow",
    "OnlineRatingModel",
    "Outcome",
    "PairResult",
    "Pairwise",
    "Ranking",
    "Rating",
    "ThurstoneK",
    "Vote",
    "build_leaderboard",
    "comparisons",
    "count_votes",
    "has_fast_path",
    "outcome_ranks",
    "replay",
]
