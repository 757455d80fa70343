"""Ratings over time: the online state sampled at vote indices, by one replay pass.

The rating history of an arena is the replay of its counted vote log (the ``models``/``ranks``
matrices of :mod:`karena.rating.replay`) through the model's own array form,
:meth:`~karena.rating.base.OnlineRatingModel.replay_arrays` (the compiled kernel where the
model has one). A replay stopped after vote ``j`` is the state the live arena had then; the
kernels update one vote at a time with the same arithmetic as the scalar ``update``, so a replay
cut into pieces gives the same floats as one pass, and the state after the last vote equals
the stored ratings bit for bit (``tests/store/test_history.py`` checks it).

Nothing here knows about storage: :class:`RatingState` is the state after a prefix of the log,
:func:`advance` moves it forward, :func:`sample` reads one model's μ and σ after chosen votes
on the way, and :func:`grid_step` chooses checkpoint spacings that stay valid as the log grows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from karena.errors import InvalidInput
from karena.rating.base import OnlineRatingModel
from karena.rating.types import EMPTY, Rating

__all__ = ["RatingState", "Series", "advance", "grid_step", "sample", "start_state"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]
CountArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class RatingState:
    """Every model's μ, σ and vote count after the first ``at`` votes of a log.

    Indices are the log's model indices (:class:`~karena.rating.replay.VoteArrays`); a model
    the prefix never named sits at the prior. The arrays are never changed after construction.
    """

    at: int
    mu: FloatArray
    sigma: FloatArray
    votes: CountArray

    def rating(self, index: int) -> Rating:
        """The rating of model ``index`` in this state."""
        return Rating(float(self.mu[index]), float(self.sigma[index]))


@dataclass(frozen=True, slots=True)
class Series:
    """One model's μ, σ and vote count after each of the votes ``at`` (vote counts, 1-based)."""

    at: CountArray
    mu: FloatArray
    sigma: FloatArray
    votes: CountArray


def start_state(n_models: int, prior: Rating) -> RatingState:
    """The state before any vote: every model at the prior."""
    return RatingState(
        0,
        np.full(n_models, prior.mu, dtype=np.float64),
        np.full(n_models, prior.sigma, dtype=np.float64),
        np.zeros(n_models, dtype=np.int64),
    )


def _working_copy(
    state: RatingState, n_models: int, prior: Rating
) -> tuple[FloatArray, FloatArray, CountArray]:
    """Writable copies of the state, widened to ``n_models`` with the prior for new models."""
    extra = n_models - state.mu.shape[0]
    if extra < 0:
        raise InvalidInput("a rating state cannot shrink to fewer models")
    mu = np.concatenate([state.mu, np.full(extra, prior.mu)])
    sigma = np.concatenate([state.sigma, np.full(extra, prior.sigma)])
    votes = np.concatenate([state.votes, np.zeros(extra, dtype=np.int64)])
    return mu, sigma, votes


def _apply(
    model: OnlineRatingModel,
    mu: FloatArray,
    sigma: FloatArray,
    votes: CountArray,
    models: IntArray,
    ranks: IntArray,
) -> None:
    """Replay ``models``/``ranks`` into ``mu``/``sigma`` and count each model's votes, in place."""
    if models.shape[0] == 0:
        return
    model.replay_arrays(mu, sigma, models, ranks)
    named = models[models != EMPTY]
    votes += np.bincount(named, minlength=votes.shape[0]).astype(np.int64)


def advance(
    model: OnlineRatingModel,
    state: RatingState,
    models: IntArray,
    ranks: IntArray,
    to: int,
    n_models: int,
    prior: Rating,
) -> RatingState:
    """The state after the first ``to`` votes of the log ``models``/``ranks``, from ``state``.

    Replays votes ``state.at .. to − 1`` through ``model.replay_arrays``; ``n_models`` is the
    log's model count (new models start at ``prior``). ``state`` is left as it was.
    """
    if not state.at <= to <= models.shape[0]:
        raise InvalidInput(f"cannot advance a state at vote {state.at} to vote {to}")
    mu, sigma, votes = _working_copy(state, n_models, prior)
    _apply(model, mu, sigma, votes, models[state.at : to], ranks[state.at : to])
    return RatingState(to, mu, sigma, votes)


def sample(
    model: OnlineRatingModel,
    state: RatingState,
    models: IntArray,
    ranks: IntArray,
    at: Sequence[int] | npt.NDArray[np.integer],
    index: int,
    n_models: int,
    prior: Rating,
) -> Series:
    """Model ``index``'s μ, σ and vote count after each of the votes ``at`` (increasing counts).

    One replay pass from ``state`` to the last of ``at``, stopping at each to read the model.
    """
    points = np.asarray(at, dtype=np.int64)
    if points.size and (points[0] < state.at or np.any(np.diff(points) <= 0)):
        raise InvalidInput("sample points must increase and not precede the state")
    if points.size and points[-1] > models.shape[0]:
        raise InvalidInput("a sample point lies past the end of the log")
    mu, sigma, votes = _working_copy(state, n_models, prior)
    out_mu = np.empty(points.size)
    out_sigma = np.empty(points.size)
    out_votes = np.empty(points.size, dtype=np.int64)
    here = state.at
    for i, stop in enumerate(points.tolist()):
        _apply(model, mu, sigma, votes, models[here:stop], ranks[here:stop])
        here = stop
        out_mu[i], out_sigma[i], out_votes[i] = mu[index], sigma[index], votes[index]
    return Series(points, out_mu, out_sigma, out_votes)


def grid_step(n_votes: int, max_points: int) -> int:
    """The smallest power of two ``s`` with at most ``max_points`` multiples of ``s`` in 1..n.

    Checkpoints at multiples of a power of two stay checkpoints when the log grows and the
    step doubles, so what was computed at them (cached states, fitted boards) stays useful.
    """
    if max_points < 1 or n_votes < 0:
        raise InvalidInput("need max_points >= 1 and n_votes >= 0")
    step = 1
    while n_votes // step > max_points:
        step *= 2
    return step
