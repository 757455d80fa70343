"""Matchmaking: which K models meet next (pure; numpy only)."""

from karena.matchmaking.base import Matchmaker, MatchState

__all__ = ["MatchState", "Matchmaker"]
