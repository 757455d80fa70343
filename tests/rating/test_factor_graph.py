"""The factor-graph free-for-all: Microsoft Research reference values and the trueskill package."""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist

import numpy as np
import pytest

from karena.errors import InvalidInput
from karena.rating.models.factor_graph import FactorGraphFFA
from karena.rating.types import BestOfK, InvalidVote, Ranking, Rating, Vote, pairwise

trueskill = pytest.importorskip("trueskill")

DEFAULT = Rating(25.0, 25.0 / 3.0)


def exact_backend() -> tuple[Callable[..., float], ...]:
    """Exact Φ, φ, Φ⁻¹ from the standard library (same values as the package's scipy backend)."""
    normal = NormalDist()

    def cdf(x: float, mu: float = 0.0, sigma: float = 1.0) -> float:
        return 0.5 * math.erfc(-(x - mu) / (sigma * math.sqrt(2.0)))

    def pdf(x: float, mu: float = 0.0, sigma: float = 1.0) -> float:
        return normal.pdf((x - mu) / sigma) / sigma

    def ppf(p: float, mu: float = 0.0, sigma: float = 1.0) -> float:
        return mu + sigma * normal.inv_cdf(p)

    return cdf, pdf, ppf


def oracle(
    ratings: list[Rating], ranks: tuple[int, ...], backend: object = "exact", **env: float
) -> list[Rating]:
    """The trueskill package's free-for-all update, one player per team.

    Players go in in our chain's order (by rank, tied players by μ down then σ up): the package
    keeps the given order within a tie, and the chain's order changes a tie's result slightly.
    """
    ts = trueskill.TrueSkill(backend=exact_backend() if backend == "exact" else backend, **env)
    order = sorted(
        range(len(ratings)), key=lambda i: (ranks[i], -ratings[i].mu, ratings[i].sigma, i)
    )
    groups = [(ts.create_rating(ratings[i].mu, ratings[i].sigma),) for i in order]
    rated = ts.rate(groups, ranks=[ranks[i] for i in order])
    out: list[Rating] = [DEFAULT] * len(ratings)
    for i, g in zip(order, rated, strict=True):
        out[i] = Rating(g[0].mu, g[0].sigma)
    return out


def test_microsoft_research_eight_player_free_for_all() -> None:
    """MSR's published example: 8 new players, one game, finishing 1st..8th."""
    new = FactorGraphFFA().update([DEFAULT] * 8, Ranking(tuple(range(1, 9))))
    expected = [
        (36.771, 5.749),
        (32.242, 5.133),
        (29.074, 4.943),
        (26.322, 4.875),
        (23.678, 4.875),
        (20.926, 4.943),
        (17.758, 5.133),
        (13.229, 5.749),
    ]
    for rating, (mu, sigma) in zip(new, expected, strict=True):
        assert rating.mu == pytest.approx(mu, abs=5e-4)
        assert rating.sigma == pytest.approx(sigma, abs=5e-4)


def test_eight_player_draw_and_upset_reference_values() -> None:
    """The Moserware Skills suite's 8-player cases (checked there against MSR's calculator)."""
    drawn = FactorGraphFFA().update([DEFAULT] * 8, Ranking((1,) * 8))
    expected_sigma = [4.592, 4.583, 4.576, 4.573, 4.573, 4.576, 4.583, 4.592]
    assert [r.sigma for r in drawn] == pytest.approx(expected_sigma, abs=5e-4)
    assert all(r.mu == pytest.approx(25.0, abs=1e-9) for r in drawn)
    start = [Rating(10.0 + 5 * i, 8.0 - i) for i in range(8)]
    upset = FactorGraphFFA().update(start, Ranking(tuple(range(1, 9))))
    expected_mu = [35.135, 32.585, 31.329, 30.984, 31.751, 34.051, 38.263, 44.118]
    expected_sigma = [4.506, 4.037, 3.756, 3.453, 3.064, 2.541, 1.849, 0.983]
    assert [r.mu for r in upset] == pytest.approx(expected_mu, abs=5e-4)
    assert [r.sigma for r in upset] == pytest.approx(expected_sigma, abs=5e-4)


@pytest.mark.parametrize("seed", range(3))
def test_agrees_with_trueskill_on_random_games_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    model = FactorGraphFFA()
    for _ in range(60):
        k = int(rng.integers(2, 9))
        ratings = [Rating(float(rng.normal(25, 6)), float(rng.uniform(0.3, 9.0))) for _ in range(k)]
        ranks = tuple(int(x) for x in rng.integers(1, k + 1, size=k))
        ours = model.update(ratings, Ranking(ranks))
        theirs = oracle(ratings, ranks)
        for a, b in zip(ours, theirs, strict=True):
            assert a.mu == pytest.approx(b.mu, abs=1e-6)
            assert a.sigma == pytest.approx(b.sigma, abs=1e-6)


def test_agrees_with_trueskill_with_custom_parameters() -> None:
    rng = np.random.default_rng(11)
    params = {"mu": 0.0, "sigma": 3.0, "beta": 1.5, "tau": 0.0, "draw_probability": 0.3}
    model = FactorGraphFFA(mu0=0.0, sigma0=3.0, beta=1.5, tau=0.0, draw_probability=0.3)
    for _ in range(40):
        k = int(rng.integers(2, 7))
        ratings = [Rating(float(rng.normal(0, 2)), float(rng.uniform(0.2, 3))) for _ in range(k)]
        ranks = tuple(int(x) for x in rng.integers(1, 3, size=k))
        ours = model.update(ratings, Ranking(ranks))
        theirs = oracle(ratings, ranks, **params)
        assert [r.mu for r in ours] == pytest.approx([r.mu for r in theirs], abs=1e-6)
        assert [r.sigma for r in ours] == pytest.approx([r.sigma for r in theirs], abs=1e-6)


def test_package_default_backend_differs_only_by_its_erfc_approximation() -> None:
    """The deployment ran the package's built-in erfc (~1e-7 relative error): ~1e-5 apart."""
    rng = np.random.default_rng(5)
    worst = 0.0
    for _ in range(100):
        k = int(rng.integers(2, 6))
        ratings = [Rating(float(rng.normal(25, 5)), float(rng.uniform(1, 8))) for _ in range(k)]
        ranks = tuple(int(x) for x in rng.integers(1, k + 1, size=k))
        ours = FactorGraphFFA().update(ratings, Ranking(ranks))
        theirs = oracle(ratings, ranks, backend=None)
        worst = max(worst, *(abs(a.mu - b.mu) for a, b in zip(ours, theirs, strict=True)))
    assert worst < 1e-4


def test_best_of_k_is_winner_first_rest_tied_as_deployed() -> None:
    ratings = [Rating(24.0, 6.0), Rating(27.0, 3.0), Rating(22.0, 8.0), Rating(25.0, 2.0)]
    ours = FactorGraphFFA().update(ratings, BestOfK(4, 2))
    theirs = oracle(ratings, (2, 2, 1, 2))
    assert [r.mu for r in ours] == pytest.approx([r.mu for r in theirs], abs=1e-9)
    pair = FactorGraphFFA().update(ratings[:2], pairwise("both_bad"))
    assert [r.mu for r in pair] == pytest.approx([r.mu for r in oracle(ratings[:2], (1, 1))])


def test_exact_backend_matches_the_package_scipy_backend() -> None:
    ratings = [Rating(20.0, 4.0), Rating(26.0, 7.0), Rating(25.0, 1.0)]
    exact = oracle(ratings, (1, 2, 2))
    scipy = oracle(ratings, (1, 2, 2), backend="scipy")
    assert [r.mu for r in exact] == pytest.approx([r.mu for r in scipy], abs=1e-12)


def test_replay_matches_sequential_trueskill() -> None:
    rng = np.random.default_rng(2)
    ts = trueskill.TrueSkill(backend=exact_backend())
    state = {m: ts.create_rating() for m in range(10)}
    votes = []
    for _ in range(150):
        models = [int(x) for x in rng.choice(10, size=4, replace=False)]
        ranks = tuple(int(x) for x in rng.permutation(4) + 1)
        votes.append(Vote(tuple(models), Ranking(ranks)))
        rated = ts.rate([(state[m],) for m in models], ranks=list(ranks))
        for m, (r,) in zip(models, rated, strict=True):
            state[m] = r
    ours = FactorGraphFFA().replay(votes)
    for m, r in state.items():
        assert ours[m].mu == pytest.approx(r.mu, abs=1e-6)
        assert ours[m].sigma == pytest.approx(r.sigma, abs=1e-6)


def test_draws_need_a_draw_probability() -> None:
    model = FactorGraphFFA(draw_probability=0.0)
    assert model.update([DEFAULT, DEFAULT], Ranking((1, 2)))[0].mu > 25.0
    with pytest.raises(InvalidVote, match="draw"):
        model.update([DEFAULT, DEFAULT], Ranking((1, 1)))
    with pytest.raises(InvalidInput):
        FactorGraphFFA(draw_probability=1.0)
    with pytest.raises(InvalidInput):
        FactorGraphFFA(tau=0.0).update([Rating(25, 0.0), DEFAULT], Ranking((1, 2)))
