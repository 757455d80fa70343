"""The K-Sort Arena closed-form K-wise update (Weng–Lin Thurstone–Mosteller, full pairing).

This is the reference implementation: plain Python, one vote at a time. The numba replay in
:mod:`karena.rating.fast` must agree with it to 1e-9.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from karena.rating.base import OnlineRatingModel, check_order
from karena.rating.gaussian import cdf, v_tie, v_win, w_tie, w_win
from karena.rating.types import Outcome, Rating, comparisons

__all__ = [
    "DEFAULT_BETA",
    "DEFAULT_MU",
    "DEFAULT_SIGMA",
    "ThurstoneK",
    "draw_margin_for",
    "gaussian_ranking_probability",
    "gaussian_win_probability",
]

DEFAULT_MU = 25.0
DEFAULT_SIGMA = 25.0 / 3.0
DEFAULT_BETA = 25.0 / 6.0


def draw_margin_for(draw_probability: float, beta: float, n_players: int = 2) -> float:
    """The draw margin ε that makes two equal players draw with ``draw_probability``.

    ε = Φ⁻¹((p + 1)/2) · √n · β, as in TrueSkill (Herbrich et al. 2007).
    """
    from scipy import stats  # lazy: scipy.stats costs ~1.5 s of every start-up

    return float(stats.norm.ppf((draw_probability + 1.0) / 2.0) * math.sqrt(n_players) * beta)


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

    def _update(self, ratings: tuple[Rating, ...], outcome: Outcome) -> tuple[Rating, ...]:
        k = len(ratings)
        mus = [r.mu for r in ratings]
        variances = [r.sigma * r.sigma + self.tau * self.tau for r in ratings]
        omega = [0.0] * k
        delta = [0.0] * k
        two_beta_sq = 2.0 * self.beta * self.beta
        for comp in comparisons(outcome):
            a, b = comp.winner, comp.loser
            c = math.sqrt(variances[a] + variances[b] + two_beta_sq)
            t = self.draw_margin / c
            x = (mus[a] - mus[b]) / c
            if comp.tie:
                if self.draw_margin <= 0.0:
                    continue
                v_a, w_a = v_tie(x, t), w_tie(x, t)
                v_b, w_b = v_tie(-x, t), w_tie(-x, t)
            else:
                v_a, w_a = v_win(x - t), w_win(x - t)
                v_b, w_b = -v_a, w_a
            for i, v_i, w_i in ((a, v_a, w_a), (b, v_b, w_b)):
                gamma = 1.0 if self.gamma == "paper" else math.sqrt(variances[i]) / c
                omega[i] += variances[i] / c * v_i
                delta[i] += gamma * variances[i] / (c * c) * w_i
        return tuple(
            Rating(
                mus[i] + omega[i],
                math.sqrt(variances[i] * max(1.0 - delta[i], self.kappa)),
            )
            for i in range(k)
        )

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
