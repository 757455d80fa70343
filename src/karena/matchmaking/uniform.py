"""Uniformly random matchmaking: the baseline every smarter strategy must beat."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from karena.matchmaking.base import ArrayMatchmaker, IntArray, MatchArrays, top_by_score

__all__ = ["RandomMatchmaker"]


@dataclass(frozen=True, slots=True)
class RandomMatchmaker(ArrayMatchmaker):
    """K distinct enabled models uniformly at random; the first (the "pivot") is idle."""

    name: str = "random"

    def _select_batch(self, arrays: MatchArrays, k: int, rng: np.random.Generator) -> IntArray:
        s, n = arrays.shape
        key = rng.random((s, n))
        # The first slot is a uniformly random idle model; the rest uniform among the others.
        first_key = np.where(arrays.busy | arrays.disabled, np.inf, key)
        first = np.argmin(first_key, axis=1).astype(np.int64)
        exclude = arrays.disabled.copy()
        exclude[np.arange(s), first] = True
        rest = top_by_score(rng.random((s, n)), exclude, k - 1, rng)
        return np.concatenate([first[:, None], rest], axis=1)
