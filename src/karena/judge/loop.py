"""The K-Sort Eval loop (K-Sort Eval §3; METHODS §2.2), in two layers.

:class:`LoopState` is the pure part (no I/O): which instance to judge next, how a judged
ranking moves the new model's rating, when to stop. The benchmark drives it with a simulated
judge. :class:`Evaluator` (in :mod:`karena.judge.evaluator`) drives it with a real VLM, a journal
and a progress bar.

Every random choice (the order of the "no matching" ablation, the swap permutation of each run)
comes from a Generator seeded by ``(seed, purpose, run)``, so a resumed evaluation makes the same
choices an uninterrupted one would have made.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from karena.errors import InvalidInput
from karena.judge.correction import DEFAULT_KAPPA, correct, spearman
from karena.judge.matching import DEFAULT_ALPHA, MatchingTable, UncertaintyKind
from karena.judge.update import UpdateKind, update_new_model
from karena.rating.base import OnlineRatingModel
from karena.rating.models.thurstone import DEFAULT_MU, DEFAULT_SIGMA, ThurstoneK
from karena.rating.types import Rating

__all__ = ["LoopConfig", "LoopState", "RunOutcome", "ranks_from_order", "swap_permutation"]

StopReason = Literal["converged", "max_runs", "exhausted"]


@dataclass(frozen=True, slots=True)
class LoopConfig:
    """The loop's knobs; the defaults are the paper's."""

    max_runs: int = 150
    stop_sigma: float = 0.75
    alpha: float = DEFAULT_ALPHA
    kappa: float = DEFAULT_KAPPA
    uncertainty: UncertaintyKind = "mean"
    matching: bool = True
    correction: bool = True
    swapping: bool = True
    update: UpdateKind = "sequential"
    seed: int = 0
    mu0: float = DEFAULT_MU
    sigma0: float = DEFAULT_SIGMA
    #: β of the judge update; None uses the rating model's (the arena's) β. A judge noisier than
    #: the humans justifies a larger one: docs/judge.md measures √(β² + s²).
    beta: float | None = None

    def __post_init__(self) -> None:
        if self.max_runs < 1:
            raise InvalidInput(f"max_runs must be at least 1, got {self.max_runs}")
        if not (math.isfinite(self.stop_sigma) and self.stop_sigma > 0):
            raise InvalidInput(f"stop_sigma must be > 0, got {self.stop_sigma}")
        if not (math.isfinite(self.kappa) and self.kappa >= 0):
            raise InvalidInput(f"kappa must be >= 0, got {self.kappa}")
        if not (math.isfinite(self.sigma0) and self.sigma0 > 0 and math.isfinite(self.mu0)):
            raise InvalidInput("the prior needs a finite mu0 and sigma0 > 0")
        if self.beta is not None and not (math.isfinite(self.beta) and self.beta > 0):
            raise InvalidInput(f"beta must be > 0, got {self.beta}")

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for the journal header and the report."""
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


def swap_permutation(k_plus_1: int, seed: int, run: int, swapping: bool) -> tuple[int, ...]:
    """Display order of a run: ``shown[p]`` is the instance index shown at position ``p``.

    Index ``K`` is the new model's output. Without swapping it is always shown last.
    """
    if not swapping:
        return tuple(range(k_plus_1))
    rng = np.random.default_rng([seed, 2, run])
    return tuple(int(x) for x in rng.permutation(k_plus_1))


def ranks_from_order(order: Sequence[int], shown: Sequence[int]) -> tuple[int, ...]:
    """Map a judge's order of display positions (best first) back to ranks by instance index."""
    ranks = [0] * len(shown)
    for place, position in enumerate(order, start=1):
        ranks[shown[position]] = place
    return tuple(ranks)


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What one scored run did to the new model's rating."""

    ranks: tuple[int, ...]
    rho: float
    lam: float
    w: float
    updated: Rating
    rating: Rating


@dataclass
class LoopState:
    """The new model's rating, the instances used, and the history of the evaluation."""

    table: MatchingTable
    instance_ratings: Sequence[Sequence[Rating]]
    human_ranks: Sequence[Sequence[float]]
    config: LoopConfig
    rating_model: OnlineRatingModel = field(default_factory=ThurstoneK)
    rating: Rating = field(init=False)
    used: set[int] = field(default_factory=set)
    runs: int = 0
    scored: int = 0
    history: list[tuple[int, float, float]] = field(default_factory=list)
    _random_order: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.rating = Rating(self.config.mu0, self.config.sigma0)
        if not self.history:  # run 0: the prior, so plots start where the evaluation started
            self.history.append((0, self.rating.mu, self.rating.sigma))
        if self.config.beta is not None:
            self.rating_model = replace(self.rating_model, beta=self.config.beta)  # type: ignore[type-var]
        if len(self.instance_ratings) != len(self.human_ranks):
            raise InvalidInput("instance ratings and human ranks differ in length")

    def stop_reason(self) -> StopReason | None:
        """Why the loop should stop now, or None to go on."""
        if self.rating.sigma < self.config.stop_sigma:
            return "converged"
        if self.runs >= self.config.max_runs:
            return "max_runs"
        if len(self.used) >= len(self.instance_ratings):
            return "exhausted"
        return None

    def select(self, count: int = 1) -> list[int]:
        """The next ``count`` unused instances (dynamic matching, or a seeded random order)."""
        if self.config.matching:
            return self.table.select(self.rating.mu, self.used, count)
        if self._random_order is None:
            rng = np.random.default_rng([self.config.seed, 1])
            self._random_order = rng.permutation(len(self.instance_ratings))
        return [int(i) for i in self._random_order if int(i) not in self.used][:count]

    def score(self, instance: int, ranks: Sequence[int]) -> RunOutcome:
        """The (K+1)-wise update and posterior correction of one judged ranking (no mutation).

        ``ranks`` gives the K existing outputs' ranks then the new output's (1 = best).
        """
        existing = self.instance_ratings[instance]
        human = self.human_ranks[instance]
        if len(ranks) != len(existing) + 1:
            raise InvalidInput(f"expected {len(existing) + 1} ranks, got {len(ranks)}")
        updated = update_new_model(
            self.rating_model, existing, self.rating, ranks, self.config.update
        )
        rho = spearman(list(human), [float(r) for r in ranks[:-1]])
        if not self.config.correction:
            return RunOutcome(tuple(ranks), rho, 1.0, 1.0, updated, updated)
        c = correct(self.rating, updated, rho, self.config.kappa)
        return RunOutcome(tuple(ranks), rho, c.lam, c.w, updated, c.rating)

    def apply(self, instance: int, outcome: RunOutcome | None) -> None:
        """Record a finished run: scored (``outcome``) or skipped (``None``)."""
        if instance in self.used:
            raise InvalidInput(f"instance {instance} was already used")
        self.used.add(instance)
        self.runs += 1
        if outcome is not None:
            self.rating = outcome.rating
            self.scored += 1
        self.history.append((self.runs, self.rating.mu, self.rating.sigma))

    def replay(self, entries: Sequence[Mapping[str, Any]]) -> None:
        """Rebuild the state from journal entries (their stored ratings are authoritative)."""
        for e in entries:
            inst = int(e["instance_index"])
            if e["type"] == "run":
                rating = Rating(float(e["mu"]), float(e["sigma"]))
                self.apply(inst, RunOutcome((), 0.0, 1.0, 1.0, rating, rating))
            else:
                self.apply(inst, None)
