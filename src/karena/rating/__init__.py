"""The pure rating core: the vote vocabulary, rating models and leaderboards (numpy/scipy only).

numba is imported only when a compiled kernel is first used (:mod:`karena.rating.kernels`).
"""

from karena.rating.base import OnlineRatingModel
from karena.rating.leaderboard import LeaderboardRow, build_leaderboard, count_votes
from karena.rating.models.elo import Elo
from karena.rating.models.factor_graph import FactorGraphFFA
from karena.rating.models.thurstone import ThurstoneK
from karena.rating.registry import RATING_MODELS, make_rating_model, rating_model
from karena.rating.replay import has_fast_path, replay
from karena.rating.types import (
    VOTE_KINDS,
    BestOfK,
    Comparison,
    InvalidVote,
    Outcome,
    Ranking,
    Rating,
    Tie,
    Vote,
    VoteKind,
    comparisons,
    pairwise,
    parse_outcome,
    stored_outcome,
)

__all__ = [
    "RATING_MODELS",
    "VOTE_KINDS",
    "BestOfK",
    "Comparison",
    "Elo",
    "FactorGraphFFA",
    "InvalidVote",
    "LeaderboardRow",
    "OnlineRatingModel",
    "Outcome",
    "Ranking",
    "Rating",
    "ThurstoneK",
    "Tie",
    "Vote",
    "VoteKind",
    "build_leaderboard",
    "comparisons",
    "count_votes",
    "has_fast_path",
    "make_rating_model",
    "pairwise",
    "parse_outcome",
    "rating_model",
    "replay",
    "stored_outcome",
]
