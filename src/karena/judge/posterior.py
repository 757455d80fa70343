"""Output-level Bayesian placement: karena's alternative to the paper's update and correction.

The paper (K-Sort Eval §3; METHODS §2.2 steps 4–5) compares the new model's output with the
existing *models'* ratings and then corrects the update by the judge's agreement with the human
order. Two things are lost on the way:

* an existing output is not its model: its quality varies by β around the model's skill, which is
  as large as the whole spread of the board. The reference instance's **human ranking** says where
  each existing output fell, so we infer each output's quality (:func:`output_quality_posterior`)
  and compare the new output with those output-level qualities instead;
* the judge's noise is a parameter to infer, not a per-run weight: the judge's order of the
  existing outputs, set against their inferred qualities, tells how noisy it is. We keep a joint
  grid posterior over the new model's skill θ and the judge noise s (:class:`GridPosterior`), and
  every run multiplies in the exact likelihood of the judge's full (K+1)-wise order.

Model (all in μ units; Thurstone, as METHODS §1.1 with β split in two):

* output quality X = θ_model + N(0, β_o²); a human vote sees X + N(0, h²), with β_o² + h² = β²;
* the judge sees X + N(0, s²) (position bias is not modelled: swapping turns it into noise).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

from karena.errors import InvalidInput

__all__ = [
    "DEFAULT_HUMAN_NOISE_SHARE",
    "GridPosterior",
    "OutputQuality",
    "order_likelihood",
    "output_quality_posterior",
    "output_quality_posterior_batch",
    "split_beta",
]

#: Share of the rating model's β² that is vote noise (h²) rather than output variation (β_o²).
#: An assumption (docs/judge.md): no public data separates the two for K-Sort Arena.
DEFAULT_HUMAN_NOISE_SHARE = 0.5

#: Probabilities below this are set to 0 (far below any likelihood that matters).
_TINY = 1e-150


def split_beta(beta: float, human_noise_share: float) -> tuple[float, float]:
    """(β_o, h): output spread and human vote noise with β_o² + h² = β²."""
    if not (0.0 <= human_noise_share < 1.0):
        raise InvalidInput(f"human_noise_share must be in [0, 1), got {human_noise_share}")
    return beta * math.sqrt(1.0 - human_noise_share), beta * math.sqrt(human_noise_share)


@dataclass(frozen=True, slots=True)
class OutputQuality:
    """Posterior mean and variance of each existing output's quality X on one instance."""

    mean: np.ndarray
    var: np.ndarray


def _truncnorm(
    mean: np.ndarray, sd: np.ndarray, lo: np.ndarray, hi: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """Inverse-CDF draws of N(mean, sd²) truncated to (lo, hi), stable in either tail."""
    a = (lo - mean) / sd
    b = (hi - mean) / sd
    # Sample in the tail where Φ has precision: mirror when the interval lies above 0.
    flip = a > 0
    a2 = np.where(flip, -b, a)
    b2 = np.where(flip, -a, b)
    pa, pb = special.ndtr(a2), special.ndtr(b2)
    z = special.ndtri(np.clip(pa + u * (pb - pa), 1e-300, 1.0 - 1e-16))
    z = np.where(flip, -z, z)
    out: np.ndarray = mean + sd * np.clip(z, np.minimum(a, b), np.maximum(a, b))
    return out


def output_quality_posterior(
    mu: Sequence[float],
    sigma: Sequence[float],
    human_ranks: Sequence[float],
    beta_output: float,
    human_noise: float,
    rng: np.random.Generator,
    chains: int = 400,
    sweeps: int = 60,
    burn_in: int = 20,
) -> OutputQuality:
    """Posterior of the K existing outputs' qualities given their models and the human order.

    Parameters
    ----------
    mu, sigma :
        The K models' leaderboard ratings; the model's skill is N(μ, σ²).
    human_ranks :
        The human ranking of the K outputs (1 = best; equal ranks put no order between them).
    beta_output, human_noise :
        β_o and h of :func:`split_beta`.
    rng :
        The Gibbs sampler's randomness (results are Monte Carlo estimates).

    Notes
    -----
    The vote sees Z_k = X_k + e_k with X_k ~ N(μ_k, σ_k² + β_o²) and e_k ~ N(0, h²) independent;
    the human order is the order of Z. So Z has the truncated Gaussian posterior
    Π_k N(Z_k; μ_k, σ_k² + β_o² + h²)·1[Z ordered as the humans ranked] (sampled by Gibbs, each
    coordinate a truncated normal between its neighbours), and X_k | Z_k is Gaussian with gain
    a_k = v_k / (v_k + h²). The returned moments are mixed over the Z draws. The K-Sort Eval
    filter (Spearman > 0.75 with the board) depends on the human order only, so conditioning on
    the order already accounts for it.
    """
    m = np.asarray(mu, dtype=float)[None, :]
    mean, var = output_quality_posterior_batch(
        m,
        np.asarray(sigma, dtype=float)[None, :],
        np.asarray(human_ranks, dtype=float)[None, :],
        beta_output,
        human_noise,
        rng,
        chains,
        sweeps,
        burn_in,
    )
    return OutputQuality(mean[0], var[0])


def output_quality_posterior_batch(
    mu: np.ndarray,
    sigma: np.ndarray,
    human_ranks: np.ndarray,
    beta_output: float,
    human_noise: float,
    rng: np.random.Generator,
    chains: int = 400,
    sweeps: int = 60,
    burn_in: int = 20,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`output_quality_posterior` for N instances at once: (N, K) arrays in and out."""
    m = np.asarray(mu, dtype=float)
    v = np.asarray(sigma, dtype=float) ** 2 + beta_output**2
    r = np.asarray(human_ranks, dtype=float)
    if not (m.ndim == 2 and m.shape == v.shape == r.shape and m.shape[1] >= 1):
        raise InvalidInput("mu, sigma and human_ranks must be (N, K) arrays of the same shape")
    if beta_output < 0 or human_noise < 0 or not np.all(v > 0):
        raise InvalidInput("variances must be positive")
    n, k = m.shape
    total = v + human_noise**2
    sd = np.sqrt(total)
    # Feasible start: sorted normal draws handed out in the human order (best gets the largest).
    z = -np.sort(-rng.normal(0.0, 1.0, (n, chains, k)), axis=2)
    zs = np.empty((n, chains, k))
    order = np.argsort(r, axis=1, kind="stable")
    for pos in range(k):
        idx = order[:, pos]
        zs[np.arange(n), :, idx] = z[:, :, pos] * sd.mean(axis=1)[:, None] + m.mean(axis=1)[:, None]
    kept_sum = np.zeros((n, k))
    kept_sq = np.zeros((n, k))
    kept = 0
    gain = v / total
    for sweep in range(sweeps):
        for i in range(k):
            above = r < r[:, i : i + 1]  # (n, k): ranked better than output i
            below = r > r[:, i : i + 1]
            hi = np.min(np.where(above[:, None, :], zs, np.inf), axis=2)
            lo = np.max(np.where(below[:, None, :], zs, -np.inf), axis=2)
            zs[:, :, i] = _truncnorm(
                np.broadcast_to(m[:, i : i + 1], (n, chains)),
                np.broadcast_to(sd[:, i : i + 1], (n, chains)),
                lo,
                hi,
                rng.random((n, chains)),
            )
        if sweep >= burn_in:
            x = m[:, None, :] + gain[:, None, :] * (zs - m[:, None, :])
            kept_sum += x.sum(axis=1)
            kept_sq += (x**2).sum(axis=1)
            kept += chains
    mean = kept_sum / kept
    var = kept_sq / kept - mean**2 + (1.0 - gain) * v
    return mean, var


def order_likelihood(
    new_density: np.ndarray,
    existing_mean: np.ndarray,
    existing_sd: np.ndarray,
    ranks: Sequence[int],
    y: np.ndarray,
) -> np.ndarray:
    """P(the judge's strict order | θ, s) for every θ and s on a grid (independent Gaussians).

    Parameters
    ----------
    new_density :
        (S, T, G): density of the judge's view of the new output, N(y; θ, β_o² + s²), per s and θ.
    existing_mean, existing_sd :
        (S, K): the judge's view of existing output k is N(m_k, v_k + s²).
    ranks :
        K+1 strict ranks (1 = best), existing outputs first, the new output last.
    y :
        The (G,) integration grid, evenly spaced.

    Notes
    -----
    Given the new output's view y, the outputs ranked above it and those below are independent:
    U(y) = P(Y_a1 > … > Y_aj > y) and L(y) = P(y > Y_b1 > … > Y_bm) are built by nested
    one-dimensional integrals on the grid, and the likelihood is ∫ p_new(y | θ, s) U(y) L(y) dy.
    """
    rk = [int(x) for x in ranks]
    kk = len(rk) - 1
    if len(set(rk)) != len(rk):
        raise InvalidInput("order_likelihood needs a strict order (no tied ranks)")
    dy = float(y[1] - y[0])
    zz = (y[None, None, :] - existing_mean[:, :, None]) / existing_sd[:, :, None]  # (S, K, G)
    # Far tails are zeroed: subnormal floats would make every operation below ~100x slower.
    zz = np.clip(zz, -30.0, 30.0)
    pdf = np.exp(-0.5 * zz**2) / (existing_sd[:, :, None] * math.sqrt(2.0 * math.pi))
    pdf[pdf < _TINY] = 0.0
    cdf = special.ndtr(zz)
    cdf[cdf < _TINY] = 0.0
    new_rank = rk[kk]
    above = sorted((i for i in range(kk) if rk[i] < new_rank), key=lambda i: rk[i])
    below = sorted((i for i in range(kk) if rk[i] > new_rank), key=lambda i: rk[i])
    upper = np.ones((existing_mean.shape[0], y.size))
    for n, i in enumerate(above):
        if n == 0:
            upper = 1.0 - cdf[:, i]
        else:  # P(chain above > t) for t = y: ∫_y^∞ p_i(t) upper(t) dt
            integrand = pdf[:, i] * upper
            upper = np.cumsum(integrand[:, ::-1], axis=1)[:, ::-1] * dy - 0.5 * integrand * dy
    lower = np.ones((existing_mean.shape[0], y.size))
    for n, i in enumerate(reversed(below)):
        if n == 0:
            lower = cdf[:, i]
        else:  # ∫_{-∞}^y p_i(t) lower(t) dt
            integrand = pdf[:, i] * lower
            lower = np.cumsum(integrand, axis=1) * dy - 0.5 * integrand * dy
    envelope = np.clip(upper * lower, 0.0, None)  # (S, G)
    envelope[envelope < _TINY] = 0.0
    like: np.ndarray = np.matmul(new_density, envelope[:, :, None])[:, :, 0] * dy
    return like


@dataclass
class GridPosterior:
    """Joint posterior over the new model's skill θ and the judge noise s, on a grid.

    Flat prior over the listed s values (log-spaced), N(μ0, σ0²) over θ.
    """

    mu0: float
    sigma0: float
    beta_output: float
    noise_grid: tuple[float, ...] = (0.5, 1.2, 2.5, 4.5, 7.5, 12.0)
    theta_step: float = 0.25
    y_step: float = 0.5

    def __post_init__(self) -> None:
        if not (self.sigma0 > 0 and self.beta_output > 0 and self.noise_grid):
            raise InvalidInput("the grid posterior needs sigma0 > 0, beta_o > 0 and noise values")
        lo, hi = self.mu0 - 4.0 * self.sigma0, self.mu0 + 4.0 * self.sigma0
        self.theta = np.arange(lo, hi + self.theta_step, self.theta_step)
        self.s = np.asarray(self.noise_grid, dtype=float)
        pad = 3.5 * math.sqrt(self.beta_output**2 + float(self.s.max()) ** 2)
        self.y = np.arange(lo - pad, hi + pad, self.y_step)
        sd = np.sqrt(self.beta_output**2 + self.s**2)[:, None, None]
        diff = self.y[None, None, :] - self.theta[None, :, None]
        self._new_density = np.exp(-0.5 * (diff / sd) ** 2) / (sd * math.sqrt(2.0 * math.pi))
        self._new_density[self._new_density < _TINY] = 0.0
        prior = -0.5 * ((self.theta - self.mu0) / self.sigma0) ** 2
        self.log_post = np.broadcast_to(prior[None, :], (self.s.size, self.theta.size)).copy()
        self.runs = 0

    def update(self, existing: OutputQuality, ranks: Sequence[int]) -> None:
        """Multiply in one judged ranking (existing outputs first, the new one last)."""
        sd = np.sqrt(existing.var[None, :] + self.s[:, None] ** 2)
        mean = np.broadcast_to(existing.mean[None, :], sd.shape)
        like = order_likelihood(self._new_density, mean, sd, ranks, self.y)
        self.log_post += np.log(np.clip(like, 1e-300, None))
        self.log_post -= self.log_post.max()
        self.runs += 1

    def fix_noise(self, s: float) -> None:
        """Believe the judge has noise ``s`` (the "no reliability estimate" ablation)."""
        keep = int(np.argmin(np.abs(self.s - s)))
        self.log_post[np.arange(self.s.size) != keep] = -np.inf

    def theta_weights(self) -> np.ndarray:
        """Marginal posterior over the θ grid (sums to 1)."""
        p = np.exp(self.log_post - self.log_post.max()).sum(axis=0)
        out: np.ndarray = p / p.sum()
        return out

    def noise_weights(self) -> np.ndarray:
        """Marginal posterior over the judge noise values (sums to 1)."""
        p = np.exp(self.log_post - self.log_post.max()).sum(axis=1)
        out: np.ndarray = p / p.sum()
        return out

    def moments(self) -> tuple[float, float]:
        """Posterior mean and standard deviation of θ."""
        p = self.theta_weights()
        mean = float(p @ self.theta)
        var = float(p @ (self.theta - mean) ** 2)
        return mean, math.sqrt(max(var, 0.0))
