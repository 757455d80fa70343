"""The paper's K-wise update against openskill and the trueskill 1-vs-1 case (tier 2)."""

from __future__ import annotations

import itertools
import math
from statistics import NormalDist

import numpy as np
import pytest

from karena.rating.models.thurstone import ThurstoneK, draw_margin_for
from karena.rating.types import BestOfK, Ranking, Rating

openskill_models = pytest.importorskip("openskill.models")


def openskill_update(
    model: ThurstoneK, ratings: list[Rating], ranks: tuple[int, ...]
) -> list[Rating]:
    """openskill's ThurstoneMostellerFull with the same β, ε, κ, τ and γ."""

    def paper_gamma(*_: object) -> float:
        return 1.0

    kwargs: dict[str, object] = {}
    if model.gamma == "paper":
        kwargs["gamma"] = paper_gamma
    oracle = openskill_models.ThurstoneMostellerFull(
        mu=model.mu0,
        sigma=model.sigma0,
        beta=model.beta,
        kappa=model.kappa,
        epsilon=model.draw_margin,
        tau=model.tau,
        **kwargs,
    )
    teams = [[oracle.rating(mu=r.mu, sigma=r.sigma)] for r in ratings]
    rated = oracle.rate(teams, ranks=[float(r) for r in ranks])
    return [Rating(team[0].mu, team[0].sigma) for team in rated]


def worst_upset(model: ThurstoneK, ratings: list[Rating], ranks: tuple[int, ...]) -> float:
    """min over won pairs of (μ_w − μ_l)/c − ε/c: the V/W argument of the biggest upset."""
    worst = math.inf
    for i, j in itertools.permutations(range(len(ratings)), 2):
        if ranks[i] < ranks[j]:
            a, b = ratings[i], ratings[j]
            var = a.sigma**2 + b.sigma**2 + 2 * model.tau**2
            c = math.sqrt(var + 2 * model.beta**2)
            worst = min(worst, (a.mu - b.mu - model.draw_margin) / c)
    return worst


#: openskill's ThurstoneMostellerFull is the paper's form (every pair weighs 1).
CONFIGS = [
    ThurstoneK(weighting="paper"),
    ThurstoneK(weighting="paper", draw_margin=0.0),
    ThurstoneK(weighting="paper", gamma="weng_lin"),
    ThurstoneK(weighting="paper", tau=25 / 300, draw_margin=0.3, kappa=1e-3),
    ThurstoneK(weighting="paper", beta=1.0, mu0=0.0, sigma0=2.0, gamma="weng_lin"),
]


@pytest.mark.parametrize("model", CONFIGS, ids=repr)
def test_strict_rankings_agree_with_openskill(model: ThurstoneK) -> None:
    """Upsets beyond 4 standard units are skipped.

    openskill computes Φ as ½(1 + erf(x/√2)), which loses relative accuracy far in the lower
    tail (~1e-16/Φ(x)); there it differs from our erfc-based Φ by more than 1e-9.
    """
    rng = np.random.default_rng(1)
    scale = model.sigma0
    checked = 0
    while checked < 60:
        k = int(rng.integers(2, 9))
        ratings = [
            Rating(float(model.mu0 + rng.normal(0, scale)), float(rng.uniform(0.05, 1.2) * scale))
            for _ in range(k)
        ]
        ranks = tuple(int(x) for x in rng.permutation(k) + 1)
        if worst_upset(model, ratings, ranks) < -4.0:
            continue
        checked += 1
        ours = model.update(ratings, Ranking(ranks))
        theirs = openskill_update(model, ratings, ranks)
        for a, b in zip(ours, theirs, strict=True):
            assert a.mu == pytest.approx(b.mu, abs=1e-9)
            assert a.sigma == pytest.approx(b.sigma, abs=1e-9)


@pytest.mark.parametrize(
    "model",
    [
        ThurstoneK(weighting="paper"),
        ThurstoneK(weighting="paper", gamma="weng_lin", draw_margin=1.5),
    ],
)
def test_ties_between_identical_ratings_agree_with_openskill(model: ThurstoneK) -> None:
    """openskill averages tied players' μ changes; with identical tied ratings that is a no-op.

    Gaps stay moderate: openskill switches to a crude asymptote once Φ(t−|x|) − Φ(−t−|x|) < 1e-5.
    """
    rng = np.random.default_rng(4)
    for _ in range(40):
        k = int(rng.integers(3, 7))
        shared = Rating(float(rng.normal(25, 4)), float(rng.uniform(1, 8)))
        ratings = [Rating(float(rng.normal(25, 4)), float(rng.uniform(1, 8))) for _ in range(k)]
        tied = rng.choice(k, size=2, replace=False)
        for i in tied:
            ratings[int(i)] = shared
        ranks = [int(x) for x in rng.permutation(k) + 1]
        ranks[int(tied[1])] = ranks[int(tied[0])]
        ours = model.update(ratings, Ranking(tuple(ranks)))
        theirs = openskill_update(model, ratings, tuple(ranks))
        for a, b in zip(ours, theirs, strict=True):
            assert a.mu == pytest.approx(b.mu, abs=1e-9)
            assert a.sigma == pytest.approx(b.sigma, abs=1e-9)


def test_pairwise_case_is_trueskill_one_vs_one_without_draw_margin() -> None:
    trueskill = pytest.importorskip("trueskill")
    normal = NormalDist()
    env = trueskill.TrueSkill(
        tau=0.0,
        draw_probability=0.0,
        backend=(
            lambda x, mu=0, sigma=1: 0.5 * math.erfc(-(x - mu) / (sigma * math.sqrt(2))),
            lambda x, mu=0, sigma=1: normal.pdf((x - mu) / sigma) / sigma,
            lambda p, mu=0, sigma=1: mu + sigma * normal.inv_cdf(p),
        ),
    )
    model = ThurstoneK(
        draw_margin=0.0, weighting="paper", gamma="paper"
    )  # the paper's Eqs. 7-10 exactly
    for winner, loser in [((25.0, 8.0), (25.0, 8.0)), ((20.0, 3.0), (31.0, 1.5))]:
        ours = model.update([Rating(*winner), Rating(*loser)], Ranking((1, 2)))
        w, lo = env.rate_1vs1(env.create_rating(*winner), env.create_rating(*loser))
        assert (ours[0].mu, ours[0].sigma) == pytest.approx((w.mu, w.sigma), abs=1e-9)
        assert (ours[1].mu, ours[1].sigma) == pytest.approx((lo.mu, lo.sigma), abs=1e-9)


def test_default_draw_margin_gives_ten_percent_draws() -> None:
    assert ThurstoneK().draw_margin == pytest.approx(draw_margin_for(0.10, 25 / 6), abs=1e-12)
    # P(|X_a − X_b| ≤ ε) for two equal models with only performance noise: 2Φ(ε/(√2 β)) − 1.
    p = 2 * NormalDist().cdf(ThurstoneK().draw_margin / (math.sqrt(2) * 25 / 6)) - 1
    assert p == pytest.approx(0.10, abs=1e-12)


def test_best_of_k_says_nothing_among_the_losers() -> None:
    ratings = (Rating(25, 8), Rating(25, 8), Rating(25, 8), Rating(25, 8))
    new = ThurstoneK().update(ratings, BestOfK(4, 0))
    full = ThurstoneK().update(ratings, Ranking((1, 2, 2, 2)))
    assert new[1] == new[2] == new[3]
    assert new[1].sigma > full[1].sigma  # a tie would have told us more
    assert new[0].mu > 25 > new[1].mu


def test_ranking_probabilities_sum_to_one_and_match_win_probability() -> None:
    model = ThurstoneK()
    ratings = [Rating(27.0, 3.0), Rating(22.0, 5.0), Rating(25.0, 1.0)]
    total = sum(model.ranking_probability(ratings, p) for p in itertools.permutations(range(3)))
    assert total == pytest.approx(1.0, abs=1e-4)
    assert model.ranking_probability(ratings[:2], (0, 1)) == pytest.approx(
        model.win_probability(ratings[0], ratings[1])
    )
    assert model.win_probability(ratings[0], ratings[1]) + model.win_probability(
        ratings[1], ratings[0]
    ) == pytest.approx(1.0)
