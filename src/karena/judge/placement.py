"""The output-level placement loop: karena's default method, next to the paper's :mod:`loop`.

Same shape as :class:`karena.judge.loop.LoopState` (select, score a judged ranking, stop), but:

* each reference instance's existing outputs are replaced by their inferred qualities
  (:func:`karena.judge.posterior.output_quality_posterior_batch`, from the human order);
* the new model's rating is a grid posterior over (θ, judge noise s) updated with the exact
  likelihood of the judge's order (:class:`karena.judge.posterior.GridPosterior`), so the judge's
  reliability is learnt across runs instead of being a per-run weight;
* it stops when the posterior standard deviation of θ falls below ``stop_sigma`` (1.4), or at
  ``max_runs``. Unlike the paper's σ, this one is calibrated (docs/judge.md, "What the interval
  means"), so the rule stops when the evidence is enough, not when the update thinks it is.

See docs/judge.md ("Output-level placement") for the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from karena.errors import InvalidInput
from karena.judge.matching import MatchingTable, UncertaintyKind
from karena.judge.posterior import (
    DEFAULT_HUMAN_NOISE_SHARE,
    GridPosterior,
    OutputQuality,
    output_quality_posterior_batch,
    split_beta,
)
from karena.rating.models.thurstone import DEFAULT_BETA, DEFAULT_MU, DEFAULT_SIGMA
from karena.rating.types import Rating

__all__ = [
    "DEFAULT_OUTPUT_STOP_SIGMA",
    "PlacementConfig",
    "PlacementState",
    "infer_output_qualities",
    "output_matching_table",
]

#: Stop when the posterior sd of θ is below this (μ units). Chosen in the benchmark so that the
#: median placement takes at most 60 runs with a GPT-4o-level judge (docs/judge.md).
DEFAULT_OUTPUT_STOP_SIGMA = 1.4


@dataclass(frozen=True, slots=True)
class PlacementConfig:
    """Knobs of the output-level loop; ``reliability=False`` trusts the judge (s at its minimum).

    Matching defaults to the paper figure's Σ_k |μ − m_k| over the output qualities, without the
    diversity term (α = 0): measured better here than |mean − μ| + 0.5·diversity.
    """

    max_runs: int = 150
    stop_sigma: float = DEFAULT_OUTPUT_STOP_SIGMA
    human_noise_share: float = DEFAULT_HUMAN_NOISE_SHARE
    beta: float = DEFAULT_BETA
    alpha: float = 0.0
    uncertainty: UncertaintyKind = "sum"
    matching: bool = True
    reliability: bool = True
    swapping: bool = True
    seed: int = 0
    mu0: float = DEFAULT_MU
    sigma0: float = DEFAULT_SIGMA

    def __post_init__(self) -> None:
        if self.max_runs < 1:
            raise InvalidInput(f"max_runs must be at least 1, got {self.max_runs}")
        if not (math.isfinite(self.stop_sigma) and self.stop_sigma > 0):
            raise InvalidInput(f"stop_sigma must be > 0, got {self.stop_sigma}")
        if not (math.isfinite(self.sigma0) and self.sigma0 > 0 and math.isfinite(self.mu0)):
            raise InvalidInput("the prior needs a finite mu0 and sigma0 > 0")
        split_beta(self.beta, self.human_noise_share)  # validates the share

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for the journal header and the report."""
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


def infer_output_qualities(
    instance_ratings: Sequence[Sequence[Rating]],
    human_ranks: Sequence[Sequence[float]],
    config: PlacementConfig,
) -> list[OutputQuality]:
    """Every instance's existing-output qualities (instances grouped by K, batched)."""
    beta_o, human = split_beta(config.beta, config.human_noise_share)
    out: list[OutputQuality | None] = [None] * len(instance_ratings)
    by_k: dict[int, list[int]] = {}
    for i, ratings in enumerate(instance_ratings):
        if len(ratings) != len(human_ranks[i]):
            raise InvalidInput(f"instance {i}: ratings and human ranks differ in length")
        by_k.setdefault(len(ratings), []).append(i)
    rng = np.random.default_rng([config.seed, 7])
    for idx in by_k.values():
        mu = np.array([[r.mu for r in instance_ratings[i]] for i in idx])
        sd = np.array([[r.sigma for r in instance_ratings[i]] for i in idx])
        hr = np.array([list(human_ranks[i]) for i in idx], dtype=float)
        mean, var = output_quality_posterior_batch(
            mu, sd, hr, beta_o, human, rng, chains=100, sweeps=30, burn_in=10
        )
        for row, i in enumerate(idx):
            out[i] = OutputQuality(mean[row], var[row])
    return [q for q in out if q is not None]


def output_matching_table(
    qualities: Sequence[OutputQuality], alpha: float, uncertainty: UncertaintyKind = "sum"
) -> MatchingTable:
    """The paper's dynamic matching, computed on output qualities instead of model ratings."""
    return MatchingTable.build(
        [
            [Rating(float(m), math.sqrt(float(v))) for m, v in zip(q.mean, q.var, strict=True)]
            for q in qualities
        ],
        alpha,
        uncertainty,
    )


@dataclass
class PlacementState:
    """The new model's grid posterior, the instances used, and the stopping rule."""

    qualities: Sequence[OutputQuality]
    config: PlacementConfig
    #: Dynamic matching on the output qualities; built here unless given (it is per reference set).
    table: MatchingTable | None = None
    posterior: GridPosterior = field(init=False)
    used: set[int] = field(default_factory=set)
    runs: int = 0
    scored: int = 0
    history: list[tuple[int, float, float]] = field(default_factory=list)
    _random_order: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.qualities:
            raise InvalidInput("the reference set must not be empty")
        beta_o, _ = split_beta(self.config.beta, self.config.human_noise_share)
        self.posterior = GridPosterior(self.config.mu0, self.config.sigma0, beta_o)
        if not self.config.reliability:
            self.posterior.fix_noise(float(self.posterior.s.min()))
        if self.table is None:
            self.table = output_matching_table(
                self.qualities, self.config.alpha, self.config.uncertainty
            )
        self.history.append((0, *self.posterior.moments()))

    @property
    def rating(self) -> Rating:
        """The posterior mean and standard deviation of θ, as a rating."""
        return Rating(*self.posterior.moments())

    def stop_reason(self) -> str | None:
        """Why the loop should stop now, or None to go on."""
        if self.rating.sigma < self.config.stop_sigma:
            return "converged"
        if self.runs >= self.config.max_runs:
            return "max_runs"
        if len(self.used) >= len(self.qualities):
            return "exhausted"
        return None

    def select(self, count: int = 1) -> list[int]:
        """The next ``count`` unused instances (matching on output qualities, or seeded random)."""
        if self.config.matching and self.table is not None:
            return self.table.select(self.rating.mu, self.used, count)
        if self._random_order is None:
            rng = np.random.default_rng([self.config.seed, 1])
            self._random_order = rng.permutation(len(self.qualities))
        return [int(i) for i in self._random_order if int(i) not in self.used][:count]

    def apply(self, instance: int, ranks: Sequence[int] | None) -> None:
        """Record a run: the judge's strict ranks (existing first, new last), or None if skipped."""
        if instance in self.used:
            raise InvalidInput(f"instance {instance} was already used")
        if ranks is not None:
            self.posterior.update(self.qualities[instance], ranks)
            self.scored += 1
        self.used.add(instance)
        self.runs += 1
        self.history.append((self.runs, *self.posterior.moments()))
