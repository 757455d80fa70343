"""Batch Bradley–Terry: reference values, independent fits, ties, identifiability, bad input."""

from __future__ import annotations

import math

import choix
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize

from karena.errors import InvalidInput, NotFound
from karena.rating.bradley_terry import PairCounts, fit_bradley_terry
from karena.rating.types import BestOfK, Ranking, Tie, Vote, pairwise

FACTOR = 400.0 / math.log(10.0)  # rating points per natural-log unit at the FastChat scale


def counts_from_matrix(wins: np.ndarray, ties: np.ndarray | None = None) -> PairCounts:
    """PairCounts from a wins matrix (row beat column) and an optional symmetric tie matrix."""
    n = len(wins)
    tie = np.zeros_like(wins) if ties is None else ties
    i, j = np.triu_indices(n, 1)
    keep = (wins[i, j] + wins[j, i] + tie[i, j]) > 0
    names = tuple(chr(ord("A") + k) for k in range(n))
    return PairCounts(names, i[keep], j[keep], wins[i, j][keep], wins[j, i][keep], tie[i, j][keep])


def random_counts(rng: np.random.Generator, n: int, with_ties: bool) -> PairCounts:
    wins = rng.integers(1, 12, size=(n, n)).astype(float)
    np.fill_diagonal(wins, 0)
    ties = None
    if with_ties:
        upper = np.triu(rng.integers(0, 6, size=(n, n)).astype(float), 1)
        ties = upper + upper.T
    return counts_from_matrix(wins, ties)


def expanded_battles(counts: PairCounts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One row per battle: (first, second, outcome y ∈ {1, 0, ½} for the first)."""
    first, second, y = [], [], []
    for r in range(counts.n_pairs):
        for value, times in (
            (1.0, counts.wins_i[r]),
            (0.0, counts.wins_j[r]),
            (0.5, counts.ties[r]),
        ):
            first += [counts.i[r]] * int(times)
            second += [counts.j[r]] * int(times)
            y += [value] * int(times)
    return np.array(first), np.array(second), np.array(y)


def test_wikipedia_four_team_example() -> None:
    """Wikipedia's Bradley–Terry worked example: 4 teams, 21 games, scores normalised to
    geometric mean 1 are published as (0.640, 1.043, 0.660, 2.270)."""
    wins = np.array([[0, 2, 0, 1], [3, 0, 5, 0], [0, 3, 0, 1], [4, 0, 3, 0]], dtype=float)
    fit = fit_bradley_terry(counts_from_matrix(wins))
    # strengths have mean zero, so exp(strengths) has geometric mean one.
    np.testing.assert_allclose(np.exp(fit.strengths), [0.640, 1.043, 0.660, 2.270], atol=5e-4)
    assert fit.order() == ("D", "B", "C", "A")


@pytest.mark.parametrize("ties", ["half", "davidson"])
def test_three_cycle_gives_equal_strengths(ties: str) -> None:
    wins = np.zeros((3, 3))
    wins[0, 1] = wins[1, 2] = wins[2, 0] = 5
    wins[1, 0] = wins[2, 1] = wins[0, 2] = 2
    tie = np.ones((3, 3)) - np.eye(3)
    fit = fit_bradley_terry(counts_from_matrix(wins, tie), ties=ties)  # type: ignore[arg-type]
    np.testing.assert_allclose(fit.ratings, 1000.0, atol=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_half_ties_match_direct_optimisation_of_expanded_battles(seed: int) -> None:
    """Our aggregated Newton fit equals BFGS on the raw per-battle log-likelihood."""
    counts = random_counts(np.random.default_rng(seed), 6, with_ties=True)
    first, second, y = expanded_battles(counts)

    def negloglik(free: np.ndarray) -> float:
        theta = np.r_[0.0, free]  # fix model 0 at zero
        d = theta[first] - theta[second]
        return float(-np.sum(y * -np.logaddexp(0, -d) + (1 - y) * -np.logaddexp(0, d)))

    ref = optimize.minimize(negloglik, np.zeros(5), method="BFGS", options={"gtol": 1e-9})
    theta_ref = np.r_[0.0, ref.x]
    fit = fit_bradley_terry(counts)
    np.testing.assert_allclose(fit.strengths, theta_ref - theta_ref.mean(), atol=1e-5)
    np.testing.assert_allclose(fit.ratings - 1000.0, FACTOR * fit.strengths, atol=1e-9)


@pytest.mark.parametrize("seed", [3, 4])
def test_davidson_matches_direct_optimisation(seed: int) -> None:
    counts = random_counts(np.random.default_rng(seed), 5, with_ties=True)
    first, second, y = expanded_battles(counts)

    def negloglik(params: np.ndarray) -> float:
        theta, log_nu = np.r_[0.0, params[:-1]], params[-1]
        d = theta[first] - theta[second]
        log_z = np.logaddexp(np.logaddexp(d / 2, -d / 2), log_nu)
        own = np.where(y == 1.0, d / 2, np.where(y == 0.0, -d / 2, log_nu))
        return float(-np.sum(own - log_z))

    ref = optimize.minimize(negloglik, np.zeros(5), method="BFGS", options={"gtol": 1e-9})
    theta_ref = np.r_[0.0, ref.x[:-1]]
    fit = fit_bradley_terry(counts, ties="davidson")
    np.testing.assert_allclose(fit.strengths, theta_ref - theta_ref.mean(), atol=1e-5)
    assert fit.tie_strength == pytest.approx(math.exp(ref.x[-1]), rel=1e-5)
    assert fit.log_likelihood == pytest.approx(-ref.fun, rel=1e-9)


def test_no_ties_match_choix() -> None:
    counts = random_counts(np.random.default_rng(5), 8, with_ties=False)
    first, second, y = expanded_battles(counts)
    data = [(a, b) if v == 1.0 else (b, a) for a, b, v in zip(first, second, y, strict=True)]
    ml = choix.ilsr_pairwise(8, data, alpha=0.0, tol=1e-12)
    np.testing.assert_allclose(fit_bradley_terry(counts).strengths, ml - ml.mean(), atol=1e-8)
    # choix penalises alpha·‖θ‖²; our ridge λ penalises λ/2·‖θ‖².
    map_ = choix.opt_pairwise(8, data, alpha=0.3)
    ridged = fit_bradley_terry(counts, ridge=0.6).strengths
    np.testing.assert_allclose(ridged, map_ - map_.mean(), atol=1e-5)


def test_scale_base_init_and_anchor() -> None:
    counts = random_counts(np.random.default_rng(6), 5, with_ties=True)
    plain = fit_bradley_terry(counts)
    other = fit_bradley_terry(counts, scale=1.0, base=math.e, init_rating=0.0)
    np.testing.assert_allclose(other.ratings, plain.strengths, atol=1e-12)
    assert plain.ratings.mean() == pytest.approx(1000.0)
    anchored = fit_bradley_terry(counts, anchor=("C", 1114.0))
    assert anchored.rating("C") == pytest.approx(1114.0)
    np.testing.assert_allclose(np.diff(anchored.ratings), np.diff(plain.ratings), atol=1e-9)
    with pytest.raises(NotFound):
        fit_bradley_terry(counts, anchor=("nope", 0.0))
    # P(a beats b) follows the Elo formula at scale 400, base 10.
    ra, rb = plain.rating("A"), plain.rating("B")
    assert plain.win_probability("A", "B") == pytest.approx(1 / (1 + 10 ** ((rb - ra) / 400)))


def test_relabelling_models_changes_nothing() -> None:
    counts = random_counts(np.random.default_rng(7), 7, with_ties=True)
    perm = np.random.default_rng(8).permutation(7)
    inverse = np.argsort(perm)
    names = tuple(counts.models[k] for k in perm)  # new index q holds old model perm[q]
    swap = np.random.default_rng(9).random(counts.n_pairs) < 0.5  # also flip some rows
    relabelled = PairCounts(
        names,
        np.where(swap, inverse[counts.j], inverse[counts.i]),
        np.where(swap, inverse[counts.i], inverse[counts.j]),
        np.where(swap, counts.wins_j, counts.wins_i),
        np.where(swap, counts.wins_i, counts.wins_j),
        counts.ties,
    )
    for ties in ("half", "davidson"):
        a = fit_bradley_terry(counts, ties=ties).as_dict()  # type: ignore[arg-type]
        b = fit_bradley_terry(relabelled, ties=ties).as_dict()  # type: ignore[arg-type]
        for model in a:
            assert b[model] == pytest.approx(a[model], abs=1e-9)


def test_from_votes_expands_kwise_votes_into_pairs() -> None:
    votes = [
        Vote(("a", "b", "c", "d"), Ranking((2, 1, 3, 3))),
        Vote(("c", "a", "b"), BestOfK(3, 0)),
        Vote(("a", "d", "b"), Tie(3)),
        Vote(("d", "a"), pairwise("both_bad")),
        Vote(("b", "d"), pairwise("loss")),
    ]
    counts = PairCounts.from_votes(votes)
    assert counts.models == ("a", "b", "c", "d")
    table = {
        (counts.models[i], counts.models[j]): (wi, wj, t)
        for i, j, wi, wj, t in zip(
            counts.i, counts.j, counts.wins_i, counts.wins_j, counts.ties, strict=True
        )
    }
    assert table[("a", "b")] == (0, 1, 1)  # ranking: b over a; declared tie
    assert table[("a", "c")] == (1, 1, 0)  # ranking: a over c; best-of-3: c over a
    assert table[("a", "d")] == (1, 0, 2)  # ranking; declared tie; both bad
    assert table[("b", "c")] == (1, 1, 0)
    assert table[("b", "d")] == (1, 1, 1)  # ranking; pairwise loss for b; declared tie
    assert table[("c", "d")] == (0, 0, 1)  # tied ranks
    assert counts.n_battles == 13  # 6 + 2 + 3 + 1 + 1
    fixed = PairCounts.from_votes(votes, models=["d", "c", "b", "a", "e"])
    assert fixed.models == ("d", "c", "b", "a", "e")
    with pytest.raises(InvalidInput, match="without battles"):
        fit_bradley_terry(fixed)
    assert fit_bradley_terry(fixed, ridge=0.1).rating("e") == pytest.approx(1000.0, abs=1e-6)
    with pytest.raises(InvalidInput, match="no battles"):
        fit_bradley_terry(PairCounts.from_votes([]))
    with pytest.raises(NotFound):
        PairCounts.from_votes(votes, models=["a", "b"])


def test_missing_mle_is_reported_and_ridge_fixes_it() -> None:
    wins = np.array([[0, 3, 0], [0, 0, 2], [0, 1, 0]], dtype=float)  # A never lost
    counts = counts_from_matrix(wins)
    with pytest.raises(InvalidInput, match="do not exist"):
        fit_bradley_terry(counts)
    fit = fit_bradley_terry(counts, ridge=0.5)
    assert np.all(np.isfinite(fit.ratings))
    assert fit.order()[0] == "A"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"i": [0], "j": [0]},
        {"i": [0], "j": [5]},
        {"wins_i": [-1.0]},
        {"ties": [math.nan]},
        {"wins_j": [1.0, 2.0]},
    ],
)
def test_pair_counts_reject_bad_input(kwargs: dict[str, object]) -> None:
    base: dict[str, object] = {
        "models": ("a", "b"),
        "i": [0],
        "j": [1],
        "wins_i": [1.0],
        "wins_j": [1.0],
        "ties": [0.0],
    }
    with pytest.raises(InvalidInput):
        PairCounts(**{**base, **kwargs})  # type: ignore[arg-type]


def test_bad_options_are_rejected() -> None:
    counts = random_counts(np.random.default_rng(10), 3, with_ties=True)
    with pytest.raises(InvalidInput):
        fit_bradley_terry(counts, ties="rao")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        fit_bradley_terry(counts, base=1.0)
    with pytest.raises(InvalidInput):
        fit_bradley_terry(counts, ridge=-1.0)
    no_ties = random_counts(np.random.default_rng(11), 3, with_ties=False)
    with pytest.raises(InvalidInput, match="Davidson"):
        fit_bradley_terry(no_ties, ties="davidson")


def test_pair_counts_are_read_only() -> None:
    counts = random_counts(np.random.default_rng(12), 3, with_ties=False)
    with pytest.raises(ValueError):
        counts.wins_i[0] = 99.0


@settings(max_examples=60, deadline=None)
@given(
    table=st.lists(
        st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(0, 10)),
        min_size=6,
        max_size=6,
    ),
    ties=st.sampled_from(["half", "davidson"]),
)
def test_any_count_table_either_fits_exactly_or_is_refused(
    table: list[tuple[int, int, int]], ties: str
) -> None:
    """For 4 models and arbitrary counts (many without a finite MLE), the fit is refused with
    InvalidInput or it satisfies the maximum-likelihood score equations; never NaN."""
    cells = np.array(table, dtype=float)
    i, j = np.triu_indices(4, 1)
    counts = PairCounts(tuple("ABCD"), i, j, cells[:, 0], cells[:, 1], cells[:, 2])
    try:
        fit = fit_bradley_terry(counts, ties=ties)  # type: ignore[arg-type]
    except InvalidInput:
        return
    assert np.all(np.isfinite(fit.ratings))
    n = cells.sum(axis=1)
    d = fit.strengths[i] - fit.strengths[j]
    if ties == "half":
        resid = cells[:, 0] + cells[:, 2] / 2 - n / (1 + np.exp(-d))
    else:
        assert fit.tie_strength is not None
        z = np.exp(d / 2) + np.exp(-d / 2) + fit.tie_strength
        resid = (cells[:, 0] - cells[:, 1]) / 2 - n * (np.exp(d / 2) - np.exp(-d / 2)) / (2 * z)
    score = np.bincount(i, resid, 4) - np.bincount(j, resid, 4)
    np.testing.assert_allclose(score, 0.0, atol=1e-6 * max(1.0, n.sum()))
