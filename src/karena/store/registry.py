"""Where the store finds the rating model and matchmaker an arena names (the core's registries)."""

from __future__ import annotations

from karena.matchmaking.registry import matchmaker
from karena.rating.registry import rating_model

__all__ = ["matchmaker", "rating_model"]
