"""Pins of the Thurstone model that the mutation run found loose (issue 18).

Ranking probabilities for K ≥ 3 against numerical integration (scipy.integrate.quad of the
order statistics), not only their sum; the win probability; the tie and best-of-K weights.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
from scipy import integrate, special, stats

from karena.errors import InvalidInput
from karena.rating.models.thurstone import (
    DEFAULT_BETA,
    ThurstoneK,
    best_of_k_weight,
    draw_margin_for,
    gaussian_ranking_probability,
    gaussian_win_probability,
    vote_weight,
)
from karena.rating.types import BestOfK, Ranking, Rating, Tie

RATINGS = (Rating(27.0, 2.0), Rating(24.0, 5.0), Rating(25.5, 0.5), Rating(22.0, 3.0))


def _grid(r: Rating, beta: float, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Density and distribution function of X ~ N(μ, σ² + β²) on the grid ``y``."""
    s = math.sqrt(r.sigma**2 + beta**2)
    z = (y - r.mu) / s
    return np.exp(-0.5 * z * z) / (s * math.sqrt(2 * math.pi)), special.ndtr(z)


def ref_three(ratings: tuple[Rating, ...], order: tuple[int, ...], beta: float) -> float:
    """P(X_a > X_b > X_c) = ∫ f_b(y) (1 − F_a(y)) F_c(y) dy, on a fine grid (error ~1e−10)."""
    y = np.linspace(-40.0, 90.0, 200_001)
    _, cdf_a = _grid(ratings[order[0]], beta, y)
    pdf_b, _ = _grid(ratings[order[1]], beta, y)
    _, cdf_c = _grid(ratings[order[2]], beta, y)
    return float(integrate.trapezoid(pdf_b * (1.0 - cdf_a) * cdf_c, y))


def ref_four(ratings: tuple[Rating, ...], order: tuple[int, ...], beta: float) -> float:
    """P(X_a > X_b > X_c > X_d) = ∫ f_b(y)(1 − F_a(y)) ∫_{−∞}^{y} f_c(z) F_d(z) dz dy.

    On a fine grid: the inner integral by cumulative trapezoid (error ~1e−9 here).
    """
    y = np.linspace(-40.0, 90.0, 400_001)
    _, cdf_a = _grid(ratings[order[0]], beta, y)
    pdf_b, _ = _grid(ratings[order[1]], beta, y)
    pdf_c, _ = _grid(ratings[order[2]], beta, y)
    _, cdf_d = _grid(ratings[order[3]], beta, y)
    inner = integrate.cumulative_trapezoid(pdf_c * cdf_d, y, initial=0.0)
    return float(integrate.trapezoid(pdf_b * (1.0 - cdf_a) * inner, y))


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_three_way_ranking_probability_matches_integration(order: tuple[int, ...]) -> None:
    ratings = RATINGS[:3]
    got = gaussian_ranking_probability(ratings, order, DEFAULT_BETA)
    assert got == pytest.approx(ref_three(ratings, order, DEFAULT_BETA), abs=2e-5)


@pytest.mark.parametrize("order", [(0, 1, 2, 3), (3, 2, 1, 0), (2, 0, 3, 1)])
def test_four_way_ranking_probability_matches_integration(order: tuple[int, ...]) -> None:
    got = gaussian_ranking_probability(RATINGS, order, 2.0)
    assert got == pytest.approx(ref_four(RATINGS, order, 2.0), abs=2e-5)


def test_model_ranking_probability_uses_its_beta() -> None:
    model = ThurstoneK(beta=1.5)
    ratings = RATINGS[:3]
    assert model.ranking_probability(ratings, (0, 2, 1)) == pytest.approx(
        ref_three(ratings, (0, 2, 1), 1.5), abs=2e-5
    )
    assert model.ranking_probability(ratings[:2], (1, 0)) == pytest.approx(
        gaussian_win_probability(ratings[1], ratings[0], 1.5), rel=1e-14, abs=0
    )


def test_win_probability_is_phi_of_the_scaled_gap() -> None:
    a, b = Rating(30.0, 3.0), Rating(26.0, 1.0)
    c = math.sqrt(9.0 + 1.0 + 2.0 * 2.0**2)
    assert gaussian_win_probability(a, b, 2.0) == pytest.approx(
        stats.norm.cdf(4.0 / c), rel=1e-14, abs=0
    )
    assert ThurstoneK(beta=2.0).win_probability(a, b) == gaussian_win_probability(a, b, 2.0)


def test_draw_margin_gives_the_draw_chance() -> None:
    eps = draw_margin_for(0.10, DEFAULT_BETA)
    assert eps == pytest.approx(0.7404665874521482, rel=1e-12, abs=0)
    assert ThurstoneK().draw_margin == pytest.approx(eps, rel=1e-15, abs=0)
    assert draw_margin_for(0.2, 1.0, n_players=3) == pytest.approx(
        stats.norm.ppf(0.6) * math.sqrt(3.0), rel=1e-14, abs=0
    )


def test_vote_weights() -> None:
    assert best_of_k_weight(2) == 1.0 and best_of_k_weight(4) == 0.7397
    assert best_of_k_weight(16) == 0.3484
    assert best_of_k_weight(17) == pytest.approx(2.0 / (1.0 + 4.0), rel=1e-15, abs=0)
    ranking = np.array([1, 2, 3, 4])
    assert vote_weight(ranking, np.array([0, 1, 2, 3])) == pytest.approx(
        3.0 / 5.0, rel=1e-15, abs=0
    )
    # Empty slots (model −1) are not counted in K.
    assert vote_weight(np.array([1, 2, 3, 0]), np.array([0, 1, 2, -1])) == 0.75
    best = np.array([0, 1, 0, 0])
    assert vote_weight(best, np.array([0, 1, 2, 3])) == 0.7397
    assert vote_weight(np.array([0, 1, 0, 0]), np.array([0, 1, 2, -1])) == 0.8437


def test_invalid_parameters_are_refused_with_their_names() -> None:
    with pytest.raises(InvalidInput, match="weighting must be 'calibrated' or 'paper', got 'x'"):
        ThurstoneK(weighting="x")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="gamma must be 'paper' or 'weng_lin', got 'x'"):
        ThurstoneK(gamma="x")  # type: ignore[arg-type]
    for kwargs in ({"beta": 0.0}, {"sigma0": 0.0}, {"tau": -0.1}, {"draw_margin": -0.1}):
        with pytest.raises(InvalidInput, match="need beta > 0, sigma0 > 0, tau >= 0"):
            ThurstoneK(**kwargs)  # type: ignore[arg-type]
    ThurstoneK(tau=0.0, draw_margin=0.0)  # the boundaries themselves are fine


def test_kernel_params_name_the_forms() -> None:
    assert ThurstoneK().kernel_params() == [
        DEFAULT_BETA,
        0.0,
        0.7404665874521482,
        1.0,
        1e-4,
        1.0,
    ]
    paper = ThurstoneK(weighting="paper", gamma="paper", tau=0.5, kappa=0.01)
    assert paper.kernel_params() == [DEFAULT_BETA, 0.5, 0.7404665874521482, 0.0, 0.01, 0.0]


def _one_pair_reference(winner: Rating, loser: Rating, beta: float, margin: float) -> tuple:
    """TrueSkill's 1-vs-1 update (a Gaussian truncated at the margin), from scipy."""
    c = math.sqrt(winner.sigma**2 + loser.sigma**2 + 2 * beta**2)
    x = (winner.mu - loser.mu) / c - margin / c
    v = stats.norm.pdf(x) / stats.norm.cdf(x)
    w = v * (v + x)
    mw = winner.mu + winner.sigma**2 / c * v
    ml = loser.mu - loser.sigma**2 / c * v
    sw = winner.sigma * math.sqrt(1 - winner.sigma**2 / c**2 * w)
    sl = loser.sigma * math.sqrt(1 - loser.sigma**2 / c**2 * w)
    return Rating(mw, sw), Rating(ml, sl)


@pytest.mark.parametrize("weighting", ["calibrated", "paper"])
def test_one_pair_is_the_exact_truncated_gaussian_update(weighting: str) -> None:
    """With K = 2 both forms are the one-pair update, whatever the σs (unequal here)."""
    model = ThurstoneK(weighting=weighting, gamma="paper")  # type: ignore[arg-type]
    a, b = Rating(24.0, 6.0), Rating(27.0, 2.0)
    got = model.update((a, b), Ranking((1, 2)))
    want = _one_pair_reference(a, b, model.beta, model.draw_margin)
    for g, w in zip(got, want, strict=True):
        assert g.mu == pytest.approx(w.mu, rel=1e-12, abs=0)
        assert g.sigma == pytest.approx(w.sigma, rel=1e-12, abs=0)
    flipped = model.update((b, a), Ranking((2, 1)))
    assert flipped == (got[1], got[0])


def test_weng_lin_gamma_damps_the_variance_update() -> None:
    a, b = Rating(24.0, 6.0), Rating(27.0, 2.0)
    paper = ThurstoneK(weighting="paper", gamma="paper").update((a, b), Ranking((1, 2)))
    damped = ThurstoneK(weighting="paper", gamma="weng_lin").update((a, b), Ranking((1, 2)))
    assert damped[0].mu == paper[0].mu
    c = math.sqrt(36 + 4 + 2 * DEFAULT_BETA**2)
    # σ'² = σ²(1 − γ σ²/c² W) with γ = σ/c: the shrink of σ² is γ times the paper's.
    shrink_paper = 1 - (paper[0].sigma / 6.0) ** 2
    shrink_damped = 1 - (damped[0].sigma / 6.0) ** 2
    assert shrink_damped == pytest.approx(shrink_paper * 6.0 / c, rel=1e-12, abs=0)


def test_paper_form_variance_floor_is_kappa() -> None:
    ratings = tuple(Rating(25.0, 8.0) for _ in range(12))
    out = ThurstoneK(weighting="paper", gamma="paper", kappa=0.01).update(ratings, Tie(12))
    assert all(r.sigma == pytest.approx(8.0 * 0.1, rel=1e-12, abs=0) for r in out)


def test_tau_inflates_sigma_before_the_update() -> None:
    a, b = Rating(25.0, 3.0), Rating(25.0, 3.0)
    model = ThurstoneK(tau=4.0, weighting="paper", gamma="paper")
    got = model.update((a, b), Ranking((1, 2)))
    inflated = Rating(25.0, 5.0)
    want = _one_pair_reference(inflated, inflated, model.beta, model.draw_margin)
    assert got[0].mu == pytest.approx(want[0].mu, rel=1e-12, abs=0)
    assert got[0].sigma == pytest.approx(want[0].sigma, rel=1e-12, abs=0)


def test_zero_sigma_stays_zero_in_the_calibrated_form() -> None:
    got = ThurstoneK().update((Rating(25.0, 0.0), Rating(25.0, 4.0)), Ranking((1, 2)))
    assert got[0] == Rating(25.0, 0.0)
    assert got[1].mu < 25.0 and got[1].sigma < 4.0


def test_best_of_k_losers_all_move_alike() -> None:
    ratings = (Rating(25.0, 4.0),) * 4
    out = ThurstoneK().update(ratings, BestOfK(4, 2))
    assert out[2].mu > 25.0
    assert out[0] == out[1] == out[3] and out[0].mu < 25.0


def _best_of_k_information_ratio(k: int) -> float:
    """Fisher information of a best-of-K vote over its K−1 pairs as independent (equal skills).

    P(top | shift s) = ∫ φ(p − s) Φ(p)^{K−1} dp; its slope at s = 0 is ∫ p φ(p) Φ(p)^{K−1} dp.
    On a fixed grid: the same ratio as tests/rating/test_tie_weights.py, for every K at once.
    """
    p = np.linspace(-12.0, 12.0, 48_001)
    phi = np.exp(-0.5 * p * p) / math.sqrt(2 * math.pi)
    top = integrate.trapezoid(phi * special.ndtr(p) ** (k - 1), p)
    slope = integrate.trapezoid(p * phi * special.ndtr(p) ** (k - 1), p)
    info = slope * slope / top + slope * slope / (1.0 - top)
    pair_info = (1 / math.sqrt(2 * math.pi)) ** 2 / 0.25 / 2.0
    return float(info / (2.0 * (k - 1) / k * pair_info))


@pytest.mark.parametrize("k", range(2, 17))
def test_every_best_of_k_table_entry_is_its_information_ratio(k: int) -> None:
    assert best_of_k_weight(k) == pytest.approx(_best_of_k_information_ratio(k), abs=2e-3)


# -- the K-wise update against the equations of its docstring, with scipy/mpmath for V, W -----


def _v_w(x: float) -> tuple[float, float]:
    v = float(stats.norm.pdf(x) / stats.norm.cdf(x))
    return v, v * (v + x)


def _tie_v_w(x: float, t: float) -> tuple[float, float]:
    a, b = t - x, -t - x
    z = stats.norm.cdf(a) - stats.norm.cdf(b)
    v = (stats.norm.pdf(b) - stats.norm.pdf(a)) / z
    return float(v), float(v * v + (a * stats.norm.pdf(a) - b * stats.norm.pdf(b)) / z)


def reference_update(model: ThurstoneK, ratings: tuple[Rating, ...], ranks: tuple[int, ...]):
    """ThurstoneK's update written from its docstring (K-Sort Arena Eqs. 7–10, calibrated)."""
    k = len(ratings)
    mu = [r.mu for r in ratings]
    var = [r.sigma**2 + model.tau**2 for r in ratings]
    omega, delta = [0.0] * k, [0.0] * k
    best = 0 in ranks
    calibrated = model.weighting == "calibrated"
    if not calibrated:
        weight = 1.0
    elif best:
        weight = best_of_k_weight(k)
    else:
        weight = 3.0 / (k + 1)
    for i in range(k):
        for j in range(i + 1, k):
            ri, rj = ranks[i], ranks[j]
            if ri == rj == 0:
                continue
            tie = ri == rj
            if tie and model.draw_margin <= 0:
                continue
            i_wins = tie or rj == 0 or (ri != 0 and ri < rj)
            a, b = (i, j) if i_wins else (j, i)
            c = math.sqrt(var[a] + var[b] + 2 * model.beta**2)
            x, t = (mu[a] - mu[b]) / c, model.draw_margin / c
            if tie:
                (va, wa), (vb, wb) = _tie_v_w(x, t), _tie_v_w(-x, t)
            else:
                va, wa = _v_w(x - t)
                vb, wb = -va, wa
            for m, v, w in ((a, va, wa), (b, vb, wb)):
                if calibrated:
                    keep = max(1 - var[m] * w / c**2, 1e-12)
                    delta[m] += weight * w / c**2 / keep
                    omega[m] += weight * (mu[m] * w / c**2 + v / c) / keep
                else:
                    gamma = math.sqrt(var[m]) / c if model.gamma == "weng_lin" else 1.0
                    omega[m] += var[m] / c * v
                    delta[m] += gamma * var[m] / c**2 * w
    out = []
    for m in range(k):
        if calibrated:
            precision = 1 / var[m] + delta[m]
            out.append(Rating((mu[m] / var[m] + omega[m]) / precision, math.sqrt(1 / precision)))
        else:
            out.append(Rating(mu[m] + omega[m], math.sqrt(var[m] * max(1 - delta[m], model.kappa))))
    return tuple(out)


UNEQUAL = (Rating(27.0, 2.0), Rating(24.0, 6.0), Rating(25.5, 1.0), Rating(21.0, 4.0))


@pytest.mark.parametrize(
    "outcome",
    [Ranking((2, 1, 3, 4)), Ranking((1, 3, 1, 2)), BestOfK(4, 3), Tie(4), Ranking((4, 3, 2, 1))],
    ids=["ranking", "ranking-with-ties", "best-of-4", "all-tie", "upset"],
)
@pytest.mark.parametrize(
    "model",
    [
        ThurstoneK(),
        ThurstoneK(weighting="paper", gamma="paper"),
        ThurstoneK(weighting="paper", gamma="weng_lin", tau=0.3),
        ThurstoneK(draw_margin=0.0, beta=3.0),
    ],
    ids=["calibrated", "paper", "weng-lin-tau", "no-margin"],
)
def test_k_wise_update_follows_its_equations(model: ThurstoneK, outcome: object) -> None:
    got = model.update(UNEQUAL, outcome)  # type: ignore[arg-type]
    want = reference_update(model, UNEQUAL, outcome.rank_row())  # type: ignore[attr-defined]
    for g, w in zip(got, want, strict=True):
        assert g.mu == pytest.approx(w.mu, rel=1e-10, abs=0)
        assert g.sigma == pytest.approx(w.sigma, rel=1e-10, abs=0)


def test_initial_rating_is_the_deployments_prior() -> None:
    assert ThurstoneK().initial() == Rating(25.0, 25.0 / 3.0)
    assert ThurstoneK(mu0=10.0, sigma0=2.0).initial() == Rating(10.0, 2.0)


def test_array_paths_replay_the_scalar_update_exactly() -> None:
    """replay_arrays (one arena, many votes) and update_arenas (one vote per arena) run the
    same update as ThurstoneK.update, bit for bit; empty slots (−1) are skipped."""
    model = ThurstoneK()
    votes = [
        ((0, 1, 2, 3), Ranking((2, 1, 3, 4))),
        ((3, 1, 0, -1), BestOfK(3, 2)),
        ((2, 3, -1, -1), Tie(2)),
    ]
    ratings = [Rating(25.0 + i, 8.0 - i) for i in range(4)]
    for ids, outcome in votes:
        seats = [i for i in ids if i >= 0]
        new = model.update(tuple(ratings[i] for i in seats), outcome)
        for i, r in zip(seats, new, strict=True):
            ratings[i] = r
    mu = np.array([25.0 + i for i in range(4)])
    sigma = np.array([8.0 - i for i in range(4)])
    models = np.array([ids for ids, _ in votes], dtype=np.int64)
    ranks = np.array(
        [list(o.rank_row()) + [0] * (4 - len(o.rank_row())) for _, o in votes], dtype=np.int64
    )
    model.replay_arrays(mu, sigma, models, ranks)
    assert mu.tolist() == [r.mu for r in ratings]
    assert sigma.tolist() == [r.sigma for r in ratings]
    # update_arenas: row s of the votes goes to arena s.
    mu2 = np.full((2, 4), 25.0)
    sigma2 = np.full((2, 4), 8.0)
    model.update_arenas(mu2, sigma2, models[:2], ranks[:2])
    first = model.update((Rating(25.0, 8.0),) * 4, votes[0][1])
    assert mu2[0].tolist() == [first[i].mu for i in (0, 1, 2, 3)]
    second = model.update((Rating(25.0, 8.0),) * 3, votes[1][1])
    assert mu2[1, [3, 1, 0]].tolist() == [r.mu for r in second]
    with pytest.raises(InvalidInput, match=r"^update_arenas needs one vote row per arena$"):
        model.update_arenas(mu2, sigma2, models, ranks)


def test_the_variance_floor_of_one_pair_is_one_in_a_trillion() -> None:
    """An extreme upset by a very uncertain model: 1 − σ²W/c² rounds to 2e−14, and the update
    divides by the floor 1e−12 instead (σ'² = 1/(1/σ² + W/c²/1e−12)), finite and positive."""
    from karena.rating.gaussian import w_win

    model = ThurstoneK(beta=1e-3, draw_margin=0.0)
    var_a = 1e8
    c = math.sqrt(var_a + 2 * 1e-6)
    w = w_win((0.0 - 1e12) / c)
    assert 1 - var_a * w / c**2 < 1e-12  # the floor binds
    winner, loser = model.update((Rating(0.0, 1e4), Rating(1e12, 0.0)), Ranking((1, 2)))
    assert winner.sigma == pytest.approx(math.sqrt(1 / (1 / var_a + w / c**2 / 1e-12)), rel=1e-9)
    assert loser == Rating(1e12, 0.0)


@dataclasses.dataclass(frozen=True, slots=True)
class _Stubborn(ThurstoneK):
    """A subclass with its own scalar update (ratings never move) and the parent's kernel."""

    def _update(self, ratings: tuple[Rating, ...], outcome: object) -> tuple[Rating, ...]:
        return ratings


def test_a_subclass_with_its_own_update_never_replays_the_parents_kernel() -> None:
    model = _Stubborn()
    mu, sigma = np.array([25.0, 20.0]), np.array([8.0, 8.0])
    models, ranks = np.array([[0, 1]], dtype=np.int64), np.array([[2, 1]], dtype=np.int64)
    model.replay_arrays(mu, sigma, models, ranks)
    assert mu.tolist() == [25.0, 20.0] and sigma.tolist() == [8.0, 8.0]
    mu2, sigma2 = np.array([[25.0, 20.0]]), np.array([[8.0, 8.0]])
    model.update_arenas(mu2, sigma2, models, ranks)
    assert mu2.tolist() == [[25.0, 20.0]]
