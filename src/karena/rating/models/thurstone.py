"""The K-Sort Arena closed-form K-wise update (Weng–Lin Thurstone–Mosteller, full pairing).

The one home of this model's maths. :func:`thurstone_vote` is the update, written once as plain
Python over indexable arrays: :meth:`ThurstoneK._update` calls it directly on lists (the
scalar path of the store and the judge), and :mod:`karena.rating.kernels` compiles the same code
for :meth:`ThurstoneK.replay_arrays` (replay) and :meth:`ThurstoneK.update_arenas` (the
simulator).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from karena.errors import InvalidInput
from karena.rating.base import OnlineRatingModel, check_order, has_own_kernel
from karena.rating.gaussian import cdf, v_tie, v_win, w_tie, w_win
from karena.rating.kernels import check_state, check_votes, compile_module, pair_order
from karena.rating.types import Outcome, Rating

__all__ = [
    "DEFAULT_BETA",
    "DEFAULT_MU",
    "DEFAULT_SIGMA",
    "ThurstoneK",
    "draw_margin_for",
    "gaussian_ranking_probability",
    "gaussian_win_probability",
    "thurstone_vote",
]

DEFAULT_MU = 25.0
DEFAULT_SIGMA = 25.0 / 3.0
DEFAULT_BETA = 25.0 / 6.0

# Positions in the ``params`` vector.
_BETA, _TAU, _MARGIN, _WENG_LIN, _KAPPA = 0, 1, 2, 3, 4


def draw_margin_for(draw_probability: float, beta: float, n_players: int = 2) -> float:
    """The draw margin ε that makes two equal players draw with ``draw_probability``.

    ε = Φ⁻¹((p + 1)/2) · √n · β, as in TrueSkill (Herbrich et al. 2007).
    """
    from scipy import stats  # lazy: scipy.stats costs ~1.5 s of every start-up

    return float(stats.norm.ppf((draw_probability + 1.0) / 2.0) * math.sqrt(n_players) * beta)


# --- the update, once: plain Python, compiled by karena.rating.kernels; keep it numba-able ------


def thurstone_vote(mu: Any, sigma: Any, models: Any, ranks: Any, params: Any, scratch: Any) -> None:
    """One vote of :class:`ThurstoneK`, in place; ``scratch`` is a 4 × K work array.

    Pairs are visited in position order (i < j) and each contestant's terms summed in that
    order, so the scalar and the compiled forms do the same arithmetic.
    """
    beta = params[_BETA]
    tau_sq = params[_TAU] * params[_TAU]
    margin = params[_MARGIN]
    weng_lin = params[_WENG_LIN] != 0.0
    two_beta_sq = 2.0 * beta * beta
    k = len(models)
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
            order = pair_order(ranks[i], ranks[j])
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


def thurstone_replay(mu: Any, sigma: Any, models: Any, ranks: Any, params: Any) -> None:
    """Every row of ``models``/``ranks`` in order, through :func:`thurstone_vote`."""
    scratch = np.empty((4, models.shape[1]), dtype=np.float64)
    for v in range(models.shape[0]):
        thurstone_vote(mu, sigma, models[v], ranks[v], params, scratch)


def thurstone_arenas(mu: Any, sigma: Any, models: Any, ranks: Any, params: Any) -> None:
    """Row ``s`` of ``models``/``ranks`` applied to arena ``s`` (``mu[s]``, ``sigma[s]``)."""
    scratch = np.empty((4, models.shape[1]), dtype=np.float64)
    for s in range(models.shape[0]):
        thurstone_vote(mu[s], sigma[s], models[s], ranks[s], params, scratch)


_KERNELS = ("thurstone_vote", "thurstone_replay", "thurstone_arenas")


@dataclass(frozen=True, slots=True)
class ThurstoneK(OnlineRatingModel):
    r"""The paper's Bayesian K-wise update (K-Sort Arena Eqs. 7–10).

    For each model :math:`i` of a battle and each other model :math:`q`, with
    :math:`c_{iq}^2 = \sigma_i^2 + \sigma_q^2 + 2\beta^2`, :math:`t = \varepsilon / c_{iq}` and
    :math:`s_{iq} = \pm 1` when :math:`i` beat / lost to :math:`q`:

    .. math::

        \mu_i &\leftarrow \mu_i + \sigma_i^2 \sum_q s_{iq}
                  V(s_{iq}\delta_{iq} - t) / c_{iq}, \qquad
                  \delta_{iq} = (\mu_i - \mu_q) / c_{iq} \\
        \sigma_i^2 &\leftarrow \sigma_i^2 \max\Big(1 - \sum_q \gamma_{iq}
                  \frac{\sigma_i^2}{c_{iq}^2} W(s_{iq}\delta_{iq} - t),\ \kappa\Big)

    A tied pair uses Weng & Lin's :math:`\tilde V, \tilde W` with the same margin.

    Parameters
    ----------
    mu0, sigma0 :
        Prior of an unseen model (25, 25/3: the deployment's TrueSkill defaults).
    beta :
        Per-battle performance noise β (25/6). Kept apart from σ (METHODS §1.1).
    tau :
        Variance added before every update, σ² ← σ² + τ². 0 by default: the paper has no τ;
        set it (e.g. 25/300) when model quality drifts over time.
    draw_margin :
        ε. The win event is "performance gap > ε" and a tie is "|gap| ≤ ε". The default is the
        margin that gives equal models a 10% draw chance, as in the deployment. With ε = 0 the
        update is exactly the paper's Eqs. 7–10, and tied pairs carry no information.
    gamma :
        ``"paper"``: γ = 1, as the K-Sort Arena equations are written.
        ``"weng_lin"``: γ = σ_i / c_iq, Weng & Lin's recommended damping (openskill's default).
    kappa :
        Lower bound on the variance factor (Weng & Lin use 1e-4) so σ never collapses to 0.
    """

    mu0: float = DEFAULT_MU
    sigma0: float = DEFAULT_SIGMA
    beta: float = DEFAULT_BETA
    tau: float = 0.0
    draw_margin: float = 0.7404665874521482  # draw_margin_for(0.10, 25/6)
    gamma: Literal["paper", "weng_lin"] = "weng_lin"
    kappa: float = 1e-4
    name: str = "thurstone"

    def initial(self) -> Rating:
        return Rating(self.mu0, self.sigma0)

    def kernel_params(self) -> list[float]:
        """``[beta, tau, draw_margin, gamma_is_weng_lin, kappa]`` for :func:`thurstone_vote`."""
        weng_lin = 1.0 if self.gamma == "weng_lin" else 0.0
        return [self.beta, self.tau, self.draw_margin, weng_lin, self.kappa]

    def _update(self, ratings: tuple[Rating, ...], outcome: Outcome) -> tuple[Rating, ...]:
        k = len(ratings)
        mu = [r.mu for r in ratings]
        sigma = [r.sigma for r in ratings]
        scratch = [[0.0] * k for _ in range(4)]
        thurstone_vote(mu, sigma, range(k), outcome.rank_row(), self.kernel_params(), scratch)
        return tuple(Rating(mu[i], sigma[i]) for i in range(k))

    def replay_arrays(self, mu: Any, sigma: Any, models: Any, ranks: Any) -> None:
        if not has_own_kernel(self):
            return OnlineRatingModel.replay_arrays(self, mu, sigma, models, ranks)
        m, r = check_votes(models, ranks, check_state(mu, sigma))
        params = np.array(self.kernel_params(), dtype=np.float64)
        compile_module(__name__, _KERNELS)["thurstone_replay"](mu, sigma, m, r, params)

    def update_arenas(self, mu: Any, sigma: Any, models: Any, ranks: Any) -> None:
        if not has_own_kernel(self):
            return OnlineRatingModel.update_arenas(self, mu, sigma, models, ranks)
        m, r = check_votes(models, ranks, check_state(mu, sigma, ndim=2))
        if m.shape[0] != mu.shape[0]:
            raise InvalidInput("update_arenas needs one vote row per arena")
        params = np.array(self.kernel_params(), dtype=np.float64)
        compile_module(__name__, _KERNELS)["thurstone_arenas"](mu, sigma, m, r, params)

    def win_probability(self, a: Rating, b: Rating) -> float:
        """Φ((μ_a − μ_b)/c): the chance that a's performance exceeds b's (ties not separated)."""
        return gaussian_win_probability(a, b, self.beta)

    def ranking_probability(self, ratings: Sequence[Rating], order: Sequence[int]) -> float:
        """P(X_{o1} > X_{o2} > … > X_{oK}) for X_i ~ N(μ_i, σ_i² + β²), by the Genz integral."""
        return gaussian_ranking_probability(ratings, order, self.beta)


def gaussian_win_probability(a: Rating, b: Rating, beta: float) -> float:
    """Φ((μ_a − μ_b)/√(σ_a² + σ_b² + 2β²)) (METHODS §1.1)."""
    return cdf((a.mu - b.mu) / math.sqrt(a.sigma**2 + b.sigma**2 + 2.0 * beta**2))


def gaussian_ranking_probability(
    ratings: Sequence[Rating], order: Sequence[int], beta: float
) -> float:
    """P(X_{o1} > … > X_{oK}) for independent X_i ~ N(μ_i, σ_i² + β²).

    The K−1 adjacent differences are jointly Gaussian; their positive orthant probability is
    computed with scipy's Genz integrator (exact for K = 2).
    """
    k = len(ratings)
    check_order(order, k)
    means = np.array([ratings[i].mu for i in order])
    var = np.array([ratings[i].sigma ** 2 + beta**2 for i in order])
    if k == 2:
        return cdf((means[0] - means[1]) / math.sqrt(var.sum()))
    # D_j = X_j − X_{j+1} > 0 for j < K−1: a (K−1)-variate Gaussian orthant probability.
    diff = np.zeros((k - 1, k))
    for j in range(k - 1):
        diff[j, j], diff[j, j + 1] = 1.0, -1.0
    mean_d = diff @ means
    cov_d = diff @ np.diag(var) @ diff.T
    # P(D > 0) = P(-D < 0) = CDF of N(-mean, cov) at 0.
    from scipy import stats

    mvn = stats.multivariate_normal(mean=-mean_d, cov=cov_d)
    return float(mvn.cdf(np.zeros(k - 1)))
