"""The pure rating core: values, vote outcomes and rating algorithms (numpy/scipy only)."""

from karena.rating.base import OnlineRatingModel
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
    "InvalidVote",
    "OnlineRatingModel",
    "Outcome",
    "PairResult",
    "Pairwise",
    "Ranking",
    "Rating",
    "ThurstoneK",
    "Vote",
    "comparisons",
    "outcome_ranks",
]
