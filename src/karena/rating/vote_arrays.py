"""The one place where a vote log becomes numeric arrays for the compiled replay kernels.

Array conventions (shared by :mod:`karena.rating.fast` and every caller of its kernels):

``models``
    ``int32`` array of shape ``(n_votes, K)``. ``models[v, j]`` is the index (into the ``mu`` /
    ``sigma`` arrays) of the ``j``-th contestant of vote ``v`` as shown. ``-1`` marks an empty
    slot, so votes with different K can share one matrix (pad on the right).
``ranks``
    ``int32`` array of the same shape. ``ranks[v, j] >= 1`` is that contestant's rank, 1 = best;
    equal ranks are ties. ``0`` means *unranked*: the contestant lost to every ranked contestant
    of the vote and nothing is known among the unranked ones. Best-of-K is therefore the
    winner at rank 1 and the others at 0; a declared tie (best-of-K with no winner, a pairwise
    tie, "both bad") is everyone at rank 1.

These rows state exactly the pairwise facts of :func:`karena.rating.types.comparisons`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from karena.rating.types import BestOfK, InvalidVote, Outcome, Rating, Vote, outcome_ranks

__all__ = ["EMPTY", "UNRANKED", "VoteArrays", "encode_votes", "initial_arrays", "rank_row"]

#: Model index of an empty slot.
EMPTY = -1
#: Rank of a contestant that lost to the ranked ones and is unordered among its peers.
UNRANKED = 0

IntArray = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float64]


def rank_row(outcome: Outcome) -> tuple[int, ...]:
    """The outcome as one ``ranks`` row (see the module docstring for the convention)."""
    if isinstance(outcome, BestOfK) and outcome.winner is not None:
        return tuple(1 if i == outcome.winner else UNRANKED for i in range(outcome.k))
    return outcome_ranks(outcome)


@dataclass(frozen=True, slots=True)
class VoteArrays:
    """A vote log as arrays: ``models`` and ``ranks`` (n_votes × K) plus the index → id table."""

    models: IntArray
    ranks: IntArray
    ids: tuple[Hashable, ...]

    @property
    def n_votes(self) -> int:
        return int(self.models.shape[0])


def encode_votes(
    votes: Iterable[Vote],
    ids: Sequence[Hashable] = (),
) -> VoteArrays:
    """Encode validated votes; model ids get indices in order of first appearance.

    ``ids`` pre-assigns indices 0..len(ids)-1 (e.g. models with an initial rating), so that a
    model's index does not depend on when it first appears in the log.
    """
    index: dict[Hashable, int] = {}
    for model_id in ids:
        if model_id in index:
            raise InvalidVote(f"duplicate model id {model_id!r} in the index")
        index[model_id] = len(index)
    model_rows: list[list[int]] = []
    rank_rows: list[tuple[int, ...]] = []
    k_max = 2
    for vote in votes:
        row = []
        for model_id in vote.models:
            if model_id not in index:
                index[model_id] = len(index)
            row.append(index[model_id])
        model_rows.append(row)
        rank_rows.append(rank_row(vote.outcome))
        k_max = max(k_max, len(row))
    n = len(model_rows)
    models = np.full((n, k_max), EMPTY, dtype=np.int32)
    ranks = np.zeros((n, k_max), dtype=np.int32)
    for v, (m_row, r_row) in enumerate(zip(model_rows, rank_rows, strict=True)):
        models[v, : len(m_row)] = m_row
        ranks[v, : len(r_row)] = r_row
    return VoteArrays(models=models, ranks=ranks, ids=tuple(index))


def initial_arrays(
    ids: Sequence[Hashable],
    prior: Rating,
    initial: Mapping[Hashable, Rating] | None = None,
) -> tuple[FloatArray, FloatArray]:
    """``mu`` and ``sigma`` arrays for ``ids``: the given initial rating, else the prior."""
    start = initial if initial is not None else {}
    mu = np.empty(len(ids), dtype=np.float64)
    sigma = np.empty(len(ids), dtype=np.float64)
    for i, model_id in enumerate(ids):
        rating = start.get(model_id, prior)
        mu[i] = rating.mu
        sigma[i] = rating.sigma
    return mu, sigma
