"""The simulation engine: S independent arenas advancing in lock-step, one vote each per step.

A :class:`Method` is a rating rule plus a matchmaker plus K. :class:`SimArena` holds the mutable
state of S arenas (ratings, meeting counts) for one method and runs votes, recording metrics of
the leaderboard against the ground truth as it goes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import numpy.typing as npt

from karena.errors import InvalidInput
from karena.matchmaking.base import ArrayMatchmaker, MatchArrays, check_k
from karena.matchmaking.pairs import DensePairCounts
from karena.rating.base import OnlineRatingModel
from karena.rating.models.thurstone import ThurstoneK
from karena.rating.types import VoteKind
from karena.sim.metrics import positions
from karena.sim.noise import NoiseModel, pair_index
from karena.sim.votes import batch_votes

__all__ = ["Method", "RunRecord", "SimArena"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Metric = Callable[[IntArray, IntArray], FloatArray]


@dataclass(frozen=True, slots=True)
class Method:
    """One contender of the convergence study.

    Attributes
    ----------
    label :
        Name in tables and plots.
    k :
        Models per battle.
    matchmaker :
        Who meets whom.
    rating :
        Any online rating model; the simulator calls its
        :meth:`~karena.rating.base.OnlineRatingModel.update_arenas` (compiled for the models
        that have a kernel, vote by vote for the others).
    sweep :
        Values of the rating model's field ``sweep_field`` run side by side in one run, one
        group of arenas each (e.g. Elo K-factors); empty: just ``rating``.
    sweep_field :
        The field ``sweep`` varies (``"k"``, Elo's K-factor).
    mode :
        The vote kind simulated voters cast (``rank`` or ``best``, :mod:`karena.sim.votes`).
    score :
        Leaderboard score: ``"conservative"`` μ − 3σ (as K-Sort Arena ranks) or ``"mean"`` μ.
    """

    label: str
    k: int
    matchmaker: ArrayMatchmaker
    rating: OnlineRatingModel = field(default_factory=ThurstoneK)
    sweep: tuple[float, ...] = ()
    sweep_field: str = "k"
    mode: VoteKind = VoteKind.RANK
    score: Literal["conservative", "mean"] = "conservative"

    @property
    def pairs_per_vote(self) -> int:
        """Pairwise-equivalent comparisons in one vote: C(K,2) for a ranking, K−1 for best-of-K."""
        return self.k - 1 if self.mode == VoteKind.BEST else self.k * (self.k - 1) // 2

    @property
    def arenas_per_seed(self) -> int:
        """Arenas run per seed (one per swept value)."""
        return max(len(self.sweep), 1)

    def rating_models(self) -> tuple[OnlineRatingModel, ...]:
        """The rating model of each group of arenas."""
        if not self.sweep:
            return (self.rating,)
        return tuple(replace(self.rating, **{self.sweep_field: v}) for v in self.sweep)  # type: ignore[type-var]


@dataclass(frozen=True, slots=True)
class RunRecord:
    """Metrics recorded after ``steps[t]`` votes: ``values[name]`` has shape (S·groups, T)."""

    steps: IntArray
    values: Mapping[str, FloatArray]
    group: IntArray


class SimArena:
    """Mutable state of S simulated arenas for one method (not a value: it advances in place)."""

    def __init__(
        self,
        method: Method,
        strengths: FloatArray,
        noise: NoiseModel,
        rng: np.random.Generator,
        disabled: BoolArray | None = None,
    ) -> None:
        self.models = method.rating_models()
        groups = len(self.models)
        base_s, n = strengths.shape
        self.method = method
        self.noise = noise
        self.rng = rng
        self.strengths = np.tile(strengths, (groups, 1))
        self.group = np.repeat(np.arange(groups), base_s).astype(np.int64)
        # Group g's arenas are the rows of this slice: a view, so updates land in place.
        self._slices = [slice(g * base_s, (g + 1) * base_s) for g in range(groups)]
        s = self.strengths.shape[0]
        self.truth = positions(self.strengths)
        self.disabled = (
            np.tile(disabled, (groups, 1)) if disabled is not None else np.zeros((s, n), np.bool_)
        )
        self.busy = np.zeros((s, n), dtype=np.bool_)
        self.counts = np.zeros((s, n, n), dtype=np.int64)
        # (S, P, 2) (variant, parent) pairs a paired matchmaker should seat; −1 pads. A study
        # of variant families sets it between steps (benchmarks/variants.py).
        self.paired = np.zeros((s, 0, 2), dtype=np.int64)
        # The last step's (S, K) rank rows, for studies that read the votes themselves.
        self.last_ranks = np.zeros((s, method.k), dtype=np.int32)
        self.votes = 0
        self.mu = np.empty((s, n), dtype=np.float64)
        self.sigma = np.empty((s, n), dtype=np.float64)
        for model, rows in zip(self.models, self._slices, strict=True):
            prior = model.initial()
            self.mu[rows], self.sigma[rows] = prior.mu, prior.sigma
        check_k(self._arrays(), method.k)

    def _arrays(self) -> MatchArrays:
        counts = DensePairCounts(self.counts)
        return MatchArrays(self.mu, self.sigma, counts, self.busy, self.disabled, self.paired)

    def scores(self) -> FloatArray:
        """The leaderboard score of every model in every arena."""
        if self.method.score == "mean":
            return self.mu.copy()
        return self.mu - 3.0 * self.sigma

    def predicted_positions(self) -> IntArray:
        """Current leaderboard positions among enabled models; disabled ones go last."""
        score = np.where(self.disabled, -np.inf, self.scores())
        return positions(score)

    def enable(self, model: int) -> None:
        """Enable ``model`` in every arena, at the prior and with no meetings (a new entrant)."""
        self.disabled[:, model] = False
        self.counts[:, model, :] = 0
        self.counts[:, :, model] = 0
        for rating_model, rows in zip(self.models, self._slices, strict=True):
            prior = rating_model.initial()
            self.mu[rows, model], self.sigma[rows, model] = prior.mu, prior.sigma

    def step(self) -> IntArray:
        """Cast one vote in every arena; return the (S, K) contestants."""
        m = self.method
        s = self.mu.shape[0]
        rows = np.arange(s)
        chosen = m.matchmaker._select_batch(self._arrays(), m.k, self.rng)
        codes = self.noise.pair_codes(self.strengths[rows[:, None], chosen], self.rng)
        ranks = batch_votes(codes, m.k, m.mode, self.rng)
        self.last_ranks = ranks
        for model, sl in zip(self.models, self._slices, strict=True):
            model.update_arenas(self.mu[sl], self.sigma[sl], chosen[sl], ranks[sl])
        pa, pb = pair_index(m.k)
        a, b = chosen[:, pa], chosen[:, pb]
        r = rows[:, None]
        self.counts[r, a, b] += 1
        self.counts[r, b, a] += 1
        self.votes += 1
        return chosen

    def run(
        self,
        votes: int,
        metrics: Mapping[str, Metric],
        every: int = 1,
        progress: Callable[[int], None] | None = None,
    ) -> RunRecord:
        """Cast ``votes`` more votes per arena, recording ``metrics`` every ``every`` votes.

        The state before the first vote is recorded too (t = 0 of the curve). ``progress`` is
        called with the number of votes just cast, about 100 times per run.
        """
        if votes < 0 or every < 1:
            raise InvalidInput(f"votes must be >= 0 and every >= 1, got {votes}, {every}")
        steps = [self.votes]
        recorded: dict[str, list[FloatArray]] = {name: [] for name in metrics}

        def record() -> None:
            pred = self.predicted_positions()
            for name, fn in metrics.items():
                recorded[name].append(np.asarray(fn(pred, self.truth), dtype=np.float64))

        record()
        tick = max(votes // 100, 1)
        pending = 0
        for done in range(1, votes + 1):
            self.step()
            pending += 1
            if done % every == 0 or done == votes:
                steps.append(self.votes)
                record()
            if progress is not None and (done % tick == 0 or done == votes):
                progress(pending)
                pending = 0
        return RunRecord(
            steps=np.array(steps, dtype=np.int64),
            values={name: np.stack(vals, axis=1) for name, vals in recorded.items()},
            group=self.group,
        )
