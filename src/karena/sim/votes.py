"""How pairwise verdicts become the K-wise vote a simulated person casts.

From the C(K,2) pair codes of a battle (see :mod:`karena.sim.noise`), in the vote kinds of
:mod:`karena.rating.types`:

* ``rank`` (a full ranking with ties): each contestant's Copeland score = wins + ½·ties;
  contestants are ranked by score, and equal scores share a rank (a tie). Without noise, or with
  transitive noise (Thurstonian, Gumbel), this is exactly the order of perceived quality. With
  flip noise a cycle (a ≻ b ≻ c ≻ a) gives equal scores, i.e. an honest "can't tell" tie. At
  K = 2 this is the pairwise verdict, "both bad" included (:func:`to_outcome`).
* ``best`` (best of K): the contestant with the highest Copeland score; among equal maxima the
  voter picks one uniformly at random. The vote states only the winner's K−1 wins.

Votes come out as kernel rank rows (:meth:`karena.rating.types.Outcome.rank_row`), the form
every rating model's :meth:`~karena.rating.base.OnlineRatingModel.update_arenas` takes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from karena.errors import InvalidInput
from karena.rating.types import UNRANKED, Outcome, Tie, VoteKind, outcome_from_rank_row
from karena.sim.noise import BOTH_BAD, TIE, pair_index

__all__ = ["SIM_VOTE_KINDS", "batch_votes", "copeland_scores", "to_outcome"]

#: The vote kinds a simulated voter can cast.
SIM_VOTE_KINDS: tuple[VoteKind, ...] = (VoteKind.RANK, VoteKind.BEST)

IntArray = npt.NDArray[np.int32]


def copeland_scores(codes: npt.NDArray[np.int8], k: int) -> npt.NDArray[np.float64]:
    """(S, K) wins + ½·ties from (S, C(K,2)) pair codes."""
    pa, pb = pair_index(k)
    a_pts = np.where(codes == 1, 1.0, np.where(codes == -1, 0.0, 0.5))
    return a_pts @ np.eye(k)[pa] + (1.0 - a_pts) @ np.eye(k)[pb]


def _competition_ranks(score: npt.NDArray[np.float64]) -> IntArray:
    """1 + number of contestants with a strictly higher score (equal scores share a rank)."""
    higher = (score[:, None, :] > score[:, :, None]).sum(axis=2)
    return np.asarray(1 + higher, dtype=np.int32)


def batch_votes(
    codes: npt.NDArray[np.int8], k: int, kind: str, rng: np.random.Generator
) -> IntArray:
    """Turn (S, C(K,2)) pair codes into (S, K) rank rows of the given vote kind."""
    score = copeland_scores(codes, k)
    if kind == VoteKind.RANK:
        return _competition_ranks(score)
    if kind == VoteKind.BEST:
        s = codes.shape[0]
        jitter = rng.random(score.shape)
        winner = np.argmax(
            np.where(score == score.max(axis=1, keepdims=True), jitter, -1.0), axis=1
        )
        ranks = np.full((s, k), UNRANKED, dtype=np.int32)
        ranks[np.arange(s), winner] = 1
        return ranks
    kinds = ", ".join(SIM_VOTE_KINDS)
    raise InvalidInput(f"unknown vote kind {kind!r} for a simulated voter; choose one of {kinds}")


def to_outcome(codes: npt.NDArray[np.int8], k: int, kind: str, rng: np.random.Generator) -> Outcome:
    """One battle's pair codes (shape (C(K,2),)) as an outcome; a two-way tie keeps "both bad"."""
    row = codes.reshape(1, -1)
    if k == 2 and kind == VoteKind.RANK and int(row[0, 0]) in (TIE, BOTH_BAD):
        return Tie(2, all_bad=int(row[0, 0]) == BOTH_BAD)
    return outcome_from_rank_row(batch_votes(row, k, kind, rng)[0])
