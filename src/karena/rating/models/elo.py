"""Online Elo with FastChat's defaults, for K-wise votes decomposed into pairs.

The one home of this model's maths: :func:`elo_vote` is the update, written once as plain
Python; :meth:`Elo._update` calls it on lists and :mod:`karena.rating.kernels` compiles the
same code for the array forms (replay and the simulator).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from karena.errors import InvalidInput
from karena.rating.base import OnlineRatingModel, check_order, has_own_kernel
from karena.rating.kernels import check_state, check_votes, compile_module, pair_order
from karena.rating.types import EMPTY, Outcome, Rating

__all__ = ["DEFAULT_ELO", "Elo", "elo_expected", "elo_vote"]

DEFAULT_ELO = 1000.0
# Positions in the ``params`` vector.
_K, _SCALE, _LOG_BASE = 0, 1, 2


def elo_expected(r_a: float, r_b: float, scale: float, log_base: float) -> float:
    """E_a = 1 / (1 + base^((r_b − r_a)/scale)), computed without overflow for any gap."""
    x = (r_a - r_b) / scale * log_base
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


# --- the update, once: plain Python, compiled by karena.rating.kernels; keep it numba-able ------


def elo_vote(rating: Any, models: Any, ranks: Any, params: Any, scratch: Any) -> None:
    """One vote of :class:`Elo`, in place; ``scratch`` is a 2 × K work array."""
    k_factor = params[_K]
    scale = params[_SCALE]
    log_base = params[_LOG_BASE]
    k = len(models)
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
            order = pair_order(ranks[i], ranks[j])
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


def elo_replay(rating: Any, models: Any, ranks: Any, params: Any) -> None:
    """Every row of ``models``/``ranks`` in order, through :func:`elo_vote`."""
    scratch = np.empty((2, models.shape[1]), dtype=np.float64)
    for v in range(models.shape[0]):
        elo_vote(rating, models[v], ranks[v], params, scratch)


def elo_arenas(rating: Any, models: Any, ranks: Any, params: Any) -> None:
    """Row ``s`` of ``models``/``ranks`` applied to arena ``s`` (``rating[s]``)."""
    scratch = np.empty((2, models.shape[1]), dtype=np.float64)
    for s in range(models.shape[0]):
        elo_vote(rating[s], models[s], ranks[s], params, scratch)


_KERNELS = ("elo_expected", "elo_vote", "elo_replay", "elo_arenas")


@dataclass(frozen=True, slots=True)
class Elo(OnlineRatingModel):
    r"""Online Elo (Elo 1978) as FastChat's Chatbot Arena ran it, extended to K-wise votes.

    A vote is split into its pairwise facts (:func:`~karena.rating.types.comparisons`). Every
    pair's expected score uses the ratings from *before* the vote, and the K−1 pair updates of
    a model are summed:

    .. math::

        E_{aq} = \frac{1}{1 + b^{(r_q - r_a)/s}}, \qquad
        r_a \leftarrow r_a + k \sum_q (S_{aq} - E_{aq}),

    with :math:`S_{aq} = 1` for a win, 0.5 for a tie, 0 for a loss. For K = 2 this is exactly
    FastChat's ``compute_online_elo``. Summing simultaneous pair updates (rather than applying
    them one after another) makes the result independent of the display order.

    Parameters
    ----------
    k :
        K-factor, 4 (FastChat). Small because Chatbot Arena has millions of votes; the
        K-Sort Arena paper does not give the value its Elo baseline used.
    scale, base :
        400 and 10: a 400-point gap means 10:1 odds.
    initial_rating :
        1000 (FastChat).
    """

    k: float = 4.0
    scale: float = 400.0
    base: float = 10.0
    initial_rating: float = DEFAULT_ELO
    name: str = "elo"

    def __post_init__(self) -> None:
        if not (self.k > 0 and self.scale > 0 and self.base > 1):
            raise InvalidInput(f"Elo needs k > 0, scale > 0 and base > 1, got {self}")

    @property
    def log_base(self) -> float:
        return math.log(self.base)

    def initial(self) -> Rating:
        return Rating(self.initial_rating, 0.0)

    def kernel_params(self) -> list[float]:
        """``[k, scale, log(base)]`` for :func:`elo_vote`."""
        return [self.k, self.scale, self.log_base]

    def _update(self, ratings: tuple[Rating, ...], outcome: Outcome) -> tuple[Rating, ...]:
        k = len(ratings)
        rating = [r.mu for r in ratings]
        scratch = [[0.0] * k for _ in range(2)]
        elo_vote(rating, range(k), outcome.rank_row(), self.kernel_params(), scratch)
        return tuple(Rating(rating[i], 0.0) for i in range(k))

    def replay_arrays(self, mu: Any, sigma: Any, models: Any, ranks: Any) -> None:
        if not has_own_kernel(self):
            return OnlineRatingModel.replay_arrays(self, mu, sigma, models, ranks)
        m, r = check_votes(models, ranks, check_state(mu, sigma))
        params = np.array(self.kernel_params(), dtype=np.float64)
        compile_module(__name__, _KERNELS)["elo_replay"](mu, m, r, params)
        sigma[m[m != EMPTY]] = 0.0  # as _update: a point rating once a model has played

    def update_arenas(self, mu: Any, sigma: Any, models: Any, ranks: Any) -> None:
        if not has_own_kernel(self):
            return OnlineRatingModel.update_arenas(self, mu, sigma, models, ranks)
        m, r = check_votes(models, ranks, check_state(mu, sigma, ndim=2))
        if m.shape[0] != mu.shape[0]:
            raise InvalidInput("update_arenas needs one vote row per arena")
        params = np.array(self.kernel_params(), dtype=np.float64)
        compile_module(__name__, _KERNELS)["elo_arenas"](mu, m, r, params)
        rows = np.nonzero(m != EMPTY)
        sigma[rows[0], m[rows]] = 0.0

    def win_probability(self, a: Rating, b: Rating) -> float:
        """The logistic expected score of ``a`` against ``b``."""
        return elo_expected(a.mu, b.mu, self.scale, self.log_base)

    def ranking_probability(self, ratings: Sequence[Rating], order: Sequence[int]) -> float:
        """Plackett–Luce with strengths base^(r/scale): the K-wise model whose pairs are Elo's."""
        check_order(order, len(ratings))
        logs = [ratings[i].mu / self.scale * self.log_base for i in order]
        log_p = 0.0
        for j in range(len(logs) - 1):
            rest = logs[j:]
            top = max(rest)
            log_p += logs[j] - top - math.log(sum(math.exp(x - top) for x in rest))
        return math.exp(log_p)
