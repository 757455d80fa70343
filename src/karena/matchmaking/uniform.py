"""Uniformly random matchmaking: the baseline every smarter strategy must beat."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from karena.matchmaking.base import ArrayMatchmaker, IntArray, MatchArrays

__all__ = ["RandomMatchmaker"]


@dataclass(frozen=True, slots=True)
class RandomMatchmaker(ArrayMatchmaker):
    """K distinct enabled models uniformly at random; the first (the "pivot") is idle."""

    name: str = "random"

    def _select_batch(self, arrays: MatchArrays, k: int, rng: np.random.Generator) -> IntArray:
        s, n = arrays.shape
        rows = np.arange(s)
        key = rng.random((s, n))
        # The first slot is a uniformly random idle model; the rest uniform among the others
        # (i.i.d. uniform keys: the k−1 smallest are a uniform random subset, in random order).
        first = np.argmin(np.where(arrays.busy | arrays.disabled, np.inf, key), axis=1)
        key[arrays.disabled] = np.inf
        key[rows, first] = np.inf
        rest = np.argpartition(key, k - 2, axis=1)[:, : k - 1] if k - 1 < n else key.argsort(axis=1)
        return np.asarray(np.concatenate([first[:, None], rest], axis=1), dtype=np.int64)
