"""Vote modes: how pairwise verdicts become the K-wise vote a person casts.

From the C(K,2) pair codes of a battle (see :mod:`karena.sim.noise`):

* **ranking** (full ranking with ties): each contestant's Copeland score = wins + ½·ties;
  contestants are ranked by score, and equal scores share a rank (a tie). Without noise, or with
  transitive noise (Thurstonian, Gumbel), this is exactly the order of perceived quality. With
  flip noise a cycle (a ≻ b ≻ c ≻ a) gives equal scores, i.e. an honest "can't tell" tie.
* **best** (best of K): the contestant with the highest Copeland score; among equal maxima the
  voter picks one uniformly at random. The vote states only the winner's K−1 wins.
* **pairwise** (K = 2 only): win, loss, tie or both bad, as the verdict says.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from karena.errors import InvalidInput
from karena.rating.types import BestOfK, Outcome, PairResult, Pairwise, Ranking
from karena.sim.batch_rating import pair_index
from karena.sim.noise import BOTH_BAD, LOSS, TIE, WIN

__all__ = ["VOTE_MODES", "VoteMode", "batch_votes", "copeland_scores", "to_outcome"]

VoteMode = Literal["ranking", "best", "pairwise"]
VOTE_MODES: tuple[VoteMode, ...] = ("ranking", "best", "pairwise")

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def copeland_scores(codes: npt.NDArray[np.int8], k: int) -> npt.NDArray[np.float64]:
    """(S, K) wins + ½·ties from (S, C(K,2)) pair codes."""
    pa, pb = pair_index(k)
    a_pts = np.where(codes == WIN, 1.0, np.where(codes == LOSS, 0.0, 0.5))
    return a_pts @ np.eye(k)[pa] + (1.0 - a_pts) @ np.eye(k)[pb]


def _competition_ranks(score: npt.NDArray[np.float64]) -> IntArray:
    """1 + number of contestants with a strictly higher score (equal scores share a rank)."""
    higher = (score[:, None, :] > score[:, :, None]).sum(axis=2)
    return np.asarray(1 + higher, dtype=np.int64)


def batch_votes(
    codes: npt.NDArray[np.int8], k: int, mode: VoteMode, rng: np.random.Generator
) -> tuple[IntArray, BoolArray]:
    """Turn pair codes into ``(ranks, informative)`` for the batched rating updates.

    ``ranks`` (S, K): 1 = best, equal = tie. ``informative`` (S, C(K,2)): the pairs the vote
    speaks about (all, except for best-of-K where only the winner's pairs count).
    """
    s = codes.shape[0]
    pa, pb = pair_index(k)
    if mode == "pairwise":
        if k != 2:
            raise InvalidInput(f"pairwise votes need K = 2, got K = {k}")
        return _competition_ranks(copeland_scores(codes, k)), np.ones((s, 1), dtype=np.bool_)
    score = copeland_scores(codes, k)
    if mode == "ranking":
        return _competition_ranks(score), np.ones((s, len(pa)), dtype=np.bool_)
    if mode == "best":
        jitter = rng.random(score.shape)
        winner = np.argmax(
            np.where(score == score.max(axis=1, keepdims=True), jitter, -1.0), axis=1
        )
        ranks = np.full((s, k), 2, dtype=np.int64)
        ranks[np.arange(s), winner] = 1
        informative = (pa[None, :] == winner[:, None]) | (pb[None, :] == winner[:, None])
        return ranks, informative
    raise InvalidInput(f"unknown vote mode {mode!r}; choose one of {', '.join(VOTE_MODES)}")


def to_outcome(
    codes: npt.NDArray[np.int8], k: int, mode: VoteMode, rng: np.random.Generator
) -> Outcome:
    """One battle's pair codes (shape (C(K,2),)) as a :mod:`karena.rating.types` outcome."""
    row = codes.reshape(1, -1)
    if mode == "pairwise":
        if k != 2:
            raise InvalidInput(f"pairwise votes need K = 2, got K = {k}")
        code = int(row[0, 0])
        result = {
            WIN: PairResult.WIN,
            LOSS: PairResult.LOSS,
            TIE: PairResult.TIE,
            BOTH_BAD: PairResult.BOTH_BAD,
        }[code]
        return Pairwise(result)
    ranks, _ = batch_votes(row, k, mode, rng)
    if mode == "best":
        return BestOfK(k, int(np.argmin(ranks[0])))
    return Ranking(tuple(int(r) for r in ranks[0]))
