"""Batch Plackett–Luce: agreement with choix, K = 2 is Bradley–Terry, Breslow ties, bad input."""

from __future__ import annotations

import math

import choix
import numpy as np
import pytest
from scipy import optimize

from karena.errors import InvalidInput, NotFound
from karena.rating.bradley_terry import PairCounts, fit_bradley_terry
from karena.rating.plackett_luce import Rest, fit_plackett_luce, rankings_from_votes
from karena.rating.types import BestOfK, Ranking, Vote, pairwise


def sample_rankings(
    rng: np.random.Generator, theta: np.ndarray, count: int, k: int
) -> list[list[int]]:
    """Plackett–Luce draws: sort Gumbel-perturbed strengths of ``k`` random models."""
    out = []
    for _ in range(count):
        shown = rng.choice(len(theta), size=k, replace=False)
        noisy = theta[shown] + rng.gumbel(size=k)
        out.append([int(x) for x in shown[np.argsort(-noisy)]])
    return out


@pytest.mark.parametrize(("seed", "k"), [(0, 4), (1, 3), (2, 6)])
def test_maximum_likelihood_matches_choix_ilsr(seed: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 1, 10)
    data = sample_rankings(rng, theta, 600, k)
    ours = fit_plackett_luce(data, 10)
    ref = choix.ilsr_rankings(10, data, alpha=0.0, tol=1e-12)
    np.testing.assert_allclose(ours.strengths, ref - ref.mean(), atol=1e-8)


def test_ridge_matches_choix_map_estimate() -> None:
    rng = np.random.default_rng(3)
    data = sample_rankings(rng, rng.normal(0, 1, 6), 60, 4)
    # choix penalises alpha·‖θ‖²; our ridge λ penalises λ/2·‖θ‖².
    ref = choix.opt_rankings(6, data, alpha=0.05)
    ours = fit_plackett_luce(data, 6, ridge=0.1)
    np.testing.assert_allclose(ours.strengths, ref - ref.mean(), atol=1e-5)


def test_pairwise_rankings_give_the_bradley_terry_fit() -> None:
    rng = np.random.default_rng(4)
    data = sample_rankings(rng, rng.normal(0, 1, 6), 400, 2)
    pl = fit_plackett_luce(data, 6, models=list("abcdef"))
    votes = [Vote((f"{'abcdef'[a]}", f"{'abcdef'[b]}"), Ranking((1, 2))) for a, b in data]
    bt = fit_bradley_terry(PairCounts.from_votes(votes, models=list("abcdef")))
    np.testing.assert_allclose(pl.ratings, bt.ratings, atol=1e-7)
    assert pl.order() == bt.order()


def test_recovers_known_strengths() -> None:
    rng = np.random.default_rng(5)
    theta = np.linspace(-1.5, 1.5, 8)
    fit = fit_plackett_luce(sample_rankings(rng, theta, 4000, 4), 8)
    np.testing.assert_allclose(fit.strengths, theta - theta.mean(), atol=0.12)
    assert fit.order() == tuple(range(7, -1, -1))


def test_three_cycle_of_rankings_gives_equal_strengths() -> None:
    data = [[0, 1, 2], [1, 2, 0], [2, 0, 1]] * 3
    np.testing.assert_allclose(fit_plackett_luce(data, 3).strengths, 0.0, atol=1e-10)


def test_breslow_ties_match_a_direct_likelihood() -> None:
    """Tied places use Breslow's factor Π w_i / (Σ_R w)^|G|; checked against BFGS on it."""
    rng = np.random.default_rng(6)
    data: list[list[int | tuple[int, ...]]] = []
    for ranking in sample_rankings(rng, rng.normal(0, 1, 5), 60, 4):
        cut = int(rng.integers(0, 3))
        data.append([*ranking[:cut], tuple(ranking[cut : cut + 2]), *ranking[cut + 2 :]])

    def negloglik(free: np.ndarray) -> float:
        theta = np.r_[0.0, free]
        total = 0.0
        for ranking in data:
            places = [p if isinstance(p, tuple) else (p,) for p in ranking]
            for s, group in enumerate(places):
                rest = [m for g in places[s:] for m in g]
                if len(rest) > 1:
                    log_den = np.log(np.sum(np.exp(theta[rest])))
                    total += float(np.sum(theta[list(group)])) - len(group) * log_den
        return -total

    ref = optimize.minimize(negloglik, np.zeros(4), method="BFGS", options={"gtol": 1e-9})
    theta_ref = np.r_[0.0, ref.x]
    fit = fit_plackett_luce(data, 5)
    np.testing.assert_allclose(fit.strengths, theta_ref - theta_ref.mean(), atol=1e-5)
    assert fit.log_likelihood == pytest.approx(-ref.fun, rel=1e-9)


def test_rankings_from_votes() -> None:
    votes = [
        Vote(("x", "y", "z"), Ranking((2, 1, 2))),
        Vote(("z", "w", "x", "y"), BestOfK(4, 1)),
        Vote(("y", "w"), pairwise("tie")),
    ]
    models, rankings = rankings_from_votes(votes)
    assert models == ("x", "y", "z", "w")
    # Best-of-K is a top-1 choice: the losers are shown (Rest) but not placed, not tied.
    assert rankings == [[(1,), (0, 2)], [(3,), (2, 0, 1)], [(1, 3)]]
    assert isinstance(rankings[1][1], Rest)
    with pytest.raises(NotFound):
        rankings_from_votes(votes, models=["x"])
    with pytest.raises(InvalidInput, match="do not exist"):  # x and z never beat anyone
        fit_plackett_luce(rankings, len(models), models=models)
    fit = fit_plackett_luce(rankings, len(models), models=models, ridge=0.1)
    assert math.isfinite(fit.rating("w"))
    with pytest.raises(NotFound):
        fit.rating("nope")


@pytest.mark.parametrize(
    "ranking",
    [[0], [0, 0], [0, 7], [0, ()], [0, 1.5], [True, 1]],
)
def test_bad_rankings_are_rejected(ranking: list[object]) -> None:
    with pytest.raises(InvalidInput):
        fit_plackett_luce([[0, 1], [1, 0], ranking], 3, ridge=1.0)  # type: ignore[list-item]


def test_missing_mle_is_reported_and_ridge_fixes_it() -> None:
    data = [[0, 1, 2], [0, 2, 1]]  # model 0 always first
    with pytest.raises(InvalidInput, match="do not exist"):
        fit_plackett_luce(data, 3)
    fit = fit_plackett_luce(data, 3, ridge=0.5)
    assert fit.order()[0] == 0
    with pytest.raises(InvalidInput):
        fit_plackett_luce([], 3)


def test_top_one_choice_is_luce_not_k_minus_one_wins() -> None:
    """R-BATCH-1: a best-of-K vote is P(w | S) = e^θw / Σ_S e^θ, checked against the formula."""
    rng = np.random.default_rng(4)
    theta = np.array([0.8, 0.2, -0.3, -0.7])
    rankings: list[list[object]] = []
    for _ in range(3000):
        shown = rng.choice(4, size=3, replace=False)
        p = np.exp(theta[shown]) / np.exp(theta[shown]).sum()
        w = int(shown[rng.choice(3, p=p)])
        rankings.append([(w,), Rest(int(m) for m in shown if m != w)])
    fit = fit_plackett_luce(rankings, 4)  # type: ignore[arg-type]
    np.testing.assert_allclose(fit.strengths, theta - theta.mean(), atol=0.12)
    # The weighted fit of the unique rankings equals the fit of the repeated ones.
    unique: dict[str, tuple[list[object], int]] = {}
    for r in rankings:
        key = repr(r)
        unique[key] = (r, unique[key][1] + 1 if key in unique else 1)
    weighted = fit_plackett_luce(
        [r for r, _ in unique.values()],
        4,
        weights=[n for _, n in unique.values()],  # type: ignore[misc]
    )
    np.testing.assert_allclose(weighted.strengths, fit.strengths, atol=1e-9)
