"""Output-level placement maths: output-quality posterior, order likelihood, grid posterior."""

from __future__ import annotations

import math

import numpy as np
import pytest

from karena.errors import InvalidInput
from karena.judge.placement import (
    PlacementConfig,
    PlacementState,
    infer_output_qualities,
)
from karena.judge.posterior import (
    GridPosterior,
    OutputQuality,
    order_likelihood,
    output_quality_posterior,
    output_quality_posterior_batch,
    split_beta,
)
from karena.rating.types import Rating


def _brute_force(mu, sigma, ranks, beta_o, human, n, rng):
    """Rejection sampling: draw outputs and votes, keep those that reproduce the human order."""
    mu, sigma = np.asarray(mu), np.asarray(sigma)
    x = mu + np.sqrt(sigma**2 + beta_o**2) * rng.standard_normal((n, mu.size))
    z = x + human * rng.standard_normal((n, mu.size))
    got = np.argsort(np.argsort(-z, axis=1), axis=1) + 1
    keep = np.all(got == np.asarray(ranks), axis=1)
    return x[keep]


@pytest.mark.parametrize(
    ("ranks", "human"),
    [([2, 1, 3, 4], 2.95), ([2, 3, 1, 4], 2.95), ([1, 2, 3, 4], 0.0), ([3, 1, 4, 2], 1.5)],
)
def test_output_posterior_matches_rejection_sampling(ranks: list[int], human: float) -> None:
    mu, sigma, beta_o = [28.0, 24.0, 22.0, 19.0], [0.8, 0.7, 0.9, 0.8], 2.95
    q = output_quality_posterior(mu, sigma, ranks, beta_o, human, np.random.default_rng(0))
    kept = _brute_force(mu, sigma, ranks, beta_o, human, 400_000, np.random.default_rng(1))
    n = kept.shape[0]
    assert n > 2000
    # Tolerances: 4 standard errors of the brute force plus the Gibbs estimate's own error.
    np.testing.assert_allclose(q.mean, kept.mean(axis=0), atol=4 * 3.0 / math.sqrt(n) + 0.08)
    np.testing.assert_allclose(q.var, kept.var(axis=0), rtol=4 * math.sqrt(2.0 / n) + 0.04)
    # The human order moves each output's quality towards where it was ranked.
    prior_var = np.asarray(sigma) ** 2 + beta_o**2
    assert np.all(q.var < prior_var)


def test_output_posterior_ties_put_no_order_between_tied_outputs() -> None:
    mu, sigma = [25.0, 25.0, 20.0], [0.8, 0.8, 0.8]
    q = output_quality_posterior(mu, sigma, [1, 1, 2], 3.0, 0.0, np.random.default_rng(3))
    assert q.mean[0] == pytest.approx(q.mean[1], abs=0.1)
    assert q.mean[2] < 20.0 < q.mean[0] - 2.0


def test_output_posterior_batch_equals_rows_in_distribution() -> None:
    mu = np.array([[28.0, 24.0, 22.0, 19.0], [20.0, 21.0, 22.0, 23.0]])
    sigma = np.full_like(mu, 0.8)
    ranks = np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0]])
    mean, var = output_quality_posterior_batch(
        mu, sigma, ranks, 2.95, 2.95, np.random.default_rng(4)
    )
    assert mean.shape == var.shape == (2, 4)
    # Second row: the humans ranked the weakest model's output first, so it rose above its μ.
    assert mean[1, 0] > 20.5 and mean[1, 3] < 22.5
    assert np.all(np.diff(mean[0]) < 0)


def test_output_posterior_rejects_bad_input() -> None:
    with pytest.raises(InvalidInput):
        output_quality_posterior([1.0, 2.0], [0.5], [1, 2], 3.0, 1.0, np.random.default_rng(0))
    with pytest.raises(InvalidInput):
        split_beta(4.0, 1.0)
    b_o, h = split_beta(4.0, 0.25)
    assert b_o**2 + h**2 == pytest.approx(16.0)
    assert h == pytest.approx(2.0)


@pytest.mark.parametrize(
    "ranks", [[2, 1, 4, 5, 3], [1, 2, 3, 4, 5], [5, 4, 3, 2, 1], [3, 1, 2, 5, 4]]
)
def test_order_likelihood_matches_monte_carlo(ranks: list[int]) -> None:
    rng = np.random.default_rng(5)
    m = np.array([[26.0, 24.0, 22.0, 20.0]])
    s = np.array([[3.0, 2.5, 4.0, 3.5]])
    theta, s_new = np.array([23.0, 27.0]), 3.0
    y = np.arange(-20.0, 70.0, 0.25)
    dens = np.exp(-0.5 * ((y[None, :] - theta[:, None]) / s_new) ** 2) / (
        s_new * math.sqrt(2.0 * math.pi)
    )
    like = order_likelihood(dens[None], m, s, ranks, y)[0]
    n = 400_000
    for t, got in zip(theta, like, strict=True):
        draws = np.concatenate(
            [m + s * rng.standard_normal((n, 4)), t + s_new * rng.standard_normal((n, 1))], axis=1
        )
        order = np.argsort(np.argsort(-draws, axis=1), axis=1) + 1
        p = np.all(order == np.asarray(ranks), axis=1).mean()
        assert got == pytest.approx(p, abs=4.0 * math.sqrt(p * (1 - p) / n) + 1e-4)


def test_order_likelihood_needs_a_strict_order() -> None:
    y = np.arange(0.0, 10.0, 0.5)
    with pytest.raises(InvalidInput):
        order_likelihood(np.ones((1, 2, y.size)), np.ones((1, 2)), np.ones((1, 2)), [1, 1, 2], y)


def _simulate_grid(theta: float, judge_noise: float, runs: int, seed: int) -> GridPosterior:
    """Feed a grid posterior the orders of a Thurstonian judge against known output qualities."""
    rng = np.random.default_rng(seed)
    beta_o = 2.95
    grid = GridPosterior(25.0, 25.0 / 3.0, beta_o)
    for _ in range(runs):
        mean = rng.uniform(17.0, 31.0, 4)
        var = np.full(4, 2.0**2)
        x = np.append(mean + rng.normal(0.0, 2.0, 4), theta + rng.normal(0.0, beta_o))
        y = x + rng.normal(0.0, judge_noise, 5)
        ranks = [int(v) for v in np.argsort(np.argsort(-y)) + 1]
        grid.update(OutputQuality(mean, var), ranks)
    return grid


def test_grid_posterior_recovers_skill_and_judge_noise() -> None:
    errors = []
    for seed in range(6):
        grid = _simulate_grid(22.0, 4.5, 120, seed)
        mu, sd = grid.moments()
        errors.append((mu - 22.0) / sd)
        # The judge's noise is learnt: most mass on the true value or its grid neighbours.
        w = grid.noise_weights()
        near = np.abs(np.log(grid.s / 4.5)) < 0.6
        assert w[near].sum() > 0.8
        assert 0.3 < sd < 1.5
    # Calibrated: standardised errors are O(1), not systematically off.
    assert np.sqrt(np.mean(np.square(errors))) < 2.0


def test_fixed_noise_is_overconfident_with_a_noisy_judge() -> None:
    learnt = _simulate_grid(22.0, 7.5, 80, 11)
    trusted = _simulate_grid(22.0, 7.5, 0, 11)
    rng_grid = _simulate_grid(22.0, 7.5, 80, 11)
    trusted.fix_noise(0.5)
    rng_grid.fix_noise(0.5)
    assert trusted.moments()[1] == pytest.approx(25.0 / 3.0, rel=0.05)  # prior only
    assert rng_grid.moments()[1] < learnt.moments()[1]


def test_placement_state_stops_on_its_posterior_sd() -> None:
    board = [Rating(30.0 - 2.0 * i, 0.8) for i in range(6)]
    inst = [[board[(i + d) % 6] for d in range(4)] for i in range(6)] * 4
    ranks = [[1, 2, 3, 4]] * len(inst)
    cfg = PlacementConfig(max_runs=24, seed=1, stop_sigma=2.0)
    q = infer_output_qualities(inst, ranks, cfg)
    assert len(q) == len(inst)
    state = PlacementState(q, cfg)
    assert state.stop_reason() is None
    rng = np.random.default_rng(0)
    while state.stop_reason() is None:
        idx = state.select()[0]
        x = np.append(q[idx].mean, 25.0 + rng.normal(0.0, 2.95))
        state.apply(idx, [int(v) for v in np.argsort(np.argsort(-x)) + 1])
    assert state.stop_reason() in ("converged", "max_runs")
    if state.stop_reason() == "converged":
        assert state.rating.sigma < 2.0
    assert state.history[0][0] == 0 and len(state.history) == state.runs + 1
    assert state.scored == state.runs
    with pytest.raises(InvalidInput):
        state.apply(next(iter(state.used)), None)
    skipping = PlacementState(q, PlacementConfig(stop_sigma=8.0))
    skipping.apply(0, None)
    assert skipping.stop_reason() is None  # a skipped run leaves σ at σ0 = 25/3
    assert skipping.scored == 0 and skipping.runs == 1
    with pytest.raises(InvalidInput):
        PlacementConfig(stop_sigma=0.0)
