"""Paired evaluation: seat a variant and its parent in the same battle until a verdict.

A variant's verdict against its parent (:mod:`karena.rating.variants`) is read off their
head-to-head record, which grows only in battles that show both. Under any matchmaker that
rarely happens by chance (with random K = 4 sets of 20 models, in 3 % of battles), so the
verdict waits. :class:`PairedMatchmaker` wraps any matchmaker: in a share of the battles of an
arena with a pair still waiting (``MatchArrays.paired``), it seats that pair and fills the other
K − 2 seats with the wrapped matchmaker's own choice; every other battle is the wrapped
matchmaker's unchanged. The caller (the store, or the simulator) decides which pairs wait:
those without a verdict yet.

Every vote of a paired battle still counts for the whole board: the other K − 2 models are
rated as usual, and the pair's ratings move as in any other battle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from karena.errors import InvalidInput
from karena.matchmaking.base import ArrayMatchmaker, IntArray, MatchArrays

__all__ = ["PairedMatchmaker"]


@dataclass(frozen=True, slots=True)
class PairedMatchmaker(ArrayMatchmaker):
    """``inner``'s battles, except that a ``share`` of them seat a waiting (variant, parent).

    Parameters
    ----------
    inner :
        The matchmaker that fills the other seats, and every battle without a waiting pair.
    share :
        Probability that a battle of an arena with a waiting pair seats one (1.0: every battle
        until the verdicts are in). Among several waiting pairs, the one that has met least.
    """

    inner: ArrayMatchmaker
    share: float = 1.0
    name: str = "paired"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.share) and 0.0 <= self.share <= 1.0):
            raise InvalidInput(f"the paired share must be in [0, 1], got {self.share!r}")
        if isinstance(self.inner, PairedMatchmaker):
            raise InvalidInput("a paired matchmaker cannot wrap another paired matchmaker")

    def _select_batch(self, arrays: MatchArrays, k: int, rng: np.random.Generator) -> IntArray:
        chosen = self.inner._select_batch(arrays, k, rng)
        pairs = arrays.paired
        if pairs is None or pairs.shape[1] == 0 or self.share == 0.0:
            return chosen
        s, n = arrays.shape
        rows = np.arange(s)
        a, b = pairs[:, :, 0], pairs[:, :, 1]
        valid = (a >= 0) & (b >= 0) & (a < n) & (b < n) & (a != b)
        ca, cb = np.clip(a, 0, n - 1), np.clip(b, 0, n - 1)
        r2 = rows[:, None]
        valid &= ~arrays.disabled[r2, ca] & ~arrays.disabled[r2, cb]
        met = arrays.pair_counts.lookup(ca, cb).astype(np.float64)
        key = np.where(valid, met + 0.5 * rng.random(met.shape), np.inf)
        pick = np.argmin(key, axis=1)
        seat = valid.any(axis=1) & (rng.random(s) < self.share)
        va, vb = ca[rows, pick], cb[rows, pick]
        idle_a = ~(arrays.busy[rows, va] | arrays.disabled[rows, va])
        idle_b = ~(arrays.busy[rows, vb] | arrays.disabled[rows, vb])
        both_busy = ~idle_a & ~idle_b
        if k == 2:
            seat &= ~both_busy  # no seat is left for an idle pivot
        if not seat.any():
            return chosen
        # The wrapped choice without the pair, in its order: its first K − 2 fill the seats.
        keep = (chosen != va[:, None]) & (chosen != vb[:, None])
        rest = np.take_along_axis(chosen, np.argsort(~keep, axis=1, kind="stable"), axis=1)
        # Column 0 must be idle: one of the pair if either is, else the wrapped pivot (idle, and
        # then not one of the busy pair, so it heads ``rest``).
        first = np.where(idle_a | ~idle_b, va, vb)
        second = np.where(first == va, vb, va)
        paired = np.concatenate([first[:, None], second[:, None], rest[:, : k - 2]], axis=1)
        if k > 2 and both_busy.any():
            paired[both_busy] = np.concatenate(
                [rest[both_busy, :1], va[both_busy, None], vb[both_busy, None],
                 rest[both_busy, 1 : k - 2]], axis=1,
            )  # fmt: skip
        return np.asarray(np.where(seat[:, None], paired, chosen), dtype=np.int64)
