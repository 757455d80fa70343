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
_BETA, _TAU, _MARGIN, _WENG_LIN, _KAPPA, _CALIBRATED = 0, 1, 2, 3, 4, 5
#: Floor on the share of variance a single pair leaves (its update is finite even then).
_MIN_KEEP = 1e-12
#: Fisher information of a best-of-K vote over that of its K−1 pairs counted as independent,
#: for K = 2..16 at equal skills (numerical integration, tests/rating/test_tie_weights.py).
_BEST_OF_K_WEIGHTS = (
    1.0,
    0.8437,
    0.7397,
    0.6639,
    0.6054,
    0.5584,
    0.5197,
    0.4871,
    0.4592,
    0.4349,
    0.4135,
    0.3945,
    0.3776,
    0.3623,
    0.3484,
)


def draw_margin_for(draw_probability: float, beta: float, n_players: int = 2) -> float:
    """The draw margin ε that makes two equal players draw with ``draw_probability``.

    ε = Φ⁻¹((p + 1)/2) · √n · β, as in TrueSkill (Herbrich et al. 2007).
    """
    from scipy import stats  # lazy: scipy.stats costs ~1.5 s of every start-up

    return float(stats.norm.ppf((draw_probability + 1.0) / 2.0) * math.sqrt(n_players) * beta)


# --- the update, once: plain Python, compiled by karena.rating.kernels; keep it numba-able ------


def best_of_k_weight(k: int) -> float:
    """The composite-likelihood weight of a best-of-K vote's K−1 pairs (see ThurstoneK)."""
    if k < len(_BEST_OF_K_WEIGHTS) + 2:
        return _BEST_OF_K_WEIGHTS[k - 2]
    return 2.0 / (1.0 + math.sqrt(k - 1.0))


def vote_weight(ranks: Any, models: Any) -> float:
    """The weight of each pair of one vote: 3/(K+1) for a ranking, the best-of-K table else.

    K counts the filled slots; a row with unranked slots is a best-of-K vote.
    """
    k = 0
    unranked = 0
    for j in range(len(models)):
        if models[j] >= 0:
            k += 1
            if ranks[j] == 0:
                unranked += 1
    if unranked > 0:
        return best_of_k_weight(k)
    return 3.0 / (k + 1.0)


def thurstone_vote(mu: Any, sigma: Any, models: Any, ranks: Any, params: Any, scratch: Any) -> None:
    """One vote of :class:`ThurstoneK`, in place; ``scratch`` is a 4 × K work array.

    Pairs are visited in position order (i < j) and each contestant's terms summed in that
    order, so the scalar and the compiled forms do the same arithmetic.
    """
    beta = params[_BETA]
    tau_sq = params[_TAU] * params[_TAU]
    margin = params[_MARGIN]
    weng_lin = params[_WENG_LIN] != 0.0
    calibrated = params[_CALIBRATED] != 0.0
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
    weight = vote_weight(ranks, models) if calibrated else 1.0
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
            if calibrated:
                # Natural-parameter increments of the pair's moment-matched update, weighted:
                # precision += w·(W/c²)/(1 − σ²W/c²), precision·mean += w·(μW/c² + V/c)/(…).
                keep_a = max(1.0 - var[a] * w_a / (c * c), _MIN_KEEP)
                keep_b = max(1.0 - var[b] * w_b / (c * c), _MIN_KEEP)
                delta[a] += weight * w_a / (c * c) / keep_a
                omega[a] += weight * (mus[a] * w_a / (c * c) + v_a / c) / keep_a
                delta[b] += weight * w_b / (c * c) / keep_b
                omega[b] += weight * (mus[b] * w_b / (c * c) + v_b / c) / keep_b
                continue
            gamma_a = math.sqrt(var[a]) / c if weng_lin else 1.0
            gamma_b = math.sqrt(var[b]) / c if weng_lin else 1.0
            omega[a] += var[a] / c * v_a
            delta[a] += gamma_a * var[a] / (c * c) * w_a
            omega[b] += var[b] / c * v_b
            delta[b] += gamma_b * var[b] / (c * c) * w_b
    kappa = params[_KAPPA]
    for j in range(k):
        m = models[j]
        if m < 0:
            continue
        if calibrated:
            if var[j] > 0.0:
                precision = 1.0 / var[j] + delta[j]
                mu[m] = (mus[j] / var[j] + omega[j]) / precision
                sigma[m] = math.sqrt(1.0 / precision)
            else:
                mu[m] = mus[j]
                sigma[m] = 0.0
        else:
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


_KERNELS = (
    "best_of_k_weight",
    "vote_weight",
    "thurstone_vote",
    "thurstone_replay",
    "thurstone_arenas",
)


@dataclass(frozen=True, slots=True)
class ThurstoneK(OnlineRatingModel):
    r"""The paper's Bayesian K-wise update (K-Sort Arena Eqs. 7–10), with calibrated ties.

    Each pair :math:`(i, q)` of a vote is a Thurstone comparison of performances
    :math:`p \sim N(\mu, \sigma^2 + \beta^2)`. With
    :math:`c_{iq}^2 = \sigma_i^2 + \sigma_q^2 + 2\beta^2`, :math:`t = \varepsilon / c_{iq}`,
    :math:`\delta_{iq} = (\mu_i - \mu_q)/c_{iq}` and :math:`s_{iq} = \pm 1` when :math:`i`
    beat / lost to :math:`q`, the pair's moment-matched update of :math:`i` is

    .. math::

        \mu_i' = \mu_i + \frac{\sigma_i^2}{c_{iq}} s_{iq} V(s_{iq}\delta_{iq} - t), \qquad
        \sigma_i'^2 = \sigma_i^2 \Big(1 - \frac{\sigma_i^2}{c_{iq}^2} W(s_{iq}\delta_{iq} - t)\Big)

    and a tied pair uses Weng & Lin's :math:`\tilde V, \tilde W` with the same margin.

    ``weighting="calibrated"`` (the default) combines the pairs of a vote as a weighted composite
    likelihood: every pair's update is turned into natural-parameter increments (precision
    :math:`w\, W/c^2 / (1 - \sigma^2 W/c^2)` and the matching precision-times-mean), scaled by
    one weight :math:`w` per vote and added. Counting all C(K,2) pairs of a ranking as
    independent evidence overstates what a K-wise ranking says about each model by a factor
    :math:`(K+1)/3` (the Fisher information of one model's place in a K-ranking, against that
    of its K−1 pairs, at equal skills: 0.75 at K = 3, 0.60 at K = 4, 0.23 at K = 12), so a
    ranking weighs :math:`w = 3/(K+1)`; a best-of-K vote, whose K−1 pairs share the winner,
    weighs its own ratio (0.74 at K = 4). Increments add, so a vote never drives σ to its floor:
    one all-tie vote of K = 12 fresh models keeps σ at 0.6 of its prior (the paper's form gives
    the floor κ from K = 5 on). With K = 2 both forms are the exact one-pair update.

    ``weighting="paper"`` is Eqs. 7–10 as written: every pair weighs 1, the mean shifts and the
    variance factors :math:`\gamma\, \sigma_i^2/c^2\, W` add, and
    :math:`\sigma_i^2 \leftarrow \sigma_i^2 \max(1 - \sum_q \ldots, \kappa)`.

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
        margin that gives equal models a 10% draw chance, as in the deployment. With ε = 0
        tied pairs carry no information.
    weighting :
        ``"calibrated"`` (default) or ``"paper"`` (see above).
    gamma :
        ``"paper"`` form only. ``"paper"``: γ = 1, as the K-Sort Arena equations are written;
        ``"weng_lin"``: γ = σ_i / c_iq, Weng & Lin's damping (openskill's default).
    kappa :
        ``"paper"`` form only: lower bound on the variance factor (Weng & Lin use 1e-4).
    """

    mu0: float = DEFAULT_MU
    sigma0: float = DEFAULT_SIGMA
    beta: float = DEFAULT_BETA
    tau: float = 0.0
    draw_margin: float = 0.7404665874521482  # draw_margin_for(0.10, 25/6)
    weighting: Literal["calibrated", "paper"] = "calibrated"
    gamma: Literal["paper", "weng_lin"] = "weng_lin"
    kappa: float = 1e-4
    name: str = "thurstone"

    def __post_init__(self) -> None:
        if self.weighting not in ("calibrated", "paper"):
            raise InvalidInput(f"weighting must be 'calibrated' or 'paper', got {self.weighting!r}")
        if self.gamma not in ("paper", "weng_lin"):
            raise InvalidInput(f"gamma must be 'paper' or 'weng_lin', got {self.gamma!r}")
        if not (self.beta > 0 and self.sigma0 > 0 and self.tau >= 0 and self.draw_margin >= 0):
            raise InvalidInput("need beta > 0, sigma0 > 0, tau >= 0 and draw_margin >= 0")

    def initial(self) -> Rating:
        return Rating(self.mu0, self.sigma0)

    def kernel_params(self) -> list[float]:
        """``[beta, tau, draw_margin, weng_lin, kappa, calibrated]`` for :func:`thurstone_vote`."""
        weng_lin = 1.0 if self.gamma == "weng_lin" else 0.0
        calibrated = 1.0 if self.weighting == "calibrated" else 0.0
        return [self.beta, self.tau, self.draw_margin, weng_lin, self.kappa, calibrated]

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
