"""The Bradley–Terry likelihood on aggregated pair rows, and its damped Newton solver.

Internal to :mod:`karena.rating.bradley_terry` (and the SPD solve to
:mod:`karena.rating.plackett_luce`); the public API lives there.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.sparse import csgraph

from karena.errors import InvalidInput

if TYPE_CHECKING:
    from karena.rating.pair_counts import PairCounts

__all__ = [
    "FloatArray",
    "IntArray",
    "Problem",
    "TieModel",
    "assemble",
    "check_estimable",
    "cholesky_solve",
    "gauge_matrix",
    "make_problem",
    "newton",
    "row_terms",
    "score_outer_products",
    "solve_spd",
]

TieModel = Literal["half", "davidson"]
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


@dataclass(frozen=True, slots=True, eq=False)  # arrays: compare by identity
class Problem:
    """Index arrays prepared once per data shape so every Newton step is a few bincounts."""

    m: int
    n_params: int
    i: IntArray
    j: IntArray
    hess_index: IntArray
    ties: TieModel
    ridge: float


def make_problem(counts: PairCounts, ties: TieModel, ridge: float) -> Problem:
    m = counts.n_models
    p = m + (1 if ties == "davidson" else 0)
    i, j = counts.i, counts.j
    hess_index = np.concatenate([i * p + i, j * p + j, i * p + j, j * p + i])
    if ties == "davidson":
        hess_index = np.concatenate([hess_index, i * p + m, m * p + i, j * p + m, m * p + j])
    return Problem(m, p, i, j, hess_index, ties, ridge)


def row_terms(
    prob: Problem, theta: FloatArray, eta: float, cells: FloatArray, with_hessian: bool
) -> tuple[float, FloatArray, FloatArray | None]:
    """Log-likelihood, its gradient over all parameters, and (optionally) the negative Hessian.

    ``cells`` is (rows, 3): wins_i, wins_j, ties per pair row.
    """
    wi, wj, wt = cells[:, 0], cells[:, 1], cells[:, 2]
    n = wi + wj + wt
    d = theta[prob.i] - theta[prob.j]
    m, p = prob.m, prob.n_params
    grad = np.zeros(p)
    if prob.ties == "half":
        a = wi + 0.5 * wt
        loglik = float(np.sum(a * d - n * np.logaddexp(0.0, d)))
        s = 1.0 / (1.0 + np.exp(-d))
        g_d = a - n * s
        h_dd = n * s * (1.0 - s)
        h_rest: tuple[FloatArray, ...] = ()
    else:
        log_z = np.logaddexp(np.logaddexp(0.5 * d, -0.5 * d), eta)
        loglik = float(np.sum(0.5 * (wi - wj) * d + wt * eta - n * log_z))
        p_i, p_j, p_t = np.exp(0.5 * d - log_z), np.exp(-0.5 * d - log_z), np.exp(eta - log_z)
        half_gap = 0.5 * (p_i - p_j)
        g_d = 0.5 * (wi - wj) - n * half_gap
        grad[m] = float(np.sum(wt - n * p_t))
        # The negative Hessian of a multinomial logit is n times the covariance of its features:
        # win_i ↦ (½, 0), win_j ↦ (−½, 0), tie ↦ (0, 1) over (d, η).
        h_dd = n * (0.25 * (p_i + p_j) - half_gap**2)
        h_de = -n * half_gap * p_t
        h_rest = (h_de, -h_de, n * p_t * (1.0 - p_t))
    grad[:m] = np.bincount(prob.i, g_d, m) - np.bincount(prob.j, g_d, m)
    loglik -= 0.5 * prob.ridge * float(theta @ theta)
    grad[:m] -= prob.ridge * theta
    if not with_hessian:
        return loglik, grad, None
    neg_hess = assemble(prob, h_dd, h_rest)
    neg_hess[np.arange(m), np.arange(m)] += prob.ridge
    return loglik, grad, neg_hess


def assemble(prob: Problem, h_dd: FloatArray, h_rest: tuple[FloatArray, ...]) -> FloatArray:
    """Scatter per-row 2×2 (or 1×1) blocks in (d, η) into the full parameter matrix."""
    p = prob.n_params
    weights = [h_dd, h_dd, -h_dd, -h_dd]
    if h_rest:
        h_de, h_je = h_rest[0], h_rest[1]
        weights += [h_de, h_de, h_je, h_je]
    summed = np.bincount(prob.hess_index, np.concatenate(weights), p * p)
    flat: FloatArray = np.asarray(summed, dtype=np.float64).reshape(p, p)
    if h_rest:
        flat[prob.m, prob.m] += float(np.sum(h_rest[2]))
    return flat


def cholesky_solve(a: FloatArray, b: FloatArray) -> FloatArray:  # pragma: no cover - compiled
    """Solve a x = b (b: n × k) for small SPD ``a``, single-threaded; NaN if ``a`` is not SPD.

    A multi-threaded LAPACK call on a 130×130 system costs ~20× more than the arithmetic on a busy
    machine (thread hand-offs), and a bootstrap makes hundreds of them.
    """
    n, k = b.shape
    low = np.zeros((n, n))
    for j in range(n):
        acc = a[j, j]
        for q in range(j):
            acc -= low[j, q] * low[j, q]
        if acc <= 0.0:
            return np.full((n, k), np.nan)
        low[j, j] = np.sqrt(acc)
        for i in range(j + 1, n):
            acc = a[i, j]
            for q in range(j):
                acc -= low[i, q] * low[j, q]
            low[i, j] = acc / low[j, j]
    x = np.empty((n, k))
    for c in range(k):
        y = np.empty(n)
        for i in range(n):
            acc = b[i, c]
            for q in range(i):
                acc -= low[i, q] * y[q]
            y[i] = acc / low[i, i]
        for i in range(n - 1, -1, -1):
            acc = y[i]
            for q in range(i + 1, n):
                acc -= low[q, i] * x[q, c]
            x[i, c] = acc / low[i, i]
    return x


@functools.cache
def _compiled_cholesky() -> Any:
    """:func:`cholesky_solve` compiled on first use (numba is not imported before)."""
    import numba

    return numba.njit(cache=True)(cholesky_solve)


def solve_spd(a: FloatArray, b: FloatArray) -> FloatArray:
    """Solve a x = b by compiled Cholesky, falling back to LAPACK if ``a`` is not SPD."""
    rhs = b.reshape(len(b), -1)
    x: FloatArray = _compiled_cholesky()(np.ascontiguousarray(a), np.ascontiguousarray(rhs))
    if not np.all(np.isfinite(x)):
        x = np.asarray(np.linalg.solve(a, rhs), dtype=np.float64)
    return x.reshape(b.shape)


def gauge_matrix(prob: Problem) -> FloatArray:
    """u uᵀ with u = 1 on θ (0 on η) when the likelihood alone fixes θ only up to a shift."""
    gauge = np.zeros((prob.n_params, prob.n_params))
    if prob.ridge == 0.0:
        gauge[: prob.m, : prob.m] = 1.0
    return gauge


def newton(
    prob: Problem,
    cells: FloatArray,
    start: FloatArray | None,
    tol: float,
    max_iter: int,
) -> tuple[FloatArray, float, int]:
    """Maximise the concave log-likelihood by damped Newton: (params, loglik, iterations)."""
    m, p = prob.m, prob.n_params
    params = np.zeros(p) if start is None else start.copy()
    if prob.ties == "davidson" and start is None:
        total_ties, total = float(cells[:, 2].sum()), float(cells.sum())
        # Equal models tie with probability ν/(2+ν): start at the overall tie rate.
        params[m] = math.log(2.0 * total_ties / max(total - total_ties, 1.0))
    # Shift invariance: θ ↦ θ + c leaves the likelihood unchanged. Adding u uᵀ (u = 1 on θ)
    # makes the Newton system solvable and keeps Σθ = 0 (see docs/ratings.md, Batch models).
    gauge = gauge_matrix(prob)
    loglik, grad, neg_hess = row_terms(prob, params[:m], params[-1], cells, True)
    for iteration in range(1, max_iter + 1):
        assert neg_hess is not None
        step = solve_spd(neg_hess + gauge, grad)
        t = 1.0
        while True:  # step halving: only needed far from the optimum (never on real data)
            trial = params + t * step
            new_ll, new_grad, new_hess = row_terms(prob, trial[:m], trial[-1], cells, True)
            if new_ll >= loglik - 1e-12 * abs(loglik) or t < 1e-6:
                break
            t *= 0.5
        params, loglik, grad, neg_hess = trial, new_ll, new_grad, new_hess
        if float(np.max(np.abs(t * step))) < tol:
            return params, loglik, iteration
    raise InvalidInput(f"Bradley–Terry fit did not converge in {max_iter} Newton steps")


def check_estimable(counts: PairCounts, cells: FloatArray, ties: TieModel, ridge: float) -> None:
    """Raise unless the maximum-likelihood estimate exists (Zermelo/Ford: strong connectivity)."""
    if counts.n_pairs == 0 or counts.n_battles == 0:
        raise InvalidInput("no battles to fit")
    if ties == "davidson" and (cells[:, 2].sum() == 0 or cells[:, :2].sum() == 0):
        raise InvalidInput("the Davidson tie model needs at least one tie and one decisive battle")
    if ridge > 0.0:
        return
    m = counts.n_models
    n = cells.sum(axis=1)
    unplayed = np.flatnonzero(np.bincount(counts.i, n, m) + np.bincount(counts.j, n, m) == 0)
    if len(unplayed):
        names = [counts.models[k] for k in unplayed[:3]]
        raise InvalidInput(f"models without battles: {names!r}; drop them or pass ridge > 0")
    # Edge a → b when a did at least as well as b once; a tie points both ways.
    forward = (cells[:, 0] + cells[:, 2]) > 0
    backward = (cells[:, 1] + cells[:, 2]) > 0
    src = np.concatenate([counts.i[forward], counts.j[backward]])
    dst = np.concatenate([counts.j[forward], counts.i[backward]])
    graph = sparse.coo_matrix((np.ones(len(src)), (src, dst)), shape=(m, m)).tocsr()
    n_comp, labels = csgraph.connected_components(graph, directed=True, connection="strong")
    if n_comp > 1:
        sizes = np.bincount(labels)
        smallest = int(np.argmin(sizes))
        example = [counts.models[k] for k in np.flatnonzero(labels == smallest)[:3]]
        raise InvalidInput(
            "the maximum-likelihood ratings do not exist: the win graph splits into "
            f"{n_comp} groups (e.g. {example!r} never lost or never won against the rest); "
            "pass ridge > 0 or collect more votes",
        )


def score_outer_products(
    prob: Problem, theta: FloatArray, eta: float, cells: FloatArray
) -> FloatArray:
    """Σ over battles of s sᵀ, where s is one battle's score, grouped by outcome cell."""
    wi, wj, wt = cells[:, 0], cells[:, 1], cells[:, 2]
    d = theta[prob.i] - theta[prob.j]
    if prob.ties == "half":
        s = 1.0 / (1.0 + np.exp(-d))
        b_dd = wi * (1.0 - s) ** 2 + wj * s**2 + wt * (0.5 - s) ** 2
        return assemble(prob, b_dd, ())
    log_z = np.logaddexp(np.logaddexp(0.5 * d, -0.5 * d), eta)
    p_i, p_j, p_t = np.exp(0.5 * d - log_z), np.exp(-0.5 * d - log_z), np.exp(eta - log_z)
    mean_d = 0.5 * (p_i - p_j)
    # Centred features of each outcome: win_i (½ − E_d, −P_t), win_j (−½ − E_d, −P_t),
    # tie (−E_d, 1 − P_t).
    di, dj, dt = 0.5 - mean_d, -0.5 - mean_d, -mean_d
    b_dd = wi * di**2 + wj * dj**2 + wt * dt**2
    b_de = wi * di * -p_t + wj * dj * -p_t + wt * dt * (1.0 - p_t)
    b_ee = wi * p_t**2 + wj * p_t**2 + wt * (1.0 - p_t) ** 2
    return assemble(prob, b_dd, (b_de, -b_de, b_ee))
