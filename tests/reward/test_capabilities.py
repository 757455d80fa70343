"""Capability fitting (METHODS §3.2 step 1): agreement with ThurstoneK, traversal, recovery."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from karena.errors import InvalidInput
from karena.rating.models.thurstone import ThurstoneK
from karena.rating.types import Vote, pairwise
from karena.reward.capabilities import fit_capabilities
from karena.reward.pairs import PairSet

ARENA = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "chatbotarena_20240814.json"
)


def _random_pairs(rng: np.random.Generator, n: int, k: int, tie_rate: float) -> PairSet:
    strength = rng.normal(0.0, 4.0, size=k)
    a = rng.integers(0, k, size=n)
    b = (a + rng.integers(1, k, size=n)) % k
    a_wins = rng.normal(strength[a] - strength[b], 25.0 / 6.0 * np.sqrt(2)) > 0
    winner = np.where(a_wins, a, b)
    loser = np.where(a_wins, b, a)
    tie = rng.random(n) < tie_rate
    return PairSet(tuple(f"m{i}" for i in range(k)), winner, loser, tie)


@pytest.mark.parametrize(
    "model",
    [
        ThurstoneK(),
        ThurstoneK(gamma="weng_lin", tau=25 / 300),
        ThurstoneK(draw_margin=0.0, sigma0=3.0, beta=1.5),
    ],
    ids=["paper", "weng_lin_tau", "no_margin"],
)
def test_data_order_pass_matches_thurstone_k_replay(model: ThurstoneK) -> None:
    pairs = _random_pairs(np.random.default_rng(1), 400, 7, tie_rate=0.2)
    caps = fit_capabilities(pairs, model, traversal="data", passes=1)
    votes = [
        Vote(
            (pairs.models[w], pairs.models[lo]),
            pairwise("tie" if t else "win"),
        )
        for w, lo, t in zip(pairs.winner, pairs.loser, pairs.tie, strict=True)
    ]
    ref = model.replay(votes)
    for i, name in enumerate(pairs.models):
        assert caps.mu[i] == pytest.approx(ref[name].mu, abs=1e-9)
        assert caps.sigma[i] == pytest.approx(ref[name].sigma, abs=1e-9)


def test_self_pairs_are_skipped_by_the_fit() -> None:
    base = PairSet(("a", "b"), np.array([0, 1]), np.array([1, 0]), np.array([False, False]))
    with_self = PairSet(
        ("a", "b"), np.array([0, 0, 1]), np.array([1, 0, 0]), np.array([False, False, False])
    )
    c1 = fit_capabilities(base, traversal="data", passes=1)
    c2 = fit_capabilities(with_self, traversal="data", passes=1)
    np.testing.assert_array_equal(c1.mu, c2.mu)
    np.testing.assert_array_equal(c1.n_pairs, c2.n_pairs)


def test_shuffled_passes_are_reproducible_and_averaged() -> None:
    pairs = _random_pairs(np.random.default_rng(2), 3000, 6, tie_rate=0.1)
    a = fit_capabilities(pairs, passes=3, rng=np.random.default_rng(5))
    b = fit_capabilities(pairs, passes=3, rng=np.random.default_rng(5))
    c = fit_capabilities(pairs, passes=3, rng=np.random.default_rng(6))
    np.testing.assert_array_equal(a.mu, b.mu)
    assert not np.array_equal(a.mu, c.mu)
    np.testing.assert_allclose(a.mu, a.pass_mu.mean(axis=0))
    np.testing.assert_allclose(a.sigma**2, (a.pass_sigma**2).mean(axis=0) + a.pass_mu.var(axis=0))
    assert a.pass_mu.shape == (3, 6)


def test_recovers_the_true_order_of_simulated_models() -> None:
    rng = np.random.default_rng(3)
    k = 10
    strength = np.linspace(-6.0, 6.0, k)
    a = rng.integers(0, k, size=20000)
    b = (a + rng.integers(1, k, size=20000)) % k
    a_wins = rng.normal(strength[a] - strength[b], 25.0 / 6.0 * np.sqrt(2)) > 0
    pairs = PairSet(
        tuple(f"m{i}" for i in range(k)),
        np.where(a_wins, a, b),
        np.where(a_wins, b, a),
        np.zeros(20000, dtype=bool),
    )
    caps = fit_capabilities(pairs, passes=2, rng=rng)
    assert spearmanr(caps.mu, strength)[0] > 0.95
    assert caps.table()[0]["model"] in ("m9", "m8")


def test_bad_traversal_arguments_raise_clear_errors() -> None:
    pairs = _random_pairs(np.random.default_rng(4), 10, 3, 0.0)
    with pytest.raises(InvalidInput, match="Generator"):
        fit_capabilities(pairs, traversal="shuffled", rng=None)
    with pytest.raises(InvalidInput, match="passes=1"):
        fit_capabilities(pairs, traversal="data", passes=2)
    with pytest.raises(InvalidInput, match="passes"):
        fit_capabilities(pairs, passes=0, rng=np.random.default_rng(0))


def _batch_bt(path: Path) -> tuple[tuple[str, ...], np.ndarray]:
    """Batch Bradley–Terry (ties as half wins) from the rating layer, or choix if absent."""
    try:
        from karena.rating.bradley_terry import fit_bradley_terry
        from karena.rating.data import load_chatbot_arena
    except ImportError:
        import json

        import choix

        data = json.loads(path.read_text())
        k = len(data["models"])
        wins = np.zeros((k, k))
        for (i, j), (wi, wj, t, bb) in zip(data["X"], data["Y"], strict=True):
            wins[i, j] += wi + 0.5 * (t + bb)
            wins[j, i] += wj + 0.5 * (t + bb)
        return tuple(data["models"]), np.asarray(choix.ilsr_pairwise_dense(wins))
    counts = load_chatbot_arena(path)
    fit = fit_bradley_terry(counts)
    return tuple(str(m) for m in counts.models), np.array([fit.rating(m) for m in counts.models])


@pytest.mark.slow
@pytest.mark.skipif(not ARENA.is_file(), reason="../shared/data/chatbotarena_20240814.json absent")
def test_chatbot_arena_capabilities_rank_like_batch_bradley_terry() -> None:
    from karena.reward.loaders import load_chatbot_arena_counts

    pairs = load_chatbot_arena_counts(ARENA)
    assert len(pairs) == 1_670_250
    caps = fit_capabilities(pairs, passes=2, rng=np.random.default_rng(0))
    models, bt = _batch_bt(ARENA)
    assert models == caps.models
    assert spearmanr(caps.mu, bt)[0] >= 0.98


def test_fit_equals_the_reference_update_replayed_pair_by_pair() -> None:
    """The data-order fit is ThurstoneK.replay over the pairs as K = 2 votes (ties included)."""
    from karena.rating.types import Ranking, Vote

    model = ThurstoneK(tau=0.05)
    pairs = _random_pairs(np.random.default_rng(9), 600, 12, tie_rate=0.15)
    mine = fit_capabilities(pairs, model, traversal="data", passes=1)
    votes = [
        Vote((int(w), int(lo)), Ranking((1, 1) if t else (1, 2)))
        for w, lo, t in zip(pairs.winner, pairs.loser, pairs.tie, strict=True)
        if w != lo
    ]
    reference = model.replay(votes)
    for i in range(pairs.n_models):
        expected = reference.get(i, model.initial())
        assert mine.mu[i] == pytest.approx(expected.mu, abs=1e-9)
        assert mine.sigma[i] == pytest.approx(expected.sigma, abs=1e-9)
