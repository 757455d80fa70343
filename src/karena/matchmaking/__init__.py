"""Matchmaking: which K models meet next (pure; numpy only)."""

from karena.matchmaking.base import ArrayMatchmaker, MatchArrays, Matchmaker, MatchState
from karena.matchmaking.registry import MATCHMAKERS, make_matchmaker
from karena.matchmaking.ucb import SkillOnlyMatchmaker, UCBMatchmaker
from karena.matchmaking.uncertainty import UncertainWindowMatchmaker
from karena.matchmaking.uniform import RandomMatchmaker

__all__ = [
    "MATCHMAKERS",
    "ArrayMatchmaker",
    "MatchArrays",
    "MatchState",
    "Matchmaker",
    "RandomMatchmaker",
    "SkillOnlyMatchmaker",
    "UCBMatchmaker",
    "UncertainWindowMatchmaker",
    "make_matchmaker",
]
