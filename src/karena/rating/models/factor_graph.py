"""A free-for-all factor-graph update, message for message what the K-Sort Arena deployment ran.

The deployment called the ``trueskill`` Python package (Herbrich, Minka & Graepel, NIPS 2006,
"TrueSkill: a Bayesian skill rating system"; the name is a Microsoft trademark, see
docs/ratings.md). This module re-implements its free-for-all case, one player per team, with
the same messages, the same schedule and the same stopping rule, so results agree with the
package to ~1e-12 when the package uses exact Gaussian functions (``backend="scipy"``).

Messages are Gaussians in natural parameters: precision ``pi = 1/σ²`` and precision-adjusted
mean ``tau = μ/σ²`` (not to be confused with the dynamics τ).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

from karena.errors import InvalidInput
from karena.rating.base import OnlineRatingModel
from karena.rating.gaussian import one_minus_w_win, v_tie, v_win, w_tie
from karena.rating.models.thurstone import (
    DEFAULT_BETA,
    DEFAULT_MU,
    DEFAULT_SIGMA,
    gaussian_ranking_probability,
    gaussian_win_probability,
)
from karena.rating.types import InvalidVote, Outcome, Rating

__all__ = ["DEFAULT_TAU", "FactorGraphFFA"]

DEFAULT_TAU = DEFAULT_SIGMA / 100.0
#: The package's convergence threshold (``trueskill.DELTA``) and iteration cap.
MIN_DELTA = 1e-4
MAX_ITERATIONS = 10
#: Floor on 1 − W so that an extreme upset gives a huge, finite precision instead of 1/0
#: (where the package raises FloatingPointError).
_MIN_ONE_MINUS_W = 1e-12


class _Var:
    """A variable node: its marginal (pi, tau) and one incoming message per neighbouring factor."""

    __slots__ = ("msg_pi", "msg_tau", "pi", "tau")

    def __init__(self, n_factors: int) -> None:
        self.pi = 0.0
        self.tau = 0.0
        self.msg_pi = [0.0] * n_factors
        self.msg_tau = [0.0] * n_factors

    def _set(self, pi: float, tau: float) -> float:
        pi_delta = abs(self.pi - pi)
        delta = 0.0 if pi_delta == math.inf else max(abs(self.tau - tau), math.sqrt(pi_delta))
        self.pi, self.tau = pi, tau
        return delta

    def cavity(self, slot: int) -> tuple[float, float]:
        """The marginal divided by the message from factor ``slot``."""
        return self.pi - self.msg_pi[slot], self.tau - self.msg_tau[slot]

    def update_message(self, slot: int, pi: float, tau: float) -> float:
        """Replace factor ``slot``'s message; return how much the marginal moved."""
        old_pi, old_tau = self.msg_pi[slot], self.msg_tau[slot]
        self.msg_pi[slot], self.msg_tau[slot] = pi, tau
        return self._set(self.pi - old_pi + pi, self.tau - old_tau + tau)

    def update_value(self, slot: int, pi: float, tau: float) -> float:
        """Set the marginal to (pi, tau), crediting the change to factor ``slot``'s message."""
        self.msg_pi[slot] = pi + self.msg_pi[slot] - self.pi
        self.msg_tau[slot] = tau + self.msg_tau[slot] - self.tau
        return self._set(pi, tau)


def _mean(pi: float, tau: float) -> float:
    return tau / pi if pi else 0.0


def _sum_message(
    target: _Var, slot: int, terms: Sequence[tuple[float, float]], coeffs: Sequence[float]
) -> float:
    """Send the sum factor's message target = Σ coeff · term (terms are cavities)."""
    pi_inv = 0.0
    mu = 0.0
    for (pi, tau), coeff in zip(terms, coeffs, strict=True):
        mu += coeff * _mean(pi, tau)
        if pi_inv == math.inf:
            continue
        pi_inv = math.inf if pi == 0.0 else pi_inv + coeff * coeff / pi
    pi_new = 0.0 if pi_inv == math.inf else 1.0 / pi_inv
    return target.update_message(slot, pi_new, pi_new * mu)


@dataclass(frozen=True, slots=True)
class FactorGraphFFA(OnlineRatingModel):
    r"""Expectation propagation on the free-for-all factor graph (Herbrich et al. 2006, Fig. 1).

    Players are sorted by rank (tied players by rating, μ first: see ``_update``). Each player
    has skill :math:`s_i \sim N(\mu_i, \sigma_i^2 + \tau^2)` and performance
    :math:`p_i \sim N(s_i, \beta^2)`; each adjacent pair in the order has
    :math:`d_x = p_x - p_{x+1}` with the factor :math:`\mathbb{1}[d_x > \varepsilon]` (a win) or
    :math:`\mathbb{1}[|d_x| \le \varepsilon]` (equal ranks: a draw). Messages on the chain of
    differences are iterated forward and backward until no truncation message moves by more
    than ``min_delta`` (at most ``max_iterations`` sweeps), exactly as the ``trueskill``
    package schedules them, then sent back up to the skills.

    Parameters
    ----------
    mu0, sigma0, beta, tau :
        25, 25/3, 25/6 and 25/300: the package's (and the deployment's) defaults. τ² is added
        to every contestant's variance before each update.
    draw_probability :
        0.10. The draw margin is :math:`\varepsilon = \Phi^{-1}((p+1)/2)\sqrt{2}\beta`, the
        package's ``calc_draw_margin`` for two players. Equal ranks need ``p > 0``.
    min_delta, max_iterations :
        The package's stopping rule: 1e-4 and 10 sweeps.

    Notes
    -----
    A best-of-K vote enters as the winner at rank 1 and every other output tied at rank 2
    (:attr:`karena.rating.types.BestOfK.ranks`), which is what the deployment passed to the
    package: the losers are treated as *drawn* with each other, not as unordered.
    """

    mu0: float = DEFAULT_MU
    sigma0: float = DEFAULT_SIGMA
    beta: float = DEFAULT_BETA
    tau: float = DEFAULT_TAU
    draw_probability: float = 0.10
    min_delta: float = MIN_DELTA
    max_iterations: int = MAX_ITERATIONS
    name: str = "factor-graph"

    def __post_init__(self) -> None:
        if not 0.0 <= self.draw_probability < 1.0:
            raise InvalidInput(f"draw_probability must be in [0, 1), got {self.draw_probability}")
        if not (self.beta > 0 and self.sigma0 > 0 and self.tau >= 0 and self.min_delta > 0):
            raise InvalidInput("need beta > 0, sigma0 > 0, tau >= 0 and min_delta > 0")
        if self.max_iterations < 1:
            raise InvalidInput(f"max_iterations must be >= 1, got {self.max_iterations}")

    @property
    def draw_margin(self) -> float:
        """ε for two players: Φ⁻¹((p + 1)/2)·√2·β."""
        if self.draw_probability == 0.0:
            return 0.0
        z = NormalDist().inv_cdf((self.draw_probability + 1.0) / 2.0)
        return z * math.sqrt(2.0) * self.beta

    def initial(self) -> Rating:
        return Rating(self.mu0, self.sigma0)

    def _update(self, ratings: tuple[Rating, ...], outcome: Outcome) -> tuple[Rating, ...]:
        ranks = outcome.ranks
        # By rank, and within a tie by rating (μ down, then σ up), so that the chain, and with
        # it the result, does not depend on the order the outputs were shown in. The package
        # keeps display order within a tie; it agrees with this when given the same order.
        order = sorted(
            range(len(ratings)), key=lambda i: (ranks[i], -ratings[i].mu, ratings[i].sigma, i)
        )
        sorted_ranks = [ranks[i] for i in order]
        margin = self.draw_margin
        if margin <= 0.0 and len(set(sorted_ranks)) < len(sorted_ranks):
            raise InvalidVote("equal ranks (draws) need draw_probability > 0")
        posterior = self._run([ratings[i] for i in order], sorted_ranks, margin)
        result: list[Rating | None] = [None] * len(ratings)
        for position, rating in zip(order, posterior, strict=True):
            result[position] = rating
        return tuple(r for r in result if r is not None)

    def _run(self, ratings: list[Rating], ranks: list[int], margin: float) -> list[Rating]:
        """The package's ``run_schedule`` for one player per team, on sorted contestants."""
        n = len(ratings)
        beta_sq = self.beta * self.beta
        skill = [_Var(2) for _ in range(n)]  # slots: 0 prior, 1 likelihood
        perf = [_Var(2) for _ in range(n)]  # slots: 0 likelihood, 1 team sum
        team = [_Var(3) for _ in range(n)]  # slots: 0 team sum, 1 diff on the left, 2 on the right
        diff = [_Var(2) for _ in range(n - 1)]  # slots: 0 difference sum, 1 truncation
        # Down the prior, likelihood and team layers.
        for var, rating in zip(skill, ratings, strict=True):
            if rating.sigma == 0.0 and self.tau == 0.0:
                raise InvalidInput("the factor graph needs sigma > 0 (or tau > 0)")
            pi = (math.sqrt(rating.sigma**2 + self.tau**2)) ** -2
            var.update_value(0, pi, pi * rating.mu)
        for s, p in zip(skill, perf, strict=True):
            pi, tau = s.cavity(1)
            a = 1.0 / (1.0 + beta_sq * pi)
            p.update_message(0, a * pi, a * tau)
        for p, t in zip(perf, team, strict=True):
            _sum_message(t, 0, [p.cavity(1)], [1.0])

        def diff_down(x: int) -> None:
            _sum_message(diff[x], 0, [team[x].cavity(2), team[x + 1].cavity(1)], [1.0, -1.0])

        def truncate(x: int) -> float:
            pi, tau = diff[x].cavity(1)
            sqrt_pi = math.sqrt(pi)
            mean, t = tau / sqrt_pi, margin * sqrt_pi
            if ranks[x] == ranks[x + 1]:
                v, one_minus_w = v_tie(mean, t), 1.0 - w_tie(mean, t)
            else:
                # 1 − W straight from the tail's fraction: an extreme upset keeps its update.
                v, one_minus_w = v_win(mean - t), one_minus_w_win(mean - t)
            one_minus_w = max(one_minus_w, _MIN_ONE_MINUS_W)
            return diff[x].update_value(1, pi / one_minus_w, (tau + sqrt_pi * v) / one_minus_w)

        def up_right(x: int) -> None:
            _sum_message(team[x + 1], 1, [team[x].cavity(2), diff[x].cavity(0)], [1.0, -1.0])

        def up_left(x: int) -> None:
            _sum_message(team[x], 2, [diff[x].cavity(0), team[x + 1].cavity(1)], [1.0, 1.0])

        last = n - 2
        for _ in range(self.max_iterations):
            if last == 0:
                diff_down(0)
                delta = truncate(0)
            else:
                delta = 0.0
                for x in range(last):
                    diff_down(x)
                    delta = max(delta, truncate(x))
                    up_right(x)
                for x in range(last, 0, -1):
                    diff_down(x)
                    delta = max(delta, truncate(x))
                    up_left(x)
            if delta <= self.min_delta:
                break
        up_left(0)
        up_right(last)
        # Back up the team and likelihood layers to the skills.
        for t, p in zip(team, perf, strict=True):
            _sum_message(p, 1, [t.cavity(0)], [1.0])
        for p, s in zip(perf, skill, strict=True):
            pi, tau = p.cavity(0)
            a = 1.0 / (1.0 + beta_sq * pi)
            s.update_message(1, a * pi, a * tau)
        return [Rating(s.tau / s.pi, math.sqrt(1.0 / s.pi)) for s in skill]

    def win_probability(self, a: Rating, b: Rating) -> float:
        """Φ((μ_a − μ_b)/√(σ_a² + σ_b² + 2β²)), ignoring draws."""
        return gaussian_win_probability(a, b, self.beta)

    def ranking_probability(self, ratings: Sequence[Rating], order: Sequence[int]) -> float:
        """P(p_{o1} > … > p_{oK}) with p_i ~ N(μ_i, σ_i² + β²), ignoring draws."""
        return gaussian_ranking_probability(ratings, order, self.beta)
