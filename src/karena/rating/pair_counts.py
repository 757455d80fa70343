"""Aggregated pairwise outcomes: the input of the batch Bradley–Terry fit."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from karena.errors import InvalidInput, NotFound
from karena.rating.types import Vote, comparisons

__all__ = ["PairCounts"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


def _frozen(values: ArrayLike, dtype: type, what: str) -> NDArray[np.generic]:
    array: NDArray[np.generic] = np.array(values, dtype=dtype)
    if array.ndim != 1:
        raise InvalidInput(f"{what} must be one-dimensional, got shape {array.shape}")
    array.setflags(write=False)
    return array


@dataclass(frozen=True, slots=True, eq=False)  # arrays: compare by identity
class PairCounts:
    """Aggregated pairwise outcomes: row ``r`` says models ``i[r]`` and ``j[r]`` met
    ``wins_i[r] + wins_j[r] + ties[r]`` times. "Both bad" votes are counted in ``ties``, as FastChat
    does. Rows need not be unique; arrays are stored read-only.
    """

    models: tuple[Hashable, ...]
    i: IntArray
    j: IntArray
    wins_i: FloatArray
    wins_j: FloatArray
    ties: FloatArray

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", tuple(self.models))
        for name in ("i", "j"):
            object.__setattr__(self, name, _frozen(getattr(self, name), np.intp, name))
        for name in ("wins_i", "wins_j", "ties"):
            object.__setattr__(self, name, _frozen(getattr(self, name), np.float64, name))
        m, rows = len(self.models), len(self.i)
        if len(set(self.models)) != m:
            raise InvalidInput("model names must be unique")
        if any(len(getattr(self, f)) != rows for f in ("j", "wins_i", "wins_j", "ties")):
            raise InvalidInput("pair index and count arrays must have the same length")
        if rows and (self.i.min() < 0 or self.j.min() < 0 or max(self.i.max(), self.j.max()) >= m):
            raise InvalidInput(f"pair indices must lie in 0..{m - 1}")
        if np.any(self.i == self.j):
            raise InvalidInput("a model cannot be compared with itself")
        counts = np.concatenate([self.wins_i, self.wins_j, self.ties])
        if not np.all(np.isfinite(counts)) or np.any(counts < 0):
            raise InvalidInput("counts must be finite and non-negative")

    @property
    def n_models(self) -> int:
        return len(self.models)

    @property
    def n_pairs(self) -> int:
        return len(self.i)

    @property
    def n_battles(self) -> int:
        return round(float(self.wins_i.sum() + self.wins_j.sum() + self.ties.sum()))

    def battles_per_model(self) -> FloatArray:
        """How many battles each model took part in, in ``models`` order."""
        n = self.wins_i + self.wins_j + self.ties
        m = self.n_models
        return np.asarray(np.bincount(self.i, n, m) + np.bincount(self.j, n, m), dtype=np.float64)

    @classmethod
    def from_votes(
        cls, votes: Iterable[Vote], models: Iterable[Hashable] | None = None
    ) -> PairCounts:
        """Aggregate votes into pair counts; K-wise votes are expanded with ``comparisons()``.

        ``models`` fixes the model order; by default it is the order of first appearance.
        """
        index: dict[Hashable, int] = {}
        if models is not None:
            for model in models:
                index.setdefault(model, len(index))
        counts: dict[tuple[int, int], list[float]] = {}
        for vote in votes:
            ids = []
            for model in vote.models:
                if model not in index:
                    if models is not None:
                        raise NotFound(f"vote names model {model!r}, absent from the model list")
                    index[model] = len(index)
                ids.append(index[model])
            for comp in comparisons(vote.outcome):
                a, b = ids[comp.winner], ids[comp.loser]
                key = (a, b) if a < b else (b, a)
                row = counts.setdefault(key, [0.0, 0.0, 0.0])
                row[2 if comp.tie else (0 if a < b else 1)] += 1.0
        keys = sorted(counts)
        table = np.array([counts[k] for k in keys], dtype=np.float64).reshape(-1, 3)
        pairs = np.array(keys, dtype=np.intp).reshape(-1, 2)
        return cls(tuple(index), pairs[:, 0], pairs[:, 1], table[:, 0], table[:, 1], table[:, 2])
