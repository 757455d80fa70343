"""The compiled kernels equal the reference updates (tier 2: agreement between implementations)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from karena.errors import InvalidInput
from karena.rating import fast
from karena.rating.elo import Elo
from karena.rating.replay import has_fast_path, replay
from karena.rating.thurstone import ThurstoneK
from karena.rating.types import BestOfK, Outcome, Ranking, Rating, Vote
from karena.rating.vote_arrays import encode_votes, rank_row
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
    fast.thurstone_update_inplace(
        mu, sigma, np.array([0, 1, 2, 3]), np.array(outcome.ranks), fast.thurstone_params(model)
    )
    want = model.update(ratings, outcome)
    assert mu == pytest.approx([r.mu for r in want], abs=1e-12)
    assert sigma == pytest.approx([r.sigma for r in want], abs=1e-12)


def test_single_elo_kernel_treats_best_of_k_losers_as_unordered() -> None:
    model = Elo()
    rating = np.array([1000.0, 1100.0, 900.0, 1000.0])
    # Slot 2 won; slots 0, 1, 3 are unranked (0) and say nothing among themselves.
    fast.elo_update_inplace(rating, [0, 1, 2, 3], [0, 0, 1, 0], fast.elo_params(model))
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


def test_front_door_uses_reference_for_subclasses() -> None:
    class Tweaked(ThurstoneK):
        pass

    assert has_fast_path(ThurstoneK()) and has_fast_path(Elo())
    assert not has_fast_path(Tweaked())


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
        fast.thurstone_replay_inplace(
            mu, mu.copy(), models, ranks, fast.thurstone_params(ThurstoneK())
        )


@settings(max_examples=100, deadline=None)
@given(case=game(), which=st.sampled_from(["thurstone", "weng_lin", "elo"]))
def test_single_vote_kernels_equal_reference_at_extreme_inputs(
    case: tuple[list[Rating], Outcome], which: str
) -> None:
    ratings, outcome = case
    mu = np.array([r.mu for r in ratings])
    sigma = np.array([r.sigma for r in ratings])
    slots = np.arange(len(ratings))
    ranks = np.array(rank_row(outcome))
    if which == "elo":
        elo = Elo()
        fast.elo_update_inplace(mu, slots, ranks, fast.elo_params(elo))
        want = elo.update(ratings, outcome)
        assert mu.tolist() == pytest.approx([r.mu for r in want], rel=1e-12, abs=1e-12)
        return
    model = ThurstoneK() if which == "thurstone" else ThurstoneK(gamma="weng_lin", tau=0.5)
    fast.thurstone_update_inplace(mu, sigma, slots, ranks, fast.thurstone_params(model))
    want = model.update(ratings, outcome)
    assert mu.tolist() == pytest.approx([r.mu for r in want], rel=1e-12, abs=1e-12)
    assert sigma.tolist() == pytest.approx([r.sigma for r in want], rel=1e-12, abs=1e-12)
