"""A new model's rank on a board, and a 90% interval for it, from a belief about its skill θ.

The rank is the paper's (K-Sort Eval §3.4, METHODS §2.2): a new model of skill θ is scored
θ − 3·(mean σ of the board), the score it would have with as many votes as the models around
it, and ranked 1 + the number of board models whose conservative score μ − 3σ is higher
(:func:`karena.judge.report.place`'s ``rank_paper``, vectorised here).

The interval comes from a belief over θ given as weighted points (a posterior grid, or equally
weighted quantiles): every point has a rank, so the belief gives a probability for each rank, and
the interval is the run of ranks holding 90% of it. Ranks are whole numbers, so a run of them
rarely holds exactly 90%: each end of the equal-tailed run that holds *at least* 90% may move one
rank inwards, and the run whose mass is nearest 90% is kept. (An interval that always held at
least 90% would cover the truth about 94% of the time, not 90%: docs/judge.md, "What the
interval means".) The judge's report and the leaderboard's judge-placed rows both use this.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from karena.errors import InvalidInput
from karena.rating.types import Rating

__all__ = ["DEFAULT_LEVEL", "BoardRanks", "RankInterval", "quantile_points"]

#: The interval's nominal probability.
DEFAULT_LEVEL = 0.9

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class RankInterval:
    """Ranks ``low``..``high`` (``low`` is the better end) and the belief's mass on them."""

    low: int
    high: int
    level: float
    mass: float

    def contains(self, rank: int) -> bool:
        return self.low <= rank <= self.high

    def to_dict(self) -> dict[str, float | int]:
        return {"low": self.low, "high": self.high, "level": self.level, "mass": self.mass}


def quantile_points(
    theta: Sequence[float] | FloatArray, weights: Sequence[float] | FloatArray, n: int = 99
) -> tuple[float, ...]:
    """The (i − ½)/n quantiles of a weighted belief, i = 1..n: a compact copy of it to store.

    Equal weights on these points reproduce the belief's rank probabilities to about 1/n.
    """
    t = np.asarray(theta, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    order = np.argsort(t, kind="stable")
    cdf = np.cumsum(w[order]) / w.sum()
    probs = (np.arange(1, n + 1) - 0.5) / n
    idx = np.minimum(np.searchsorted(cdf, probs), t.size - 1)
    return tuple(float(x) for x in t[order][idx])


class BoardRanks:
    """The ranks a new model of skill θ would take on a fixed board (vectorised over θ).

    ``offset`` is what the new model's score subtracts from θ; by default 3·(mean σ of the board).
    """

    def __init__(self, board: Sequence[Rating], offset: float | None = None) -> None:
        self._scores = np.sort(np.array([r.conservative for r in board], dtype=np.float64))
        if offset is None:
            offset = 3.0 * float(np.mean([r.sigma for r in board])) if board else 0.0
        self.offset = offset
        self.size = len(board)

    def rank(self, theta: float | FloatArray) -> npt.NDArray[np.int64]:
        """1 + the number of board scores above θ − offset, for each θ."""
        t = np.asarray(theta, dtype=np.float64) - self.offset
        above = self.size - np.searchsorted(self._scores, t, side="right")
        return np.asarray(1 + above, dtype=np.int64)

    def distribution(
        self, theta: Sequence[float] | FloatArray, weights: Sequence[float] | FloatArray
    ) -> FloatArray:
        """P(rank = r) for r = 0..size+1 (index 0 stays 0) from a weighted belief over θ."""
        t = np.asarray(theta, dtype=np.float64)
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != t.shape or not np.all(w >= 0) or not w.sum() > 0:
            raise InvalidInput("weights must be non-negative, not all zero, one per point")
        counts = np.bincount(self.rank(t), weights=w / w.sum(), minlength=self.size + 2)
        return np.asarray(counts, dtype=np.float64)

    def interval(
        self,
        theta: Sequence[float] | FloatArray,
        weights: Sequence[float] | FloatArray,
        level: float = DEFAULT_LEVEL,
    ) -> RankInterval:
        """The run of ranks whose mass is nearest ``level`` (see the module docstring)."""
        if not 0.0 < level < 1.0:
            raise InvalidInput(f"level must be in (0, 1), got {level}")
        cdf = np.cumsum(self.distribution(theta, weights))
        tail = (1.0 - level) / 2.0
        eps = 1e-12  # rounding in the cumulative sum must not move an end
        # low: the largest rank with P(rank < low) ≤ tail; high: the smallest with
        # P(rank > high) ≤ tail (cdf[r] is P(rank ≤ r)).
        low = max(1, int(np.searchsorted(cdf, tail + eps, side="right")))
        high = max(low, min(self.size + 1, int(np.searchsorted(cdf, 1.0 - tail - eps))))

        def mass(run: tuple[int, int]) -> float:
            return float(cdf[run[1]] - cdf[run[0] - 1])

        runs = [(lo, hi) for lo in (low, low + 1) for hi in (high, high - 1) if lo <= hi]
        best = min(runs, key=lambda r: (abs(mass(r) - level), r[0] - r[1]))
        return RankInterval(best[0], best[1], level, mass(best))

    def gaussian_interval(self, rating: Rating, level: float = DEFAULT_LEVEL) -> RankInterval:
        """The interval of a Gaussian belief N(μ, σ²) about θ."""
        sd = max(rating.sigma, 1e-9)
        theta = rating.mu + sd * np.linspace(-6.0, 6.0, 2401)
        return self.interval(theta, np.exp(-0.5 * ((theta - rating.mu) / sd) ** 2), level)
