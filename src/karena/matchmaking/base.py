"""The matchmaking contract: pick which K models meet next, from explicit inputs only.

Two views of the same inputs exist. :class:`MatchState` is one arena (the server's view);
:class:`MatchArrays` stacks S independent arenas as numpy arrays (the simulator's view, so that
20 seeds advance in one vectorised step). Every concrete matchmaker implements the batched
:meth:`ArrayMatchmaker.select_batch` once; :meth:`ArrayMatchmaker.select` runs it with S = 1, so
the server and the simulator execute the very same code.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, overload

import numpy as np
import numpy.typing as npt

from karena.errors import InvalidInput
from karena.matchmaking.pairs import DensePairCounts, PairCounts
from karena.rating.types import Rating

__all__ = ["ArrayMatchmaker", "MatchArrays", "MatchState", "Matchmaker", "RatingArrays"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


_A = TypeVar("_A", bound=np.ndarray[Any, Any])


def _frozen(a: _A) -> _A:
    a.flags.writeable = False
    return a


class RatingArrays(Sequence[Rating]):
    """The ratings of n models as two float arrays: a ``Sequence[Rating]`` of n items without
    n Python objects (the server's 10⁴-model arenas; a :class:`Rating` is built per item read).

    The arrays are copied and read-only. Equal to any sequence of the same ratings.
    """

    __slots__ = ("mu", "sigma")

    def __init__(self, mu: npt.ArrayLike, sigma: npt.ArrayLike) -> None:
        m = np.array(mu, dtype=np.float64)
        s = np.array(sigma, dtype=np.float64)
        if m.ndim != 1 or m.shape != s.shape:
            raise InvalidInput(
                f"mu and sigma must be equal-length vectors, got {m.shape}, {s.shape}"
            )
        if not (np.isfinite(m).all() and np.isfinite(s).all() and (s >= 0).all()):
            raise InvalidInput("ratings must be finite with sigma >= 0")
        self.mu: FloatArray = _frozen(m)
        self.sigma: FloatArray = _frozen(s)

    def __len__(self) -> int:
        return int(self.mu.shape[0])

    @overload
    def __getitem__(self, i: int) -> Rating: ...
    @overload
    def __getitem__(self, i: slice) -> RatingArrays: ...
    def __getitem__(self, i: int | slice) -> Rating | RatingArrays:
        if isinstance(i, slice):
            return RatingArrays(self.mu[i], self.sigma[i])
        return Rating(float(self.mu[i]), float(self.sigma[i]))

    def __iter__(self) -> Iterator[Rating]:
        for m, s in zip(self.mu.tolist(), self.sigma.tolist(), strict=True):
            yield Rating(m, s)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RatingArrays):
            return bool(
                np.array_equal(self.mu, other.mu) and np.array_equal(self.sigma, other.sigma)
            )
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RatingArrays(n={len(self)})"


@dataclass(frozen=True, slots=True)
class MatchState:
    """Everything a matchmaker may look at. Models are indexed 0..n−1.

    Building one costs O(n) numpy work (plus O(n) Python only when ``ratings`` is a plain tuple
    of :class:`Rating`): the server builds its states from :class:`RatingArrays` and
    :class:`~karena.matchmaking.pairs.SparsePairCounts`, so a pick does no per-model Python.

    Attributes
    ----------
    ratings :
        Current rating of each model: a tuple of :class:`Rating`, or :class:`RatingArrays`.
    pair_counts :
        How often models i and q have met in a counted vote (n_iq in K-Sort Arena Eq. 12), as a
        :class:`~karena.matchmaking.pairs.PairCounts` of shape (1, n). A symmetric n×n integer
        matrix is accepted too and wrapped as a ``DensePairCounts``. The diagonal is ignored.
    busy :
        Models currently in a running (shown, not yet voted) battle; never chosen as pivot.
    disabled :
        Models that must not be chosen at all.
    paired :
        (variant, parent) pairs still waiting for a verdict, which a paired-mode matchmaker
        (:class:`~karena.matchmaking.paired.PairedMatchmaker`) seats together; others ignore it.
    mu, sigma, busy_mask, disabled_mask :
        The same as (n,) read-only arrays, derived on construction.
    """

    ratings: Sequence[Rating]
    pair_counts: PairCounts
    busy: frozenset[int] = field(default_factory=frozenset)
    disabled: frozenset[int] = field(default_factory=frozenset)
    paired: tuple[tuple[int, int], ...] = ()
    mu: FloatArray = field(init=False, repr=False, compare=False)
    sigma: FloatArray = field(init=False, repr=False, compare=False)
    busy_mask: BoolArray = field(init=False, repr=False, compare=False)
    disabled_mask: BoolArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = len(self.ratings)
        counts: object = self.pair_counts
        if not isinstance(counts, PairCounts):
            matrix = np.asarray(counts, dtype=np.int64)
            if matrix.shape != (n, n):
                raise InvalidInput(f"pair_counts must be {n}x{n}, got {matrix.shape}")
            object.__setattr__(self, "pair_counts", DensePairCounts(matrix))
        elif counts.shape != (1, n):
            raise InvalidInput(f"pair_counts must cover 1 arena of {n} models, got {counts.shape}")
        if isinstance(self.ratings, RatingArrays):
            mu, sigma = self.ratings.mu, self.ratings.sigma
        else:
            mu = _frozen(np.fromiter((r.mu for r in self.ratings), np.float64, n))
            sigma = _frozen(np.fromiter((r.sigma for r in self.ratings), np.float64, n))
        object.__setattr__(self, "mu", mu)
        object.__setattr__(self, "sigma", sigma)
        for what, members in (("busy", self.busy), ("disabled", self.disabled)):
            idx = np.fromiter(members, np.int64, len(members))
            if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):
                bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
                raise InvalidInput(f"{what} model index {bad} is outside 0..{n - 1}")
            mask = np.zeros(n, dtype=np.bool_)
            mask[idx] = True
            object.__setattr__(self, f"{what}_mask", _frozen(mask))
        for pair in self.paired:
            if len(pair) != 2 or not all(0 <= int(m) < n for m in pair) or pair[0] == pair[1]:
                raise InvalidInput(f"paired models {pair!r} are not two distinct indices < {n}")

    @property
    def n(self) -> int:
        return len(self.ratings)

    @property
    def n_available(self) -> int:
        """How many models may be chosen (not disabled)."""
        return self.n - int(np.count_nonzero(self.disabled_mask))

    def available(self) -> list[int]:
        """Models that may be chosen (not disabled)."""
        chosen: list[int] = np.flatnonzero(~self.disabled_mask).tolist()
        return chosen

    def to_arrays(self) -> MatchArrays:
        """This state as a batch of one arena (views: O(1) beyond the masks' O(n))."""
        return MatchArrays(
            mu=self.mu[None, :],
            sigma=self.sigma[None, :],
            pair_counts=self.pair_counts,
            busy=self.busy_mask[None, :],
            disabled=self.disabled_mask[None, :],
            paired=np.asarray(self.paired, dtype=np.int64).reshape(1, -1, 2),
        )


@dataclass(frozen=True, slots=True)
class MatchArrays:
    """S independent arenas of n models each, as arrays (row s = arena s).

    Attributes
    ----------
    mu, sigma :
        (S, n) rating means and standard deviations.
    pair_counts :
        Meeting counts n_iq of shape (S, n) (:class:`~karena.matchmaking.pairs.PairCounts`);
        an (S, n, n) symmetric matrix is accepted and wrapped as a ``DensePairCounts``.
    busy, disabled :
        (S, n) boolean masks, with the meaning of :class:`MatchState`.
    paired :
        (S, P, 2) (variant, parent) pairs waiting for a verdict; rows with fewer pad with −1.
        Default: none (shape (S, 0, 2)).

    Matchmakers only read these arrays.
    """

    mu: FloatArray
    sigma: FloatArray
    pair_counts: PairCounts
    busy: BoolArray
    disabled: BoolArray
    paired: IntArray | None = None

    def __post_init__(self) -> None:
        counts: object = self.pair_counts
        if not isinstance(counts, PairCounts):
            object.__setattr__(self, "pair_counts", DensePairCounts(np.asarray(counts)))
        if self.paired is None:
            object.__setattr__(self, "paired", np.zeros((self.mu.shape[0], 0, 2), np.int64))

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
    if (
        arrays.pair_counts.shape != (s, n)
        or arrays.busy.shape != (s, n)
        or arrays.disabled.shape != (s, n)
    ):
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
    counts = arrays.pair_counts.totals.astype(np.float64)
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
