"""The one rating-model abstraction. Algorithms differ only in their update and likelihood terms.

Every caller reaches a model's maths through this interface: the store and the judge one vote
at a time (:meth:`OnlineRatingModel.update`), ``replay`` a whole log as arrays
(:meth:`OnlineRatingModel.replay_arrays`), the simulator one vote in each of S arenas
(:meth:`OnlineRatingModel.update_arenas`). A model with a compiled kernel overrides the two
array forms with it; any other model gets them from its scalar update, here.
"""

from __future__ import annotations

import abc
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from karena.rating.types import (
    EMPTY,
    InvalidVote,
    Outcome,
    Rating,
    Vote,
    outcome_from_rank_row,
    validate_outcome,
)

__all__ = ["OnlineRatingModel", "check_order", "has_own_kernel"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.integer[Any]]


class OnlineRatingModel(abc.ABC):
    """A rating algorithm that updates Gaussian (or point) ratings one vote at a time.

    Subclasses implement :meth:`initial`, :meth:`_update`, :meth:`win_probability` and
    :meth:`ranking_probability`; validation, replay and the array forms are written here once.
    """

    #: Short, stable identifier used in settings, storage and the CLI.
    name: str = "abstract"

    @abc.abstractmethod
    def initial(self) -> Rating:
        """The prior rating of a model that has not been seen yet."""

    @abc.abstractmethod
    def _update(self, ratings: tuple[Rating, ...], outcome: Outcome) -> tuple[Rating, ...]:
        """Return the posterior ratings; inputs are already validated."""

    @abc.abstractmethod
    def win_probability(self, a: Rating, b: Rating) -> float:
        """The probability that a model rated ``a`` is preferred to one rated ``b``."""

    @abc.abstractmethod
    def ranking_probability(self, ratings: Sequence[Rating], order: Sequence[int]) -> float:
        """The probability of the strict order ``order`` (positions, best first)."""

    def update(self, ratings: Sequence[Rating], outcome: Outcome) -> tuple[Rating, ...]:
        """Return new ratings for the contestants of one vote, in the same order.

        Raises
        ------
        InvalidVote
            If the outcome is malformed or its K differs from ``len(ratings)``.
        """
        validate_outcome(outcome)
        if outcome.k != len(ratings):
            raise InvalidVote(f"outcome is for K={outcome.k} but {len(ratings)} ratings were given")
        return self._update(tuple(ratings), outcome)

    def replay(
        self,
        votes: Iterable[Vote],
        initial: Mapping[Hashable, Rating] | None = None,
    ) -> dict[Hashable, Rating]:
        """Rebuild ratings from a vote log, in log order, one vote at a time (the reference).

        Models absent from ``initial`` start at :meth:`initial`. The same log always gives the
        same result; :func:`karena.rating.replay.replay` gives it faster through the arrays.
        """
        state: dict[Hashable, Rating] = dict(initial) if initial is not None else {}
        prior = self.initial()
        for vote in votes:
            current = tuple(state.get(m, prior) for m in vote.models)
            for model, new in zip(vote.models, self._update(current, vote.outcome), strict=True):
                state[model] = new
        return state

    # -- array forms: overridden by models with a compiled kernel ----------------------------

    def replay_arrays(
        self, mu: FloatArray, sigma: FloatArray, models: IntArray, ranks: IntArray
    ) -> None:
        """Apply every vote (rows of ``models``/``ranks``) in order to ``mu``/``sigma``, in place.

        See :mod:`karena.rating.kernels` for the array conventions.
        """
        for row_m, row_r in zip(models, ranks, strict=True):
            self._update_row(mu, sigma, row_m, row_r)

    def update_arenas(
        self, mu: FloatArray, sigma: FloatArray, models: IntArray, ranks: IntArray
    ) -> None:
        """One vote in each of S independent arenas: row ``s`` of ``models``/``ranks`` updates
        ``mu[s]``/``sigma[s]`` (shape (S, n_models)), in place."""
        for s in range(models.shape[0]):
            self._update_row(mu[s], sigma[s], models[s], ranks[s])

    def _update_row(
        self, mu: FloatArray, sigma: FloatArray, models: IntArray, ranks: IntArray
    ) -> None:
        used = [j for j in range(len(models)) if models[j] != EMPTY]
        idx = [int(models[j]) for j in used]
        before = tuple(Rating(float(mu[i]), float(sigma[i])) for i in idx)
        after = self._update(before, outcome_from_rank_row([int(ranks[j]) for j in used]))
        for i, new in zip(idx, after, strict=True):
            mu[i], sigma[i] = new.mu, new.sigma


def has_own_kernel(model: OnlineRatingModel) -> bool:
    """True when the model's array forms are a kernel written beside its own scalar update.

    A subclass that changes ``_update`` but inherits its parent's kernel would replay different
    maths from the one it updates with; it gets the generic array forms instead.
    """
    cls = type(model)
    owner = next(c for c in cls.__mro__ if "replay_arrays" in c.__dict__)
    return owner is not OnlineRatingModel and cls._update is owner.__dict__.get("_update")


def check_order(order: Sequence[int], k: int) -> None:
    """Raise :class:`InvalidVote` unless ``order`` is a permutation of ``range(k)``."""
    if sorted(order) != list(range(k)):
        raise InvalidVote(f"order must be a permutation of 0..{k - 1}, got {list(order)!r}")
