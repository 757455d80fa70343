"""The one rating-model abstraction. Algorithms differ only in their update and likelihood terms."""

from __future__ import annotations

import abc
from collections.abc import Hashable, Iterable, Mapping, Sequence

from karena.rating.types import InvalidVote, Outcome, Rating, Vote, validate_outcome

__all__ = ["OnlineRatingModel"]


class OnlineRatingModel(abc.ABC):
    """A rating algorithm that updates Gaussian (or point) ratings one vote at a time.

    Subclasses implement :meth:`_update`, :meth:`win_probability` and
    :meth:`ranking_probability`; validation and replay are written here once.
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
        """Rebuild ratings from a vote log, in log order. The same log always gives the same result.

        Models absent from ``initial`` start at :meth:`initial`.
        """
        state: dict[Hashable, Rating] = dict(initial) if initial is not None else {}
        prior = self.initial()
        for vote in votes:
            current = tuple(state.get(m, prior) for m in vote.models)
            for model, new in zip(vote.models, self._update(current, vote.outcome), strict=True):
                state[model] = new
        return state


def check_order(order: Sequence[int], k: int) -> None:
    """Raise :class:`InvalidVote` unless ``order`` is a permutation of ``range(k)``."""
    if sorted(order) != list(range(k)):
        raise InvalidVote(f"order must be a permutation of 0..{k - 1}, got {list(order)!r}")
