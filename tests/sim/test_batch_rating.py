"""The vectorised updates repeat the scalar reference models vote for vote."""

from __future__ import annotations

import numpy as np
import pytest

from karena.rating.elo import Elo
from karena.rating.thurstone import ThurstoneK
from karena.rating.types import BestOfK, Ranking, Rating
from karena.sim.batch_rating import BatchElo, BatchThurstone


def _random_votes(
    rng: np.random.Generator, s: int, n: int, k: int, ties: bool
) -> tuple[np.ndarray, np.ndarray]:
    chosen = np.array([rng.choice(n, size=k, replace=False) for _ in range(s)])
    high = k if not ties else max(k - 1, 1)
    ranks = (
        rng.integers(1, high + 1, size=(s, k))
        if ties
        else np.array([rng.permutation(k) + 1 for _ in range(s)])
    )
    return chosen, ranks


@pytest.mark.parametrize(
    "model",
    [
        ThurstoneK(),
        ThurstoneK(draw_margin=0.0),
        ThurstoneK(gamma="weng_lin", tau=0.3),
        ThurstoneK(draw_margin=0.0, kappa=0.5),
    ],
    ids=["default", "paper", "weng-lin-tau", "kappa"],
)
@pytest.mark.parametrize("k", [2, 4, 6])
def test_batch_thurstone_matches_reference(model: ThurstoneK, k: int) -> None:
    rng = np.random.default_rng(k)
    s, n = 12, 9
    mu = rng.normal(25, 6, size=(s, n))
    var = rng.uniform(0.01, 70, size=(s, n))
    batch = BatchThurstone(model)
    for step in range(15):
        chosen, ranks = _random_votes(rng, s, n, k, ties=step % 3 == 0)
        expected_mu, expected_var = mu.copy(), var.copy()
        for row in range(s):
            ratings = tuple(Rating(mu[row, i], float(np.sqrt(var[row, i]))) for i in chosen[row])
            new = model.update(ratings, Ranking(tuple(int(r) for r in ranks[row])))
            for i, r in zip(chosen[row], new, strict=True):
                expected_mu[row, i], expected_var[row, i] = r.mu, r.sigma**2
        batch.update(mu, var, chosen, ranks)
        np.testing.assert_allclose(mu, expected_mu, rtol=0, atol=1e-9)
        np.testing.assert_allclose(np.sqrt(var), np.sqrt(expected_var), rtol=0, atol=1e-9)


def test_batch_thurstone_best_of_k_uses_only_the_winners_pairs() -> None:
    model = ThurstoneK(draw_margin=0.0)
    rng = np.random.default_rng(3)
    mu = rng.normal(25, 3, size=(1, 6))
    var = np.full((1, 6), 9.0)
    chosen = np.array([[4, 1, 0, 5]])
    ranks = np.array([[2, 1, 2, 2]])
    informative = np.array([[True, False, False, True, True, False]])  # pairs with position 1
    ratings = tuple(Rating(mu[0, i], 3.0) for i in chosen[0])
    new = model.update(ratings, BestOfK(4, 1))
    BatchThurstone(model).update(mu, var, chosen, ranks, informative)
    np.testing.assert_allclose(mu[0, chosen[0]], [r.mu for r in new], atol=1e-12)


@pytest.mark.parametrize("k", [2, 4])
def test_batch_elo_matches_reference_with_swept_k_factors(k: int) -> None:
    rng = np.random.default_rng(11)
    factors = np.array([4.0, 16.0, 32.0])
    s, n = 3, 7
    rating = np.full((s, n), 1000.0)
    batch = BatchElo(k_factor=factors)
    for step in range(20):
        chosen, ranks = _random_votes(rng, s, n, k, ties=step % 4 == 0)
        expected = rating.copy()
        for row in range(s):
            ref = Elo(k=float(factors[row]))
            new = ref.update(
                tuple(Rating(rating[row, i], 0.0) for i in chosen[row]),
                Ranking(tuple(int(r) for r in ranks[row])),
            )
            for i, r in zip(chosen[row], new, strict=True):
                expected[row, i] = r.mu
        batch.update(rating, chosen, ranks)
        np.testing.assert_allclose(rating, expected, atol=1e-9)
