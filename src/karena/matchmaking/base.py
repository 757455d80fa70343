"""The matchmaking contract: pick which K models meet next, from explicit inputs only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from karena.errors import InvalidInput
from karena.rating.types import Rating

__all__ = ["MatchState", "Matchmaker"]


@dataclass(frozen=True, slots=True)
class MatchState:
    """Everything a matchmaker may look at. Models are indexed 0..n−1.

    Attributes
    ----------
    ratings :
        Current rating of each model.
    pair_counts :
        Symmetric n×n integer matrix: how often models i and q have met in a counted vote
        (n_iq in K-Sort Arena Eq. 12). The diagonal is ignored.
    busy :
        Models currently in a running (shown, not yet voted) battle; never chosen as pivot.
    disabled :
        Models that must not be chosen at all.
    """

    ratings: tuple[Rating, ...]
    pair_counts: npt.NDArray[np.int64]
    busy: frozenset[int] = field(default_factory=frozenset)
    disabled: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        n = len(self.ratings)
        if self.pair_counts.shape != (n, n):
            raise InvalidInput(f"pair_counts must be {n}x{n}, got {self.pair_counts.shape}")

    @property
    def n(self) -> int:
        return len(self.ratings)

    def available(self) -> list[int]:
        """Models that may be chosen (not disabled)."""
        return [i for i in range(self.n) if i not in self.disabled]


class Matchmaker(Protocol):
    """Chooses the K contestants of the next battle.

    Implementations hold configuration only, never state: the same ``state`` and the same
    ``rng`` state give the same answer.
    """

    name: str

    def select(self, state: MatchState, k: int, rng: np.random.Generator) -> tuple[int, ...]:
        """Return ``k`` distinct model indices; the first is the pivot where there is one.

        Raises
        ------
        InvalidInput
            If fewer than ``k`` models are available.
        """
        ...
