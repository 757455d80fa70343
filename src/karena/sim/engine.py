"""The simulation engine: S independent arenas advancing in lock-step, one vote each per step.

A :class:`Method` is a rating rule plus a matchmaker plus K. :class:`SimArena` holds the mutable
state of S arenas (ratings, meeting counts) for one method and runs votes, recording metrics of
the leaderboard against the ground truth as it goes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from karena.errors import InvalidInput
from karena.matchmaking.base import ArrayMatchmaker, MatchArrays, check_k
from karena.matchmaking.pairs import DensePairCounts
from karena.rating.base import OnlineRatingModel
from karena.rating.thurstone import ThurstoneK
from karena.rating.types import BestOfK, Outcome, Ranking, Rating
from karena.sim.batch_rating import BatchElo, BatchThurstone, pair_index
from karena.sim.metrics import positions
from karena.sim.noise import NoiseModel
from karena.sim.votes import VoteMode, batch_votes

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
        ``"thurstone"`` (the paper's closed form, vectorised), ``"elo"`` (vectorised, one arena
        per K-factor in ``elo_k_factors``), or any :class:`OnlineRatingModel` (run vote by vote:
        the factor graph, or the scalar reference).
    thurstone :
        Parameters of the closed-form model.
    elo_k_factors :
        K-factors swept in the same run for ``"elo"``.
    mode :
        The vote mode (see :mod:`karena.sim.votes`).
    score :
        Leaderboard score: ``"conservative"`` μ − 3σ (as K-Sort Arena ranks) or ``"mean"`` μ.
    """

    label: str
    k: int
    matchmaker: ArrayMatchmaker
    rating: Literal["thurstone", "elo"] | OnlineRatingModel = "thurstone"
    thurstone: ThurstoneK = field(default_factory=ThurstoneK)
    elo_k_factors: tuple[float, ...] = (4.0,)
    mode: VoteMode = "ranking"
    score: Literal["conservative", "mean"] = "conservative"

    @property
    def pairs_per_vote(self) -> int:
        """Pairwise-equivalent comparisons in one vote: C(K,2) for a ranking, K−1 for best-of-K."""
        return self.k - 1 if self.mode == "best" else self.k * (self.k - 1) // 2

    @property
    def arenas_per_seed(self) -> int:
        """Arenas run per seed (one per swept Elo K-factor)."""
        return len(self.elo_k_factors) if self.rating == "elo" else 1


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
        groups = method.arenas_per_seed
        base_s, n = strengths.shape
        self.method = method
        self.noise = noise
        self.rng = rng
        self.strengths = np.tile(strengths, (groups, 1))
        self.group = np.repeat(np.arange(groups), base_s).astype(np.int64)
        s = self.strengths.shape[0]
        self.truth = positions(self.strengths)
        self.disabled = (
            np.tile(disabled, (groups, 1)) if disabled is not None else np.zeros((s, n), np.bool_)
        )
        self.busy = np.zeros((s, n), dtype=np.bool_)
        self.counts = np.zeros((s, n, n), dtype=np.int64)
        self.votes = 0
        if method.rating == "elo":
            self._elo = BatchElo(k_factor=np.repeat(np.array(method.elo_k_factors), base_s))
            self.mu = self._elo.initial(s, n)
            self.var = np.zeros((s, n))
        else:
            prior = (
                method.thurstone.initial()
                if method.rating == "thurstone"
                else method.rating.initial()
            )
            self.mu = np.full((s, n), prior.mu)
            self.var = np.full((s, n), prior.sigma**2)
        self._thurstone = BatchThurstone(method.thurstone)
        check_k(self._arrays(), method.k)

    def _arrays(self) -> MatchArrays:
        counts = DensePairCounts(self.counts)
        return MatchArrays(self.mu, np.sqrt(self.var), counts, self.busy, self.disabled)

    def scores(self) -> FloatArray:
        """The leaderboard score of every model in every arena."""
        if self.method.rating == "elo" or self.method.score == "mean":
            return self.mu.copy()
        return self.mu - 3.0 * np.sqrt(self.var)

    def predicted_positions(self) -> IntArray:
        """Current leaderboard positions among enabled models; disabled ones go last."""
        score = np.where(self.disabled, -np.inf, self.scores())
        return positions(score)

    def enable(self, model: int) -> None:
        """Enable ``model`` in every arena, at the prior and with no meetings (a new entrant)."""
        self.disabled[:, model] = False
        self.counts[:, model, :] = 0
        self.counts[:, :, model] = 0
        if self.method.rating == "elo":
            self.mu[:, model] = self._elo.initial_rating
        else:
            prior = (
                self.method.thurstone.initial()
                if self.method.rating == "thurstone"
                else self.method.rating.initial()
            )
            self.mu[:, model] = prior.mu
            self.var[:, model] = prior.sigma**2

    def step(self) -> IntArray:
        """Cast one vote in every arena; return the (S, K) contestants."""
        m = self.method
        s = self.mu.shape[0]
        rows = np.arange(s)
        chosen = m.matchmaker._select_batch(self._arrays(), m.k, self.rng)
        codes = self.noise.pair_codes(self.strengths[rows[:, None], chosen], self.rng)
        ranks, informative = batch_votes(codes, m.k, m.mode, self.rng)
        if m.rating == "thurstone":
            self._thurstone.update(self.mu, self.var, chosen, ranks, informative)
        elif m.rating == "elo":
            self._elo.update(self.mu, chosen, ranks, informative)
        else:
            self._scalar_update(m.rating, chosen, ranks)
        pa, pb = pair_index(m.k)
        a, b = chosen[:, pa], chosen[:, pb]
        r = rows[:, None]
        self.counts[r, a, b] += 1
        self.counts[r, b, a] += 1
        self.votes += 1
        return chosen

    def _scalar_update(self, model: OnlineRatingModel, chosen: IntArray, ranks: IntArray) -> None:
        for row in range(chosen.shape[0]):
            idx = chosen[row]
            current = tuple(
                Rating(float(self.mu[row, i]), float(np.sqrt(self.var[row, i]))) for i in idx
            )
            outcome: Outcome
            if self.method.mode == "best":
                outcome = BestOfK(len(idx), int(np.argmin(ranks[row])))
            else:
                outcome = Ranking(tuple(int(x) for x in ranks[row]))
            for i, new in zip(idx, model.update(current, outcome), strict=True):
                self.mu[row, i] = new.mu
                self.var[row, i] = new.sigma**2

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
