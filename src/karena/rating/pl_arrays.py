"""Plackett–Luce rankings as padded arrays: per-ranking log-likelihoods and a weighted refit.

:func:`~karena.rating.plackett_luce.fit_plackett_luce` is the reference fit; it reads the
rankings anew on every call. Estimators that refit the same rankings many times with new
weights (voter reliability's EM, :mod:`karena.rating.voters`) lay them out once here, as two
(V, K) arrays, and evaluate every ranking's log-likelihood at once. The likelihood is the same:
a place G chosen from the models R not yet placed contributes
Σ_{j∈G} θ_j − |G|·log Σ_{j∈R} exp θ_j (Breslow's ties), and the unplaced rest of a ranking
(:class:`~karena.rating.plackett_luce.Rest`, the losers of a best-of-K vote) is in every R
and never chosen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from karena.errors import InvalidInput
from karena.rating.plackett_luce import Rest

__all__ = ["PaddedRankings", "pad_rankings", "ranking_log_likelihoods"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Level of a model shown but not placed (a ranking's :class:`Rest`): never chosen.
UNPLACED = 1 << 20


@dataclass(frozen=True, slots=True, eq=False)  # arrays: compare by identity
class PaddedRankings:
    """V rankings of at most K models, best first: ``order[i, c]`` a model, ``level[i, c]`` its
    place (0 = first; :data:`UNPLACED` for the rest; −1 pads a shorter ranking, at the end).

    Cells are in place order, so the models not yet placed when place G is chosen are the cells
    from G's first column on, and one right-to-left cumulative sum gives every stage's
    denominator: ``start[i, c]`` is the first column of cell c's place (−1 for the rest and
    pads), ``size`` the place's size at that column (0 elsewhere).
    """

    order: IntArray
    level: IntArray
    n_models: int
    placed: npt.NDArray[np.bool_]
    start: IntArray
    size: FloatArray

    @property
    def shown(self) -> npt.NDArray[np.bool_]:
        return np.asarray(self.level >= 0)

    def log_likelihoods(self, values: FloatArray) -> FloatArray:
        """Each ranking's log-likelihood when its cell (i, c) has strength ``values[i, c]``."""
        return _terms(self, values, None, 0.0)[0]

    def at(self, theta: FloatArray) -> FloatArray:
        """θ of each cell (the strengths a ranking's models have)."""
        return np.asarray(theta[self.order], dtype=np.float64)

    def fit(
        self,
        weights: FloatArray,
        ridge: float,
        start: FloatArray | None = None,
        tol: float = 1e-9,
        max_iter: int = 50,
    ) -> FloatArray:
        """MAP strengths of Σ w_i ℓ_i(θ) − λ/2·|θ|² by damped Newton (λ = ``ridge`` > 0).

        The estimate :func:`~karena.rating.plackett_luce.fit_plackett_luce` returns for these
        weights and ridge (before its mean-zero shift, which the ridge makes unnecessary).
        """
        if not ridge > 0.0:
            raise InvalidInput(f"the padded refit needs ridge > 0, got {ridge!r}")
        theta = np.zeros(self.n_models) if start is None else np.array(start, dtype=np.float64)

        def objective(t: FloatArray) -> float:
            return float(weights @ self.log_likelihoods(self.at(t))) - 0.5 * ridge * float(t @ t)

        value = objective(theta)
        for _ in range(max_iter):
            _, grad, neg_hess = _terms(self, self.at(theta), weights, ridge)
            step = np.linalg.solve(neg_hess, grad - ridge * theta)
            t = 1.0
            while True:
                trial = theta + t * step
                new = objective(trial)
                if new >= value - 1e-12 * abs(value) or t < 1e-6:
                    break
                t *= 0.5
            theta, value = trial, new
            if float(np.max(np.abs(t * step))) < tol:
                break
        return theta


Places = Sequence[Sequence[int]]  # a ranking: its places best first (a Rest last, maybe)


def pad_rankings(rankings: Sequence[Places], n_models: int) -> PaddedRankings:
    """Lay out rankings of :func:`~karena.rating.plackett_luce.rankings_from_votes` as arrays."""
    width = max((sum(len(place) for place in ranking) for ranking in rankings), default=2)
    order = np.zeros((len(rankings), width), dtype=np.int64)
    level = np.full((len(rankings), width), -1, dtype=np.int64)
    for i, ranking in enumerate(rankings):
        col = 0
        for p, place in enumerate(ranking):
            lv = UNPLACED if isinstance(place, Rest) else p
            for model in place:
                if not 0 <= int(model) < n_models:
                    raise InvalidInput(f"ranking {i}: model index {model} not in 0..{n_models - 1}")
                order[i, col], level[i, col] = model, lv
                col += 1
    placed = (level >= 0) & (level < UNPLACED)
    before = np.concatenate([np.full((len(rankings), 1), -2), level[:, :-1]], axis=1)
    first = placed & (level != before)
    cols = np.broadcast_to(np.arange(width), level.shape)
    start = np.where(placed, np.maximum.accumulate(np.where(first, cols, 0), axis=1), -1)
    size = np.zeros(level.shape)
    rows = np.nonzero(placed)[0]
    np.add.at(size, (rows, start[placed]), 1.0)
    return PaddedRankings(order, level, n_models, placed, start.astype(np.int64), size)


def ranking_log_likelihoods(rankings: Sequence[Places], theta: npt.ArrayLike) -> FloatArray:
    """Each ranking's Plackett–Luce log-likelihood at strengths θ: the terms
    :func:`~karena.rating.plackett_luce.fit_plackett_luce` sums. At θ = 0 it is the probability
    of the outcome when every model is equal (1/K! for a strict ranking of K)."""
    th = np.asarray(theta, dtype=np.float64)
    padded = pad_rankings(rankings, len(th))
    return padded.log_likelihoods(padded.at(th))


def _terms(
    r: PaddedRankings, values: FloatArray, weights: FloatArray | None, ridge: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per-ranking log-likelihoods; with ``weights`` also the gradient (without the ridge) and
    the negative Hessian (with it) of Σ w_i ℓ_i.

    With R_c = Σ_{c' ≥ c} exp θ_{c'} (the models not placed before column c), a placed cell c
    adds θ_c − log R_{start(c)}. A cell's expected number of choices is exp θ_c · A_c with
    A_c = Σ_{places G starting at or before c} |G| / R_G, and two cells a, b of one ranking
    share the stages before both, so the Hessian's off-diagonal is Σ exp θ_a exp θ_b B_min(a,b)
    with B the same sum of |G| / R_G².
    """
    n, k = r.n_models, r.order.shape[1]
    shown = r.shown
    th = np.where(shown, values, 0.0)
    shift = th.max(axis=1, keepdims=True)
    worth = np.where(shown, np.exp(th - shift), 0.0)
    rest = np.cumsum(worth[:, ::-1], axis=1)[:, ::-1]
    denom = np.take_along_axis(rest, np.maximum(r.start, 0), axis=1)
    loglik = np.where(r.placed, th - shift - np.log(np.where(r.placed, denom, 1.0)), 0.0)
    loglik = loglik.sum(axis=1)
    if weights is None:
        return loglik, np.zeros(n), np.zeros((0, 0))
    starts = r.size > 0
    safe = np.where(starts, rest, 1.0)
    exposure = worth * np.cumsum(np.where(starts, r.size / safe, 0.0), axis=1)
    second = np.cumsum(np.where(starts, r.size / (safe * safe), 0.0), axis=1)
    flat = r.order.ravel()
    w = weights[:, None]
    grad = np.asarray(np.bincount(flat, (w * (r.placed - exposure)).ravel(), n), np.float64)
    neg_hess = ridge * np.eye(n) + np.diag(np.bincount(flat, (w * exposure).ravel(), n))
    nearer = np.minimum.outer(np.arange(k), np.arange(k))
    outer = weights[:, None, None] * worth[:, :, None] * worth[:, None, :] * second[:, nearer]
    pair = (r.order[:, :, None] * n + r.order[:, None, :]).ravel()
    neg_hess -= np.bincount(pair, outer.ravel(), n * n).reshape(n, n)
    return np.asarray(loglik, np.float64), grad, neg_hess
