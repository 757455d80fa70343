"""Batch Bradley–Terry maximum likelihood with ties, and its 95% intervals (bootstrap, sandwich).

The data are aggregated: one row per model pair with its counts of wins each way and ties. Every
computation below works on those unique outcomes, never on expanded battles, so a fit on the
1.67M Chatbot Arena battles (3,460 pairs) costs a few Newton steps on a 129×129 system.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

from karena.errors import InvalidInput, NotFound
from karena.rating.bt_likelihood import (
    FloatArray,
    TieModel,
    check_estimable,
    gauge_matrix,
    make_problem,
    newton,
    row_terms,
    score_outer_products,
    solve_spd,
)
from karena.rating.pair_counts import PairCounts

__all__ = [
    "BTFit",
    "BTIntervals",
    "IntervalRow",
    "PairCounts",
    "TieModel",
    "bootstrap_intervals",
    "fit_bradley_terry",
    "sandwich_intervals",
]


@dataclass(frozen=True, slots=True, eq=False)  # arrays: compare by identity
class BTFit:
    """A Bradley–Terry fit: ``ratings`` on the Elo-like scale, ``strengths`` θ in natural log units.

    P(a beats b) = 1 / (1 + base^((R_b − R_a)/scale)) = σ(θ_a − θ_b) under the "half" tie model.
    """

    models: tuple[Hashable, ...]
    ratings: FloatArray
    strengths: FloatArray
    ties: TieModel
    tie_strength: float | None
    log_likelihood: float
    iterations: int
    scale: float
    base: float
    init_rating: float

    def _index(self, model: Hashable) -> int:
        try:
            return self.models.index(model)
        except ValueError:
            raise NotFound(f"unknown model {model!r}") from None

    def rating(self, model: Hashable) -> float:
        """The rating of one model."""
        return float(self.ratings[self._index(model)])

    def order(self) -> tuple[Hashable, ...]:
        """Model names, best first (ties in rating broken by model order)."""
        return tuple(self.models[k] for k in np.argsort(-self.ratings, kind="stable"))

    def top(self, n: int) -> list[tuple[Hashable, float]]:
        """The ``n`` best models with their ratings."""
        return [(m, self.rating(m)) for m in self.order()[:n]]

    def as_dict(self) -> dict[Hashable, float]:
        """Ratings keyed by model."""
        return {m: float(r) for m, r in zip(self.models, self.ratings, strict=True)}

    def win_probability(self, a: Hashable, b: Hashable) -> float:
        """P(a beats b), with ties excluded (Davidson) or split in half ("half")."""
        d = self.strengths[self._index(a)] - self.strengths[self._index(b)]
        return float(1.0 / (1.0 + math.exp(-d)))


@dataclass(frozen=True, slots=True)
class IntervalRow:
    """One leaderboard line: a model, its rating and its interval."""

    model: Hashable
    rating: float
    lower: float
    upper: float


@dataclass(frozen=True, slots=True, eq=False)  # arrays: compare by identity
class BTIntervals:
    """Ratings with confidence intervals; ``draws`` holds bootstrap ratings (rounds × models)."""

    models: tuple[Hashable, ...]
    ratings: FloatArray
    lower: FloatArray
    upper: FloatArray
    method: Literal["bootstrap", "sandwich"]
    level: float
    fit: BTFit
    draws: FloatArray | None = None

    def __post_init__(self) -> None:
        for array in (self.lower, self.upper):
            array.setflags(write=False)

    def rows(self) -> list[IntervalRow]:
        """Every model, best rating first."""
        order = np.argsort(-self.ratings, kind="stable")
        return [
            IntervalRow(
                self.models[k], float(self.ratings[k]), float(self.lower[k]), float(self.upper[k])
            )
            for k in order
        ]


def _cells(counts: PairCounts) -> FloatArray:
    return np.stack([counts.wins_i, counts.wins_j, counts.ties], axis=1)


def _to_fit(
    counts: PairCounts,
    params: FloatArray,
    loglik: float,
    iterations: int,
    opts: _Options,
) -> BTFit:
    m = counts.n_models
    theta = params[:m] - params[:m].mean()
    ratings = opts.transform(theta, counts.models)
    theta.setflags(write=False)
    ratings.setflags(write=False)
    nu = math.exp(params[m]) if opts.ties == "davidson" else None
    return BTFit(
        counts.models, ratings, theta, opts.ties, nu, loglik, iterations, opts.scale, opts.base,
        opts.init_rating,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Options:
    scale: float
    base: float
    init_rating: float
    ties: TieModel
    ridge: float
    anchor: tuple[Hashable, float] | None
    tol: float
    max_iter: int

    @property
    def factor(self) -> float:
        """Rating points per natural-log unit of strength: scale / ln(base)."""
        return self.scale / math.log(self.base)

    def anchor_shift(self, models: tuple[Hashable, ...]) -> tuple[int, float] | None:
        if self.anchor is None:
            return None
        name, value = self.anchor
        if name not in models:
            raise NotFound(f"anchor model {name!r} is not in the data")
        return models.index(name), value

    def transform(self, theta: FloatArray, models: tuple[Hashable, ...]) -> FloatArray:
        """θ (mean zero) → ratings; rows of a 2-D array are transformed independently."""
        ratings = self.init_rating + self.factor * (theta - theta.mean(axis=-1, keepdims=True))
        pinned = self.anchor_shift(models)
        if pinned is not None:
            k, value = pinned
            ratings = ratings + (value - ratings[..., k : k + 1])
        return np.asarray(ratings, dtype=np.float64)


def _options(
    scale: float,
    base: float,
    init_rating: float,
    ties: str,
    ridge: float,
    anchor: tuple[Hashable, float] | None,
    tol: float,
    max_iter: int,
) -> _Options:
    if ties not in ("half", "davidson"):
        raise InvalidInput(f"ties must be 'half' or 'davidson', got {ties!r}")
    if not (scale > 0 and base > 1 and math.isfinite(init_rating)):
        raise InvalidInput("scale must be > 0, base > 1 and init_rating finite")
    if not (ridge >= 0 and math.isfinite(ridge)):
        raise InvalidInput(f"ridge must be finite and >= 0, got {ridge!r}")
    return _Options(scale, base, init_rating, ties, ridge, anchor, tol, max_iter)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Public API


def fit_bradley_terry(
    counts: PairCounts,
    *,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    ties: TieModel = "half",
    ridge: float = 0.0,
    anchor: tuple[Hashable, float] | None = None,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> BTFit:
    r"""Maximum-likelihood Bradley–Terry ratings from aggregated pair counts.

    With strengths :math:`\theta` and :math:`d = \theta_i - \theta_j`,
    ``ties="half"`` (FastChat's convention, the default) maximises

    .. math:: \ell(\theta) = \sum_r a_r d_r - n_r \log(1 + e^{d_r}), \quad a_r = w_{i,r} + t_r/2,

    i.e. a tie counts as half a win each way. ``ties="davidson"`` maximises Davidson's (1970)
    likelihood :math:`P(i) \propto e^{d/2}`, :math:`P(j) \propto e^{-d/2}`,
    :math:`P(\text{tie}) \propto \nu`, fitting :math:`\nu` jointly. Ratings are
    ``init_rating + scale·θ/ln(base)`` with mean ``init_rating`` (Σθ = 0), or shifted so that
    ``anchor = (model, value)`` holds. ``ridge`` = λ adds
    :math:`-\tfrac{\lambda}{2}\lVert\theta\rVert^2` (a Gaussian prior; 0 gives the exact MLE).

    Raises
    ------
    InvalidInput
        If the MLE does not exist (the win graph is not strongly connected) and ``ridge == 0``.
    """
    return _fit(counts, _options(scale, base, init_rating, ties, ridge, anchor, tol, max_iter))


def _fit(counts: PairCounts, opts: _Options) -> BTFit:
    opts.anchor_shift(counts.models)
    cells = _cells(counts)
    check_estimable(counts, cells, opts.ties, opts.ridge)
    prob = make_problem(counts, opts.ties, opts.ridge)
    params, loglik, iterations = newton(prob, cells, None, opts.tol, opts.max_iter)
    return _to_fit(counts, params, loglik, iterations, opts)


def bootstrap_intervals(
    counts: PairCounts,
    rounds: int = 100,
    rng: np.random.Generator | None = None,
    *,
    level: float = 0.95,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    ties: TieModel = "half",
    ridge: float = 0.0,
    anchor: tuple[Hashable, float] | None = None,
) -> BTIntervals:
    """Percentile bootstrap intervals, resampling the unique outcomes multinomially.

    A bootstrap replicate of N battles is a multinomial draw of N over the 3·pairs outcome cells
    with probabilities count/N; each replicate is refitted on those cell counts, warm-started at
    the full-data estimate. Battles are never expanded. ``rng`` defaults to a fixed seed (0) so
    the result is reproducible. The other options are those of :func:`fit_bradley_terry`.
    """
    if rounds < 2:
        raise InvalidInput(f"bootstrap needs at least 2 rounds, got {rounds}")
    _check_level(level)
    gen = rng if rng is not None else np.random.default_rng(0)
    opts = _options(scale, base, init_rating, ties, ridge, anchor, 1e-10, 100)
    fit = _fit(counts, opts)
    cells = _cells(counts)
    if not np.array_equal(cells, np.round(cells)):
        raise InvalidInput("bootstrap needs integer counts")
    total = int(cells.sum())
    probs = cells.ravel() / total
    prob = make_problem(counts, opts.ties, opts.ridge)
    start = np.concatenate(
        [fit.strengths, [math.log(fit.tie_strength)] if fit.tie_strength else []]
    )
    draws_theta = np.empty((rounds, counts.n_models))
    for r, resample in enumerate(gen.multinomial(total, probs, size=rounds)):
        sample = resample.reshape(-1, 3).astype(np.float64)
        try:
            params, _, _ = newton(prob, sample, start, opts.tol, opts.max_iter)
        except InvalidInput:
            # Explain why (a resample that left a model unbeaten), else re-raise as is.
            check_estimable(counts, sample, opts.ties, opts.ridge)
            raise
        draws_theta[r] = params[: counts.n_models]
    draws = opts.transform(draws_theta, counts.models)
    tail = 0.5 * (1.0 - level)
    lower, upper = np.quantile(draws, [tail, 1.0 - tail], axis=0)
    draws.setflags(write=False)
    return BTIntervals(counts.models, fit.ratings, lower, upper, "bootstrap", level, fit, draws)


def sandwich_intervals(
    counts: PairCounts,
    *,
    level: float = 0.95,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    ties: TieModel = "half",
    ridge: float = 0.0,
    anchor: tuple[Hashable, float] | None = None,
) -> BTIntervals:
    r"""Wald intervals from the robust (sandwich) covariance :math:`A^{+} B A^{+}`.

    :math:`A` is the negative Hessian of the log-likelihood at the estimate and :math:`B` the sum
    over battles of the outer products of per-battle scores, computed per unique outcome cell:
    a battle of row :math:`r` with outcome value :math:`y \in \{1, 0, \tfrac12\}` has score
    :math:`(y - \sigma(d_r))(e_i - e_j)`. Under "half" ties the likelihood is a quasi-likelihood,
    so :math:`A^{-1}` alone would misstate the variance; the sandwich stays valid (Huber 1967).
    """
    _check_level(level)
    opts = _options(scale, base, init_rating, ties, ridge, anchor, 1e-10, 100)
    fit = _fit(counts, opts)
    prob = make_problem(counts, opts.ties, opts.ridge)
    cells = _cells(counts)
    m = counts.n_models
    eta = math.log(fit.tie_strength) if fit.tie_strength else 0.0
    _, _, neg_hess = row_terms(prob, fit.strengths, eta, cells, True)
    assert neg_hess is not None
    meat = score_outer_products(prob, fit.strengths, eta, cells)
    # Pseudo-inverse of A (null space u): (A + u uᵀ)⁻¹ − u uᵀ/m², or A⁻¹ when ridge > 0.
    gauge = gauge_matrix(prob)
    bread = solve_spd(neg_hess + gauge, np.eye(prob.n_params)) - gauge / (m * m)
    # Ratings are a linear map T of θ (centred, or anchored); Var(R) = diag(T A⁺ B A⁺ Tᵀ).
    to_ratings = np.zeros((m, prob.n_params))
    to_ratings[:, :m] = opts.factor * (np.eye(m) - 1.0 / m)
    pinned = opts.anchor_shift(counts.models)
    if pinned is not None:
        to_ratings[:, :m] = opts.factor * np.eye(m)
        to_ratings[:, pinned[0]] -= opts.factor
    # einsum without BLAS: small products stay single-threaded (see cholesky_solve).
    left = np.einsum("ij,jk->ik", to_ratings, bread)
    variance = np.einsum("ij,jk,ik->i", left, meat, left)
    half = stats.norm.ppf(0.5 + 0.5 * level) * np.sqrt(np.clip(variance, 0.0, None))
    return BTIntervals(
        counts.models, fit.ratings, fit.ratings - half, fit.ratings + half, "sandwich", level, fit
    )


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise InvalidInput(f"level must lie in (0, 1), got {level!r}")
