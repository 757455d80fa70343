"""Batch Plackett–Luce maximum likelihood for K-wise rankings (ties by Breslow's rule).

A ranking is a sequence of places, best first; a place is one model index or a tuple of tied
model indices. Every model listed was shown; a model absent from a ranking says nothing.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.sparse import csgraph

from karena.errors import InvalidInput, NotFound
from karena.rating.bt_likelihood import solve_spd
from karena.rating.types import BestOfK, Vote

__all__ = ["PLFit", "Place", "Rest", "fit_plackett_luce", "laplace_sd", "rankings_from_votes"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
Place = int | Sequence[int]


class Rest(tuple[int, ...]):
    """Models that were shown but not placed (a ranking's last element, e.g. the losers of a
    best-of-K vote): in every choice set of the ranking, never chosen, unordered among
    themselves. A best-of-K vote is then Luce's top-1 choice, not K−1 independent wins."""

    __slots__ = ()


@dataclass(frozen=True, slots=True, eq=False)  # arrays: compare by identity
class PLFit:
    """A Plackett–Luce fit: ``strengths`` θ (log-worths, mean zero) and Elo-scaled ``ratings``."""

    models: tuple[Hashable, ...]
    strengths: FloatArray
    ratings: FloatArray
    log_likelihood: float
    iterations: int

    def rating(self, model: Hashable) -> float:
        """The rating of one model."""
        if model not in self.models:
            raise NotFound(f"unknown model {model!r}")
        return float(self.ratings[self.models.index(model)])

    def order(self) -> tuple[Hashable, ...]:
        """Model names, best first."""
        return tuple(self.models[k] for k in np.argsort(-self.strengths, kind="stable"))


@dataclass(frozen=True, slots=True, eq=False)  # arrays: compare by identity
class _Stages:
    """Flattened choice stages: stage s picks group G_s out of the remaining set R_s."""

    chosen: FloatArray  # per model, Σ over stages of its membership in G_s
    mult: FloatArray  # per stage, |G_s|
    member_stage: IntArray  # one entry per (stage, model in R_s)
    member_model: IntArray
    pair_index: IntArray  # a·n + b for every ordered pair (a, b) inside one R_s
    pair_stage: IntArray
    pair_a: IntArray
    pair_b: IntArray


def _group(place: object, n_models: int, where: int) -> tuple[int, ...]:
    if type(place) is int and 0 <= place < n_models:
        return (place,)
    if isinstance(place, int | np.integer):
        group: tuple[object, ...] = (place,)
    elif isinstance(place, Sequence | np.ndarray):
        group = tuple(place)
    else:
        raise InvalidInput(f"ranking {where}: a place must be an index or a tuple of them")
    for model in group:
        if isinstance(model, bool) or not isinstance(model, int | np.integer):
            raise InvalidInput(f"ranking {where}: model index {model!r} is not an integer")
        if not 0 <= model < n_models:
            raise InvalidInput(f"ranking {where}: model index {model} not in 0..{n_models - 1}")
    return tuple(int(m) for m in group)  # type: ignore[call-overload]


def _places(
    ranking: Sequence[Place], n_models: int, where: int
) -> tuple[list[tuple[int, ...]], tuple[int, ...]]:
    """A ranking's places (each a non-empty tuple) and its unplaced rest (maybe empty)."""
    items = list(ranking)
    rest: tuple[int, ...] = ()
    if items and isinstance(items[-1], Rest):
        rest = _group(items.pop(), n_models, where)
    if any(isinstance(place, Rest) for place in items):
        raise InvalidInput(f"ranking {where}: only its last element may be the unplaced rest")
    places = [_group(place, n_models, where) for place in items]
    if any(not group for group in places):
        raise InvalidInput(f"ranking {where} has an empty place")
    if not places and rest:
        raise InvalidInput(f"ranking {where} places no model")
    flat = [m for g in places for m in g] + list(rest)
    if len(flat) < 2:
        raise InvalidInput(f"ranking {where} lists fewer than 2 models")
    if len(set(flat)) != len(flat):
        raise InvalidInput(f"ranking {where} lists a model twice")
    return places, rest


@dataclass(frozen=True, slots=True, eq=False)  # arrays: compare by identity
class _Pattern:
    """Positions that make up the stages of every ranking with one shape (sizes of its places)."""

    mult: IntArray  # per stage
    member_stage: IntArray
    member_pos: IntArray
    chosen_pos: IntArray
    beat_a: IntArray  # a placed at least as high as b, a ≠ b
    beat_b: IntArray
    pair_stage: IntArray
    pair_a: IntArray
    pair_b: IntArray


def _pattern(shape: tuple[tuple[int, ...], int]) -> _Pattern:
    """Index pattern of rankings with these place sizes and this many unplaced models."""
    sizes, rest = shape
    k = sum(sizes) + rest
    cols: dict[str, list[int]] = defaultdict(list)
    start = 0
    for s, size in enumerate(sizes):
        group = range(start, start + size)
        remaining = range(start, k)
        start += size
        if len(remaining) == 1:
            break  # the last model alone is chosen with probability 1
        cols["mult"].append(size)
        cols["member_stage"] += [s] * len(remaining)
        cols["member_pos"] += remaining
        cols["chosen_pos"] += group
        for a in group:
            cols["beat_a"] += [a] * (len(remaining) - 1)
            cols["beat_b"] += [b for b in remaining if b != a]
        for a in remaining:
            cols["pair_stage"] += [s] * len(remaining)
            cols["pair_a"] += [a] * len(remaining)
            cols["pair_b"] += remaining
    fields = _Pattern.__dataclass_fields__
    return _Pattern(**{f: np.asarray(cols[f], dtype=np.intp) for f in fields})


def _stages(
    rankings: Sequence[Sequence[Place]], n: int, weights: FloatArray | None = None
) -> tuple[_Stages, IntArray, IntArray]:
    """Vectorised stages: rankings of one shape share one index pattern.

    A ranking of weight w contributes w times its log-likelihood (its stages' ``mult`` and its
    choices are scaled by w); weight 0 drops it, including from the estimability check.
    """
    by_shape: dict[tuple[tuple[int, ...], int], list[list[int]]] = defaultdict(list)
    weight_of: dict[tuple[tuple[int, ...], int], list[float]] = defaultdict(list)
    for where, ranking in enumerate(rankings):
        places, rest = _places(ranking, n, where)
        w = 1.0 if weights is None else float(weights[where])
        if not (w >= 0.0 and math.isfinite(w)):
            raise InvalidInput(f"ranking {where}: weight must be finite and >= 0, got {w!r}")
        if w == 0.0:
            continue
        key = (tuple(len(g) for g in places), len(rest))
        by_shape[key].append([m for g in places for m in g] + list(rest))
        weight_of[key].append(w)
    cols: dict[str, list[NDArray[np.generic]]] = defaultdict(list)
    offset = 0
    for shape, rows in by_shape.items():
        block = np.asarray(rows, dtype=np.intp)
        block_w = np.asarray(weight_of[shape], dtype=np.float64)
        pat = _pattern(shape)
        n_stages = len(pat.mult)
        base = offset + n_stages * np.arange(len(block))[:, None]
        offset += n_stages * len(block)
        cols["mult"].append((block_w[:, None] * pat.mult[None, :]).ravel())
        cols["chosen_weight"].append(np.repeat(block_w, len(pat.chosen_pos)))
        cols["member_stage"].append((base + pat.member_stage).ravel())
        cols["pair_stage"].append((base + pat.pair_stage).ravel())
        for name, positions in (
            ("member", pat.member_pos),
            ("chosen", pat.chosen_pos),
            ("beat_a", pat.beat_a),
            ("beat_b", pat.beat_b),
            ("pair_a", pat.pair_a),
            ("pair_b", pat.pair_b),
        ):
            cols[name].append(block[:, positions].ravel())

    def flat(name: str) -> IntArray:
        return np.concatenate(cols[name]).astype(np.intp) if cols[name] else np.zeros(0, np.intp)

    def real(name: str) -> FloatArray:
        values = np.concatenate(cols[name]) if cols[name] else np.zeros(0)
        return np.asarray(values, dtype=np.float64)

    pair_a, pair_b = flat("pair_a"), flat("pair_b")
    chosen = np.bincount(flat("chosen"), real("chosen_weight"), n).astype(np.float64)
    stages = _Stages(
        chosen, real("mult"), flat("member_stage"), flat("member"), pair_a * n + pair_b,
        flat("pair_stage"), pair_a, pair_b,
    )  # fmt: skip
    return stages, flat("beat_a"), flat("beat_b")


def _terms(
    st: _Stages, theta: FloatArray, ridge: float, with_hessian: bool
) -> tuple[float, FloatArray, FloatArray | None]:
    """Log-likelihood (Breslow), gradient and negative Hessian at θ."""
    n = len(theta)
    shift = float(theta.max())
    worth = np.exp(theta - shift)
    denom = np.bincount(st.member_stage, worth[st.member_model], len(st.mult))
    log_denom = np.log(denom) + shift
    loglik = float(st.chosen @ theta - st.mult @ log_denom) - 0.5 * ridge * float(theta @ theta)
    share = worth[st.member_model] / denom[st.member_stage]  # softmax within each stage
    weighted = st.mult[st.member_stage] * share
    grad = st.chosen - np.bincount(st.member_model, weighted, n) - ridge * theta
    if not with_hessian:
        return loglik, grad, None
    # -∇²ℓ = Σ_s |G_s| (diag(p_s) − p_s p_sᵀ): the covariance of a softmax choice.
    p_a = worth[st.pair_a] / denom[st.pair_stage]
    p_b = worth[st.pair_b] / denom[st.pair_stage]
    outer = np.bincount(st.pair_index, st.mult[st.pair_stage] * p_a * p_b, n * n).reshape(n, n)
    neg_hess = np.diag(np.bincount(st.member_model, weighted, n) + ridge) - outer
    return loglik, grad, np.asarray(neg_hess, dtype=np.float64)


def _check_estimable(src: IntArray, dst: IntArray, n: int) -> None:
    """The MLE exists iff the "placed at least as high as" graph is strongly connected."""
    graph = sparse.coo_matrix((np.ones(len(src)), (src, dst)), shape=(n, n)).tocsr()
    n_comp, labels = csgraph.connected_components(graph, directed=True, connection="strong")
    if n_comp > 1:
        sizes = np.bincount(labels)
        example = np.flatnonzero(labels == int(np.argmin(sizes)))[:3].tolist()
        raise InvalidInput(
            f"the maximum-likelihood strengths do not exist: models {example} are never ranked "
            "below (or never above) the rest; pass ridge > 0 or collect more rankings"
        )


def fit_plackett_luce(
    rankings: Sequence[Sequence[Place]],
    n_models: int,
    *,
    models: Sequence[Hashable] | None = None,
    weights: Sequence[float] | FloatArray | None = None,
    start: FloatArray | None = None,
    ridge: float = 0.0,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> PLFit:
    r"""Maximum-likelihood Plackett–Luce strengths (Plackett 1975; Luce 1959).

    A strict ranking :math:`o_1 \succ \dots \succ o_K` has probability
    :math:`\prod_{s<K} e^{\theta_{o_s}} / \sum_{t \ge s} e^{\theta_{o_t}}`. A tied place
    :math:`G` chosen from the remaining set :math:`R` contributes Breslow's (1974) factor
    :math:`\prod_{i \in G} e^{\theta_i} / (\sum_{j \in R} e^{\theta_j})^{|G|}`, which is exact for
    strict rankings and needs no enumeration of the orders a tie hides. A trailing
    :class:`Rest` is shown but never chosen: ``[w, Rest(others)]`` is Luce's top-1 choice of
    ``w`` among all of them. ``weights`` scale each ranking's log-likelihood (a bootstrap
    resample, or a voter's reliability); ``start`` warm-starts θ. θ has mean zero (the
    likelihood is shift invariant); ``ridge`` λ adds :math:`-\tfrac{\lambda}{2}\lVert\theta\rVert^2`
    (choix's ``alpha`` is λ/2). Ratings are ``init_rating + scale·θ/ln(base)``, as for
    Bradley–Terry: with K = 2 the two models coincide. Solved by damped Newton.

    Raises
    ------
    InvalidInput
        For malformed rankings, or when ``ridge == 0`` and the MLE does not exist.
    """
    if n_models < 2:
        raise InvalidInput(f"need at least 2 models, got {n_models}")
    names = tuple(models) if models is not None else tuple(range(n_models))
    if len(names) != n_models:
        raise InvalidInput(f"{len(names)} model names given for {n_models} models")
    if not (ridge >= 0 and math.isfinite(ridge)) or not (scale > 0 and base > 1):
        raise InvalidInput("ridge must be >= 0, scale > 0 and base > 1")
    if weights is not None and len(weights) != len(rankings):
        raise InvalidInput(f"{len(weights)} weights given for {len(rankings)} rankings")
    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    stages, beat_src, beat_dst = _stages(rankings, n_models, w)
    if len(stages.mult) == 0:
        raise InvalidInput("no rankings to fit")
    if ridge == 0.0:
        _check_estimable(beat_src, beat_dst, n_models)
    theta = np.zeros(n_models) if start is None else np.array(start, dtype=np.float64)
    gauge = np.ones((n_models, n_models)) if ridge == 0.0 else 0.0
    loglik, grad, neg_hess = _terms(stages, theta, ridge, True)
    iteration = 0
    while True:
        iteration += 1
        if iteration > max_iter:
            raise InvalidInput(f"Plackett–Luce fit did not converge in {max_iter} Newton steps")
        assert neg_hess is not None
        step = solve_spd(neg_hess + gauge, grad)
        t = 1.0
        while True:
            trial = theta + t * step
            new = _terms(stages, trial, ridge, True)
            if new[0] >= loglik - 1e-12 * abs(loglik) or t < 1e-6:
                break
            t *= 0.5
        theta, (loglik, grad, neg_hess) = trial, new
        if float(np.max(np.abs(t * step))) < tol:
            break
    theta = theta - theta.mean()
    ratings = init_rating + scale / math.log(base) * theta
    theta.setflags(write=False)
    ratings.setflags(write=False)
    return PLFit(names, theta, ratings, loglik, iteration)


def laplace_sd(
    rankings: Sequence[Sequence[Place]],
    n_models: int,
    theta: FloatArray,
    *,
    weights: Sequence[float] | FloatArray | None = None,
    ridge: float,
) -> FloatArray:
    r"""Posterior standard deviations of the strengths at the MAP :math:`\hat\theta` (Laplace).

    Under the ridge prior :math:`\theta \sim N(0, \lambda^{-1} I)` the posterior is close to
    :math:`N(\hat\theta, H^{-1})`, with :math:`H = -\nabla^2 \ell(\hat\theta) + \lambda I` the
    negative Hessian the fit already uses (a sum of softmax covariances plus the ridge). A
    model in no vote keeps its prior width :math:`\lambda^{-1/2}`; a handful of votes gives a
    wide interval, where a bootstrap over those few votes would give almost none.

    Raises
    ------
    InvalidInput
        When ``ridge`` is not positive (without a prior the Hessian is singular: θ is only
        defined up to a shift).
    """
    if not (ridge > 0 and math.isfinite(ridge)):
        raise InvalidInput("the Laplace interval needs a positive ridge (a prior)")
    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    stages, _, _ = _stages(rankings, n_models, w)
    _, _, neg_hess = _terms(stages, np.asarray(theta, dtype=np.float64), ridge, True)
    assert neg_hess is not None
    covariance = np.linalg.inv(neg_hess)
    return np.asarray(np.sqrt(np.clip(np.diag(covariance), 0.0, None)), dtype=np.float64)


def rankings_from_votes(
    votes: Iterable[Vote], models: Iterable[Hashable] | None = None
) -> tuple[tuple[Hashable, ...], list[list[tuple[int, ...]]]]:
    """Turn votes into (model names, rankings of places) for :func:`fit_plackett_luce`.

    Each vote keeps its own likelihood: a ranking is its places best first (equal ranks share
    a place); a best-of-K vote is the winner chosen from all K (``[winner, Rest(others)]``, a
    Luce top-1 choice, not K−1 independent wins); "tie" and "all bad" are one place holding all
    K. ``models`` fixes the order; default: first appearance.
    """
    index: dict[Hashable, int] = {}
    if models is not None:
        for model in models:
            index.setdefault(model, len(index))
    rankings: list[list[tuple[int, ...]]] = []  # Rest is a tuple too
    for vote in votes:
        ids = []
        for model in vote.models:
            if model not in index:
                if models is not None:
                    raise NotFound(f"vote names model {model!r}, absent from the model list")
                index[model] = len(index)
            ids.append(index[model])
        outcome = vote.outcome
        if isinstance(outcome, BestOfK):
            others = Rest(ids[p] for p in range(len(ids)) if p != outcome.winner)
            rankings.append([(ids[outcome.winner],), others])
            continue
        ranks = outcome.ranks
        rankings.append(
            [tuple(ids[p] for p in range(len(ids)) if ranks[p] == r) for r in sorted(set(ranks))]
        )
    return tuple(index), rankings
