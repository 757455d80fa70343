"""Numba-compiled replay of the paper's K-wise update and of online Elo over vote arrays.

The kernels below are plain Python written against :mod:`karena.rating.gaussian` and
:func:`karena.rating.elo.elo_expected`. :func:`kernels` compiles *those very functions* (the same
code objects) with ``numba.njit(cache=True)`` on first use, so the fast path repeats the
reference arithmetic and agrees with :meth:`ThurstoneK.replay` / :meth:`Elo.replay` to rounding
error. Nothing is compiled, and numba is not even imported, when this module is imported.

Array conventions (see :mod:`karena.rating.vote_arrays`):

- ``mu``, ``sigma``: C-contiguous ``float64`` arrays of length n_models, updated **in place**.
  Elo uses only ``mu`` (its ``sigma`` stays 0).
- ``models``: ``int32``, one vote = a row of length K (``-1`` = empty slot), a log = n_votes × K.
  The models of one vote must be distinct (:class:`~karena.rating.types.Vote` checks this;
  the raw kernels do not).
- ``ranks``: ``int32`` of the same shape; 1 = best, equal = tie, 0 = unranked (lost to every
  ranked contestant, unordered among the other unranked ones: best-of-K losers).
- ``params``: ``float64`` vectors built by :func:`thurstone_params` and :func:`elo_params`.

Hot loops that are themselves compiled with numba can call the dispatchers in
:func:`kernels` directly; the Python wrappers here add argument checks.
"""

from __future__ import annotations

import functools
import hashlib
import math
import types
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from karena.errors import InvalidInput
from karena.rating import elo as elo_module
from karena.rating import gaussian
from karena.rating.elo import Elo, elo_expected
from karena.rating.gaussian import v_tie, v_win, w_tie, w_win
from karena.rating.thurstone import ThurstoneK

__all__ = [
    "Kernels",
    "elo_params",
    "elo_replay_inplace",
    "elo_update_inplace",
    "kernels",
    "thurstone_params",
    "thurstone_replay_inplace",
    "thurstone_update_inplace",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]

# Positions in the ``params`` vectors.
_BETA, _TAU, _MARGIN, _WENG_LIN, _KAPPA = 0, 1, 2, 3, 4
_K, _SCALE, _LOG_BASE = 0, 1, 2


def thurstone_params(model: ThurstoneK) -> FloatArray:
    """``[beta, tau, draw_margin, gamma_is_weng_lin, kappa]`` for the Thurstone kernels."""
    weng_lin = 1.0 if model.gamma == "weng_lin" else 0.0
    return np.array(
        [model.beta, model.tau, model.draw_margin, weng_lin, model.kappa], dtype=np.float64
    )


def elo_params(model: Elo) -> FloatArray:
    """``[k, scale, log(base)]`` for the Elo kernels."""
    return np.array([model.k, model.scale, model.log_base], dtype=np.float64)


# --- kernels: plain Python, compiled by ``kernels()``; keep them numba-compatible ----------------


def _pair_order(r_i: int, r_j: int) -> int:
    """+1 if slot i beat slot j, −1 if j beat i, 0 for a tie, 2 if the pair states nothing."""
    if r_i == r_j:
        return 2 if r_i == 0 else 0
    if r_i == 0:
        return -1
    if r_j == 0:
        return 1
    return 1 if r_i < r_j else -1


def _thurstone_vote(
    mu: FloatArray,
    sigma: FloatArray,
    models: IntArray,
    ranks: IntArray,
    params: FloatArray,
    scratch: FloatArray,
) -> None:
    """One vote of :meth:`ThurstoneK._update`, in place; ``scratch`` is a 4 × K work array."""
    beta = params[_BETA]
    tau_sq = params[_TAU] * params[_TAU]
    margin = params[_MARGIN]
    weng_lin = params[_WENG_LIN] != 0.0
    two_beta_sq = 2.0 * beta * beta
    k = models.shape[0]
    mus = scratch[0]
    var = scratch[1]
    omega = scratch[2]
    delta = scratch[3]
    for j in range(k):
        m = models[j]
        if m >= 0:
            mus[j] = mu[m]
            var[j] = sigma[m] * sigma[m] + tau_sq
            omega[j] = 0.0
            delta[j] = 0.0
    for i in range(k):
        if models[i] < 0:
            continue
        for j in range(i + 1, k):
            if models[j] < 0:
                continue
            order = _pair_order(ranks[i], ranks[j])
            if order == 2 or (order == 0 and margin <= 0.0):
                continue
            a, b = (i, j) if order >= 0 else (j, i)
            c = math.sqrt(var[a] + var[b] + two_beta_sq)
            t = margin / c
            x = (mus[a] - mus[b]) / c
            if order == 0:
                v_a = v_tie(x, t)
                w_a = w_tie(x, t)
                v_b = v_tie(-x, t)
                w_b = w_tie(-x, t)
            else:
                v_a = v_win(x - t)
                w_a = w_win(x - t)
                v_b = -v_a
                w_b = w_a
            gamma_a = math.sqrt(var[a]) / c if weng_lin else 1.0
            gamma_b = math.sqrt(var[b]) / c if weng_lin else 1.0
            omega[a] += var[a] / c * v_a
            delta[a] += gamma_a * var[a] / (c * c) * w_a
            omega[b] += var[b] / c * v_b
            delta[b] += gamma_b * var[b] / (c * c) * w_b
    kappa = params[_KAPPA]
    for j in range(k):
        m = models[j]
        if m >= 0:
            mu[m] = mus[j] + omega[j]
            sigma[m] = math.sqrt(var[j] * max(1.0 - delta[j], kappa))


def _thurstone_replay(
    mu: FloatArray, sigma: FloatArray, models: IntArray, ranks: IntArray, params: FloatArray
) -> None:
    """Every row of ``models``/``ranks`` in order, through :func:`_thurstone_vote`."""
    scratch = np.empty((4, models.shape[1]), dtype=np.float64)
    for v in range(models.shape[0]):
        _thurstone_vote(mu, sigma, models[v], ranks[v], params, scratch)


def _thurstone_one(
    mu: FloatArray, sigma: FloatArray, models: IntArray, ranks: IntArray, params: FloatArray
) -> None:
    """A single vote (1-D ``models``/``ranks``), allocating its own scratch."""
    scratch = np.empty((4, models.shape[0]), dtype=np.float64)
    _thurstone_vote(mu, sigma, models, ranks, params, scratch)


def _elo_vote(
    rating: FloatArray, models: IntArray, ranks: IntArray, params: FloatArray, scratch: FloatArray
) -> None:
    """One vote of :meth:`Elo._update`, in place; ``scratch`` is a 2 × K work array."""
    k_factor = params[_K]
    scale = params[_SCALE]
    log_base = params[_LOG_BASE]
    k = models.shape[0]
    before = scratch[0]
    change = scratch[1]
    for j in range(k):
        if models[j] >= 0:
            before[j] = rating[models[j]]
            change[j] = 0.0
    for i in range(k):
        if models[i] < 0:
            continue
        for j in range(i + 1, k):
            if models[j] < 0:
                continue
            order = _pair_order(ranks[i], ranks[j])
            if order == 2:
                continue
            a, b = (i, j) if order >= 0 else (j, i)
            score = 0.5 if order == 0 else 1.0
            step = k_factor * (score - elo_expected(before[a], before[b], scale, log_base))
            change[a] += step
            change[b] -= step
    for j in range(k):
        if models[j] >= 0:
            rating[models[j]] = before[j] + change[j]


def _elo_replay(rating: FloatArray, models: IntArray, ranks: IntArray, params: FloatArray) -> None:
    """Every row of ``models``/``ranks`` in order, through :func:`_elo_vote`."""
    scratch = np.empty((2, models.shape[1]), dtype=np.float64)
    for v in range(models.shape[0]):
        _elo_vote(rating, models[v], ranks[v], params, scratch)


def _elo_one(rating: FloatArray, models: IntArray, ranks: IntArray, params: FloatArray) -> None:
    """A single Elo vote (1-D ``models``/``ranks``)."""
    scratch = np.empty((2, models.shape[0]), dtype=np.float64)
    _elo_vote(rating, models, ranks, params, scratch)


# --- compilation -----------------------------------------------------------------------------


class Kernels(NamedTuple):
    """The compiled dispatchers; callable from Python or from other numba-compiled code."""

    thurstone_vote: Any
    thurstone_one: Any
    thurstone_replay: Any
    elo_vote: Any
    elo_one: Any
    elo_replay: Any


_GAUSSIAN_FUNCTIONS = ("pdf", "cdf", "_mills_lower", "log_cdf", "v_win", "w_win", "v_tie", "w_tie")
_KERNEL_FUNCTIONS = (
    _pair_order,
    _thurstone_vote,
    _thurstone_one,
    _thurstone_replay,
    _elo_vote,
    _elo_one,
    _elo_replay,
)


def _source_digest() -> str:
    """A short hash of the compiled sources.

    numba's on-disk cache is keyed by each function's own file, so a kernel cached before an
    edit to gaussian.py would silently keep the old maths; the digest in the qualified name
    gives every version of the sources its own cache entry.
    """
    h = hashlib.sha256()
    for module in (gaussian, elo_module):
        h.update(Path(module.__file__ or "").read_bytes())
    return h.hexdigest()[:10]


@functools.cache
def kernels() -> Kernels:
    """Compile (or load from numba's cache) every kernel; the first call imports numba."""
    import numba

    namespace: dict[str, Any] = {**vars(gaussian), **globals()}
    digest = _source_digest()

    def compile_same_code(fn: Any) -> Any:
        # A clone sharing fn's code object, whose globals resolve to the compiled helpers.
        clone = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__)
        clone.__qualname__ = f"{fn.__qualname__}_{digest}"
        clone.__module__ = fn.__module__
        dispatcher = numba.njit(cache=True)(clone)
        namespace[fn.__name__] = dispatcher
        return dispatcher

    for name in _GAUSSIAN_FUNCTIONS:
        compile_same_code(getattr(gaussian, name))
    compile_same_code(elo_expected)
    compiled = {fn.__name__: compile_same_code(fn) for fn in _KERNEL_FUNCTIONS}
    return Kernels(
        thurstone_vote=compiled["_thurstone_vote"],
        thurstone_one=compiled["_thurstone_one"],
        thurstone_replay=compiled["_thurstone_replay"],
        elo_vote=compiled["_elo_vote"],
        elo_one=compiled["_elo_one"],
        elo_replay=compiled["_elo_replay"],
    )


# --- checked Python entry points -------------------------------------------------------------


def _check_state(*arrays: FloatArray) -> int:
    for arr in arrays:
        if arr.dtype != np.float64 or arr.ndim != 1 or not arr.flags.c_contiguous:
            raise InvalidInput("rating arrays must be 1-D C-contiguous float64 (updated in place)")
        if not arr.flags.writeable:
            raise InvalidInput("rating arrays must be writeable (they are updated in place)")
    n = arrays[0].shape[0]
    if any(arr.shape[0] != n for arr in arrays):
        raise InvalidInput("mu and sigma must have the same length")
    return int(n)


def _check_votes(models: Any, ranks: Any, n_models: int, ndim: int) -> tuple[IntArray, IntArray]:
    m = np.ascontiguousarray(models, dtype=np.int32)
    r = np.ascontiguousarray(ranks, dtype=np.int32)
    if m.ndim != ndim or m.shape != r.shape:
        raise InvalidInput(f"models and ranks must be {ndim}-D arrays of one shape")
    if m.size and (m.max() >= n_models or m.min() < -1):
        raise InvalidInput(f"model indices must be in -1..{n_models - 1}")
    if r.size and (r.min() < 0 or r.max() > m.shape[-1]):
        raise InvalidInput(f"ranks must be in 0..{m.shape[-1]}")
    if m.shape[-1] > 1:
        # A model twice in one vote would be updated twice from one prior: reject it.
        ordered = np.sort(m, axis=-1)
        repeated = (ordered[..., 1:] == ordered[..., :-1]) & (ordered[..., 1:] >= 0)
        if repeated.any():
            raise InvalidInput("a vote names the same model twice")
    return m, r


def thurstone_update_inplace(
    mu: FloatArray, sigma: FloatArray, models: Any, ranks: Any, params: FloatArray
) -> None:
    """Apply one vote (1-D ``models``/``ranks``) of :class:`ThurstoneK` to ``mu``/``sigma``."""
    n = _check_state(mu, sigma)
    m, r = _check_votes(models, ranks, n, 1)
    kernels().thurstone_one(mu, sigma, m, r, np.asarray(params, dtype=np.float64))


def thurstone_replay_inplace(
    mu: FloatArray, sigma: FloatArray, models: Any, ranks: Any, params: FloatArray
) -> None:
    """Apply every vote (rows of n_votes × K ``models``/``ranks``) in order, in place."""
    n = _check_state(mu, sigma)
    m, r = _check_votes(models, ranks, n, 2)
    kernels().thurstone_replay(mu, sigma, m, r, np.asarray(params, dtype=np.float64))


def elo_update_inplace(rating: FloatArray, models: Any, ranks: Any, params: FloatArray) -> None:
    """Apply one vote (1-D ``models``/``ranks``) of :class:`Elo` to ``rating``, in place."""
    n = _check_state(rating)
    m, r = _check_votes(models, ranks, n, 1)
    kernels().elo_one(rating, m, r, np.asarray(params, dtype=np.float64))


def elo_replay_inplace(rating: FloatArray, models: Any, ranks: Any, params: FloatArray) -> None:
    """Apply every vote (rows of n_votes × K ``models``/``ranks``) of :class:`Elo` in order."""
    n = _check_state(rating)
    m, r = _check_votes(models, ranks, n, 2)
    kernels().elo_replay(rating, m, r, np.asarray(params, dtype=np.float64))
