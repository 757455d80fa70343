"""The matchmaking contract: pick which K models meet next, from explicit inputs only.

Two views of the same inputs exist. :class:`MatchState` is one arena (the server's view);
:class:`MatchArrays` stacks S independent arenas as numpy arrays (the simulator's view, so that
20 seeds advance in one vectorised step). Every concrete matchmaker implements the batched
:meth:`ArrayMatchmaker.select_batch` once; :meth:`ArrayMatchmaker.select` runs it with S = 1, so
the server and the simulator execute the very same code.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from karena.errors import InvalidInput
from karena.rating.types import Rating

__all__ = ["ArrayMatchmaker", "MatchArrays", "MatchState", "Matchmaker"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class MatchState:
    """Everything a matchmaker may look at. Models are indexed 0..n−1.

    Attributes
    ----------
    ratings :
        Current rating of each model.
    pair_counts :
        Symmetric n×n integer matrix: how often models i and q have met in a counted vote
        (n_iq in K-Sort Arena Eq. 12). The diagonal is ignored.
    busy :
        Models currently in a running (shown, not yet voted) battle; never chosen as pivot.
    disabled :
        Models that must not be chosen at all.
    """

    ratings: tuple[Rating, ...]
    pair_counts: npt.NDArray[np.int64]
    busy: frozenset[int] = field(default_factory=frozenset)
    disabled: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        n = len(self.ratings)
        if self.pair_counts.shape != (n, n):
            raise InvalidInput(f"pair_counts must be {n}x{n}, got {self.pair_counts.shape}")

    @property
    def n(self) -> int:
        return len(self.ratings)

    def available(self) -> list[int]:
        """Models that may be chosen (not disabled)."""
        return [i for i in range(self.n) if i not in self.disabled]

    def to_arrays(self) -> MatchArrays:
        """This state as a batch of one arena."""
        n = self.n
        busy = np.zeros((1, n), dtype=np.bool_)
        disabled = np.zeros((1, n), dtype=np.bool_)
        for what, mask in (("busy", busy), ("disabled", disabled)):
            for i in self.busy if what == "busy" else self.disabled:
                if not 0 <= i < n:
                    raise InvalidInput(f"{what} model index {i} is outside 0..{n - 1}")
                mask[0, i] = True
        return MatchArrays(
            mu=np.array([[r.mu for r in self.ratings]], dtype=np.float64),
            sigma=np.array([[r.sigma for r in self.ratings]], dtype=np.float64),
            pair_counts=np.asarray(self.pair_counts, dtype=np.int64)[None, :, :],
            busy=busy,
            disabled=disabled,
        )


@dataclass(frozen=True, slots=True)
class MatchArrays:
    """S independent arenas of n models each, as arrays (row s = arena s).

    Attributes
    ----------
    mu, sigma :
        (S, n) rating means and standard deviations.
    pair_counts :
        (S, n, n) symmetric meeting counts n_iq.
    busy, disabled :
        (S, n) boolean masks, with the meaning of :class:`MatchState`.
    """

    mu: FloatArray
    sigma: FloatArray
    pair_counts: IntArray
    busy: BoolArray
    disabled: BoolArray

    @property
    def shape(self) -> tuple[int, int]:
        """(S, n)."""
        s, n = self.mu.shape
        return int(s), int(n)

    @property
    def conservative(self) -> FloatArray:
        """S = μ − 3σ, the leaderboard score (K-Sort Arena Eq. 6)."""
        return self.mu - 3.0 * self.sigma


def check_k(arrays: MatchArrays, k: int) -> None:
    """Raise :class:`InvalidInput` unless every arena has ``k`` choosable models and an idle one."""
    if k < 2:
        raise InvalidInput(f"a battle needs K >= 2 models, got {k}")
    s, n = arrays.shape
    if arrays.pair_counts.shape != (s, n, n) or arrays.busy.shape != (s, n):
        raise InvalidInput("match arrays have inconsistent shapes")
    enabled = (~arrays.disabled).sum(axis=1)
    if int(enabled.min(initial=n)) < k:
        raise InvalidInput(
            f"need at least K={k} enabled models, have {int(enabled.min(initial=n))}",
            detail={"k": k, "enabled": int(enabled.min(initial=n))},
        )
    idle = (~arrays.disabled & ~arrays.busy).sum(axis=1)
    if int(idle.min(initial=n)) < 1:
        raise InvalidInput("every enabled model is busy: no pivot is available")


class Matchmaker(Protocol):
    """Chooses the K contestants of the next battle.

    Implementations hold configuration only, never state: the same ``state`` and the same
    ``rng`` state give the same answer.
    """

    name: str

    def select(self, state: MatchState, k: int, rng: np.random.Generator) -> tuple[int, ...]:
        """Return ``k`` distinct model indices; the first is the pivot where there is one.

        Raises
        ------
        InvalidInput
            If fewer than ``k`` models are available.
        """
        ...


class ArrayMatchmaker(abc.ABC):
    """A :class:`Matchmaker` written once, for a batch of arenas."""

    name: str = "abstract"

    @abc.abstractmethod
    def _select_batch(self, arrays: MatchArrays, k: int, rng: np.random.Generator) -> IntArray:
        """Return an (S, k) array of distinct indices per row; inputs are already checked."""

    def select_batch(self, arrays: MatchArrays, k: int, rng: np.random.Generator) -> IntArray:
        """Choose K contestants in each of S arenas at once; column 0 is the pivot.

        Raises
        ------
        InvalidInput
            If some arena has fewer than ``k`` enabled models or no idle one.
        """
        check_k(arrays, k)
        return self._select_batch(arrays, k, rng)

    def select(self, state: MatchState, k: int, rng: np.random.Generator) -> tuple[int, ...]:
        """Choose the K contestants of one arena's next battle; the first is the pivot."""
        chosen = self.select_batch(state.to_arrays(), k, rng)
        return tuple(int(i) for i in chosen[0])


def least_compared_pivot(arrays: MatchArrays, rng: np.random.Generator) -> IntArray:
    """The pivot of K-Sort Arena §3.2: argmin_i Σ_q n_iq over idle, enabled models.

    Ties (e.g. every model at 0 comparisons) are broken uniformly at random with ``rng``: the
    paper is silent, and a fixed order (lowest index first) would bias who enters first.
    """
    counts = arrays.pair_counts.sum(axis=2).astype(np.float64)
    # Counts are integers, so a jitter in [0, 0.5) reorders only exact ties.
    key = counts + 0.5 * rng.random(counts.shape)
    key[arrays.busy | arrays.disabled] = np.inf
    return np.asarray(np.argmin(key, axis=1), dtype=np.int64)


def top_by_score(
    score: FloatArray, exclude: BoolArray, count: int, rng: np.random.Generator
) -> IntArray:
    """Per row, the ``count`` columns with the highest ``score`` (best first), ties at random.

    Excluded columns are never chosen. ``score`` may hold +inf (e.g. unmet pairs first). Exact
    ties are broken by a uniformly random permutation of the columns, drawn from ``rng``.
    """
    s, n = score.shape
    perm = rng.permuted(np.tile(np.arange(n), (s, 1)), axis=1)
    key = np.take_along_axis(np.where(exclude, np.inf, -score), perm, axis=1)
    if count < n:
        part = np.argpartition(key, count - 1, axis=1)[:, :count]
    else:
        part = np.tile(np.arange(n), (s, 1))
    best_first = np.argsort(np.take_along_axis(key, part, axis=1), axis=1, kind="stable")
    chosen = np.take_along_axis(perm, np.take_along_axis(part, best_first, axis=1), axis=1)
    return np.asarray(chosen, dtype=np.int64)
