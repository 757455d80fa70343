"""Rating updates vectorised across S independent simulated arenas (one vote per arena per step).

The simulator advances 20+ seeds in lock-step, so the hot loop is one numpy call per step over
all seeds rather than one Python call per vote. Each update here is checked against the scalar
reference (:class:`karena.rating.thurstone.ThurstoneK`, the Elo formula) in tests/sim.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

from karena.rating.thurstone import ThurstoneK

__all__ = ["BatchElo", "BatchThurstone", "pair_index"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def pair_index(k: int) -> tuple[IntArray, IntArray]:
    """Positions (a, b), a < b, of the C(k, 2) pairs of a K-wise battle."""
    pairs = list(itertools.combinations(range(k), 2))
    return (
        np.array([a for a, _ in pairs], dtype=np.int64),
        np.array([b for _, b in pairs], dtype=np.int64),
    )


def _v_win(x: FloatArray) -> FloatArray:
    """V(x) = φ(x)/Φ(x), through log Φ so it stays finite far into the lower tail."""
    out = np.exp(-0.5 * x * x - _LOG_SQRT_2PI - special.log_ndtr(x))
    return np.asarray(out, dtype=np.float64)


def _w_win(x: FloatArray) -> FloatArray:
    v = _v_win(x)
    return np.clip(v * (v + x), 0.0, 1.0)


def _v_w_tie(x: FloatArray, t: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Ṽ(x, t) and W̃(x, t) (Weng & Lin 2011) evaluated from the smaller-|x| side, as gaussian.py."""
    ax = np.abs(x)
    upper = t - ax
    lower = -t - ax
    ratio = np.exp(special.log_ndtr(lower) - special.log_ndtr(upper))
    denom = 1.0 - ratio
    safe = denom > 0.0
    d = np.where(safe, denom, 1.0)
    v_up, v_lo = _v_win(upper), _v_win(lower)
    value = (v_lo * ratio - v_up) / d
    v = np.where(safe, np.where(x < 0.0, -value, value), -x)
    w = (upper * v_up - lower * v_lo * ratio) / d + v * v
    w = np.where(safe, np.clip(w, 0.0, 1.0), 1.0)
    return v, w


@dataclass(frozen=True, slots=True)
class BatchThurstone:
    """:class:`ThurstoneK` (K-Sort Arena Eqs. 7–10) applied to one vote in each of S arenas."""

    model: ThurstoneK

    def initial(self, s: int, n: int) -> tuple[FloatArray, FloatArray]:
        """(μ, σ²) arrays of shape (S, n) at the prior."""
        return (
            np.full((s, n), self.model.mu0, dtype=np.float64),
            np.full((s, n), self.model.sigma0**2, dtype=np.float64),
        )

    def update(
        self,
        mu: FloatArray,
        var: FloatArray,
        chosen: IntArray,
        ranks: IntArray,
        informative: BoolArray | None = None,
    ) -> None:
        """Update ``mu`` and ``var`` in place for the (S, K) ``chosen`` models.

        ``ranks`` (S, K): 1 = best, equal = tie. ``informative`` (S, C(K,2)) marks the pairs the
        vote speaks about (best-of-K says nothing among the losers); ``None`` means all.
        """
        m = self.model
        s, k = chosen.shape
        rows = np.arange(s)[:, None]
        mus = mu[rows, chosen]
        variances = var[rows, chosen] + m.tau * m.tau
        pa, pb = pair_index(k)
        mu_a, mu_b = mus[:, pa], mus[:, pb]
        var_a, var_b = variances[:, pa], variances[:, pb]
        c = np.sqrt(var_a + var_b + 2.0 * m.beta * m.beta)
        t = m.draw_margin / c
        x = (mu_a - mu_b) / c
        ra, rb = ranks[:, pa], ranks[:, pb]
        sign = np.where(ra < rb, 1.0, -1.0)
        tie = ra == rb
        # a's view: s·V(s·x − t); b's view is the mirror image.
        arg = sign * x - t
        v_dec = _v_win(arg)
        w_dec = np.clip(v_dec * (v_dec + arg), 0.0, 1.0)
        v_a, w_a = sign * v_dec, w_dec
        v_b, w_b = -sign * v_dec, w_dec
        use = np.ones_like(tie) if informative is None else informative.copy()
        if tie.any():
            if m.draw_margin > 0.0:
                vt_a, wt_a = _v_w_tie(x, t)
                vt_b, wt_b = _v_w_tie(-x, t)
                v_a, w_a = np.where(tie, vt_a, v_a), np.where(tie, wt_a, w_a)
                v_b, w_b = np.where(tie, vt_b, v_b), np.where(tie, wt_b, w_b)
            else:
                use &= ~tie
        usef = use.astype(np.float64)
        gamma_a = 1.0 if m.gamma == "paper" else np.sqrt(var_a) / c
        gamma_b = 1.0 if m.gamma == "paper" else np.sqrt(var_b) / c
        # Scatter the per-pair terms onto the K positions with one-hot incidence matrices.
        inc_a = np.eye(k)[pa]
        inc_b = np.eye(k)[pb]
        omega = (usef * var_a / c * v_a) @ inc_a + (usef * var_b / c * v_b) @ inc_b
        delta = (usef * gamma_a * var_a / (c * c) * w_a) @ inc_a + (
            usef * gamma_b * var_b / (c * c) * w_b
        ) @ inc_b
        mu[rows, chosen] = mus + omega
        var[rows, chosen] = variances * np.maximum(1.0 - delta, m.kappa)


@dataclass(frozen=True, slots=True)
class BatchElo:
    """:class:`karena.rating.elo.Elo` (FastChat's online Elo) for one vote in each of S arenas.

    Every pair of a vote uses the ratings from before the vote and a model's pair steps are
    summed: R_a ← R_a + k·Σ_q (s_aq − E_aq), E_aq = 1 / (1 + 10^((R_q − R_a)/scale)), a tie
    scoring ½. For K = 2 this is FastChat's update. ``k_factor`` may be an (S,) array so that one
    run sweeps several K-factors.
    """

    k_factor: float | FloatArray = 4.0
    scale: float = 400.0
    initial_rating: float = 1000.0

    def initial(self, s: int, n: int) -> FloatArray:
        """(S, n) ratings at the initial value."""
        return np.full((s, n), self.initial_rating, dtype=np.float64)

    def update(
        self,
        rating: FloatArray,
        chosen: IntArray,
        ranks: IntArray,
        informative: BoolArray | None = None,
    ) -> None:
        """Update ``rating`` in place for the (S, K) ``chosen`` models."""
        s, k = chosen.shape
        rows = np.arange(s)[:, None]
        kf = np.broadcast_to(np.asarray(self.k_factor, dtype=np.float64), (s,))[:, None]
        pa, pb = pair_index(k)
        before = rating[rows, chosen]
        r_a, r_b = before[:, pa], before[:, pb]
        expected = 1.0 / (1.0 + 10.0 ** ((r_b - r_a) / self.scale))
        ra, rb = ranks[:, pa], ranks[:, pb]
        score = np.where(ra < rb, 1.0, np.where(ra > rb, 0.0, 0.5))
        step = kf * (score - expected)
        if informative is not None:
            step = np.where(informative, step, 0.0)
        change = step @ np.eye(k)[pa] - step @ np.eye(k)[pb]
        rating[rows, chosen] = before + change
