"""``replay(votes, model)``: rebuild ratings from a vote log through the model's array form.

A log becomes two ``int32`` matrices, ``models`` and ``ranks`` (votes × K, the conventions of
:mod:`karena.rating.kernels`), here and nowhere else; the model's
:meth:`~karena.rating.base.OnlineRatingModel.replay_arrays` does the rest (compiled for models
that have a kernel).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from karena.rating.base import OnlineRatingModel, has_own_kernel
from karena.rating.types import EMPTY, InvalidVote, Rating, Vote

__all__ = [
    "VoteArrays",
    "encode_votes",
    "has_fast_path",
    "initial_arrays",
    "replay",
    "replay_encoded",
]

IntArray = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class VoteArrays:
    """A vote log as arrays: ``models`` and ``ranks`` (n_votes × K) plus the index → id table."""

    models: IntArray
    ranks: IntArray
    ids: tuple[Hashable, ...]

    @property
    def n_votes(self) -> int:
        return int(self.models.shape[0])


def encode_votes(votes: Iterable[Vote], ids: Sequence[Hashable] = ()) -> VoteArrays:
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
        rank_rows.append(vote.outcome.rank_row())
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


def has_fast_path(model: OnlineRatingModel) -> bool:
    """True when the model replays arrays with a compiled kernel of its own."""
    return has_own_kernel(model)


def replay_encoded(
    arrays: VoteArrays,
    model: OnlineRatingModel,
    initial: Mapping[Hashable, Rating] | None = None,
) -> dict[Hashable, Rating]:
    """Ratings after replaying already encoded votes (see :func:`replay`)."""
    mu, sigma = initial_arrays(arrays.ids, model.initial(), initial)
    model.replay_arrays(mu, sigma, arrays.models, arrays.ranks)
    return {
        model_id: Rating(float(mu[i]), float(sigma[i])) for i, model_id in enumerate(arrays.ids)
    }


def replay(
    votes: Iterable[Vote],
    model: OnlineRatingModel,
    initial: Mapping[Hashable, Rating] | None = None,
    *,
    fast: bool = True,
) -> dict[Hashable, Rating]:
    """Ratings after replaying ``votes`` in log order through ``model``.

    A model with a compiled kernel replays through it (equal to the reference
    :meth:`OnlineRatingModel.replay` to ~1e-12); other models, or ``fast=False``, use the
    reference. Either way the same log always gives the same ratings. Models that appear
    only in ``initial`` are returned unchanged.
    """
    if not (fast and has_fast_path(model)):
        return model.replay(votes, initial)
    start = dict(initial) if initial is not None else {}
    return replay_encoded(encode_votes(votes, ids=tuple(start)), model, start)
