"""The compiled kernels equal the scalar updates they are compiled from (tier 2: agreement).

Each model's update is written once (:mod:`karena.rating.models`); these tests check that the
numba-compiled form of that same code, reached through the array forms ``replay_arrays`` and
``update_arenas``, gives the scalar path's numbers.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from karena.errors import InvalidInput
from karena.rating.models.elo import Elo
from karena.rating.models.factor_graph import FactorGraphFFA
from karena.rating.models.thurstone import ThurstoneK
from karena.rating.replay import encode_votes, has_fast_path, replay
from karena.rating.types import BestOfK, Outcome, Ranking, Rating, Vote
from tests.rating.helpers import game, random_log

MODELS = [
    ThurstoneK(),
    ThurstoneK(draw_margin=0.0),
    ThurstoneK(gamma="weng_lin", tau=25 / 300, kappa=1e-3),
    ThurstoneK(beta=1.0, sigma0=3.0, mu0=0.0),
    Elo(),
    Elo(k=32.0, scale=173.7, base=np.e),
]


@pytest.mark.parametrize("model", MODELS, ids=repr)
def test_fast_replay_equals_reference_on_mixed_log(model: ThurstoneK | Elo) -> None:
    votes = random_log(np.random.default_rng(7), n_votes=1500, n_models=25)
    initial = {"m3": Rating(31.0, 2.0), "unseen": Rating(1.0, 1.0)}
    got = replay(votes, model, initial)
    want = model.replay(votes, initial)
    assert got.keys() == want.keys()
    for key, rating in want.items():
        assert got[key].mu == pytest.approx(rating.mu, abs=1e-9)
        assert got[key].sigma == pytest.approx(rating.sigma, abs=1e-9)
    assert got["unseen"] == Rating(1.0, 1.0)


def test_single_vote_kernel_equals_update() -> None:
    model = ThurstoneK(gamma="weng_lin")
    ratings = (Rating(20.0, 5.0), Rating(30.0, 1.0), Rating(25.0, 8.0), Rating(27.0, 0.5))
    mu = np.array([r.mu for r in ratings])
    sigma = np.array([r.sigma for r in ratings])
    outcome = Ranking((2, 1, 2, 4))
    model.replay_arrays(mu, sigma, np.array([[0, 1, 2, 3]]), np.array([outcome.ranks]))
    want = model.update(ratings, outcome)
    assert mu == pytest.approx([r.mu for r in want], abs=1e-12)
    assert sigma == pytest.approx([r.sigma for r in want], abs=1e-12)


def test_single_elo_kernel_treats_best_of_k_losers_as_unordered() -> None:
    model = Elo()
    rating = np.array([1000.0, 1100.0, 900.0, 1000.0])
    # Slot 2 won; slots 0, 1, 3 are unranked (0) and say nothing among themselves.
    model.replay_arrays(rating, np.zeros(4), [[0, 1, 2, 3]], [[0, 0, 1, 0]])
    want = model.update(
        (Rating(1000.0, 0), Rating(1100.0, 0), Rating(900.0, 0), Rating(1000.0, 0)), BestOfK(4, 2)
    )
    assert rating == pytest.approx([r.mu for r in want], abs=1e-12)


def test_padded_rows_mix_k() -> None:
    votes = [
        Vote(("a", "b"), Ranking((1, 2))),
        Vote(("a", "b", "c", "d"), BestOfK(4, 3)),
        Vote(("c", "a", "e"), Ranking((1, 1, 3))),
    ]
    arrays = encode_votes(votes)
    assert arrays.models.tolist() == [[0, 1, -1, -1], [0, 1, 2, 3], [2, 0, 4, -1]]
    assert arrays.ranks.tolist() == [[1, 2, 0, 0], [0, 0, 0, 1], [1, 1, 3, 0]]
    model = ThurstoneK()
    got, want = replay(votes, model), model.replay(votes)
    assert all(got[m].mu == pytest.approx(want[m].mu, abs=1e-12) for m in want)


def test_a_subclass_that_changes_the_maths_does_not_inherit_the_kernel() -> None:
    class Tweaked(ThurstoneK):
        def _update(self, ratings: tuple[Rating, ...], outcome: Outcome) -> tuple[Rating, ...]:
            return tuple(Rating(r.mu + 1.0, r.sigma) for r in ratings)

    class Renamed(ThurstoneK):
        pass

    assert has_fast_path(ThurstoneK()) and has_fast_path(Elo()) and has_fast_path(Renamed())
    assert not has_fast_path(Tweaked()) and not has_fast_path(FactorGraphFFA())
    mu, sigma = np.zeros(2), np.ones(2)
    Tweaked().replay_arrays(mu, sigma, np.array([[0, 1]]), np.array([[1, 2]]))
    assert mu.tolist() == [1.0, 1.0]  # its own maths, through the generic array form


@pytest.mark.parametrize("model", [*MODELS, FactorGraphFFA()], ids=repr)
def test_many_arena_form_equals_one_vote_per_arena(model: ThurstoneK | Elo) -> None:
    rng = np.random.default_rng(11)
    s, n, k = 6, 9, 4
    prior = model.initial()
    mu = np.full((s, n), prior.mu) + rng.normal(0, 3, (s, n))
    sigma = np.full((s, n), max(prior.sigma, 0.5))
    chosen = np.stack([rng.choice(n, k, replace=False) for _ in range(s)])
    ranks = np.array(
        [[1, 2, 2, 4], [0, 1, 0, 0], [1, 1, 1, 1], [4, 3, 2, 1], [2, 1, 3, 3], [0, 0, 0, 1]]
    )
    want_mu, want_sigma = mu.copy(), sigma.copy()
    for row in range(s):
        model.replay_arrays(
            want_mu[row], want_sigma[row], chosen[row : row + 1], ranks[row : row + 1]
        )
    model.update_arenas(mu, sigma, chosen, ranks)
    np.testing.assert_allclose(mu, want_mu, rtol=0, atol=1e-12)
    np.testing.assert_allclose(sigma, want_sigma, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("mu", "models", "ranks", "message"),
    [
        (np.zeros(3, dtype=np.float32), [[0, 1]], [[1, 2]], "float64"),
        (np.zeros(3), [[0, 3]], [[1, 2]], "model indices"),
        (np.zeros(3), [[0, 1]], [[1, 5]], "ranks"),
        (np.zeros(3), [[0, 1]], [[1, 2, 3]], "one shape"),
        (np.zeros(3), [[0, 1, 2], [2, -1, 2]], [[1, 2, 3], [1, 0, 2]], "same model twice"),
    ],
)
def test_kernel_entry_points_reject_bad_arrays(
    mu: np.ndarray, models: list[list[int]], ranks: list[list[int]], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        ThurstoneK().replay_arrays(mu, mu.copy(), models, ranks)


@settings(max_examples=100, deadline=None)
@given(case=game(), which=st.sampled_from(["thurstone", "weng_lin", "elo"]))
def test_single_vote_kernels_equal_reference_at_extreme_inputs(
    case: tuple[list[Rating], Outcome], which: str
) -> None:
    ratings, outcome = case
    mu = np.array([r.mu for r in ratings])
    sigma = np.array([r.sigma for r in ratings])
    slots = np.arange(len(ratings))[None, :]
    ranks = np.array([outcome.rank_row()])
    if which == "elo":
        elo = Elo()
        elo.replay_arrays(mu, sigma, slots, ranks)
        want = elo.update(ratings, outcome)
        assert mu.tolist() == pytest.approx([r.mu for r in want], rel=1e-12, abs=1e-12)
        return
    model = ThurstoneK() if which == "thurstone" else ThurstoneK(gamma="weng_lin", tau=0.5)
    model.replay_arrays(mu, sigma, slots, ranks)
    want = model.update(ratings, outcome)
    assert mu.tolist() == pytest.approx([r.mu for r in want], rel=1e-12, abs=1e-12)
    assert sigma.tolist() == pytest.approx([r.sigma for r in want], rel=1e-12, abs=1e-12)
