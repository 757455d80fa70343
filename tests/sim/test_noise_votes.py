"""Noise models and vote modes: empirical rates, the judge confusion, seeding and bounds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from karena.errors import InvalidInput, NotFound
from karena.rating.types import BestOfK, Ranking, pairwise
from karena.sim.noise import (
    BOTH_BAD,
    LOSS,
    TIE,
    WIN,
    FlipNoise,
    GumbelNoise,
    JudgeNoise,
    ThurstonianNoise,
    judge_confusion,
)
from karena.sim.votes import batch_votes, copeland_scores, to_outcome

JUDGE_CSV = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "genai_bench_judge_votes.csv"
)


def _strengths(rows: int, k: int) -> np.ndarray:
    """Every row: contestant 0 strongest, then 1, … (so the truth says position a beats b > a)."""
    return np.tile(np.arange(k, 0, -1, dtype=np.float64), (rows, 1))


def test_flip_rate_is_p() -> None:
    codes = FlipNoise(0.05).pair_codes(_strengths(40_000, 4), np.random.default_rng(0))
    rate = float(np.mean(codes == LOSS))
    # 240,000 Bernoulli(0.05) draws: standard error ≈ 4.4e-4.
    assert abs(rate - 0.05) < 0.003
    assert set(np.unique(codes)) <= {WIN, LOSS}


def test_no_noise_is_the_truth() -> None:
    codes = FlipNoise(0.0).pair_codes(_strengths(10, 5), np.random.default_rng(0))
    assert np.all(codes == WIN)
    ranks = batch_votes(codes, 5, "rank", np.random.default_rng(0))
    assert np.all(ranks == np.arange(1, 6))


def test_thurstonian_noise_matches_the_probit() -> None:
    # Strength gap 1, β = 1: P(stronger wins) = Φ(1/√2) ≈ 0.7602.
    s = np.tile([1.0, 0.0], (50_000, 1))
    codes = ThurstonianNoise(1.0).pair_codes(s, np.random.default_rng(1))
    assert abs(float(np.mean(codes == WIN)) - 0.7602) < 0.01


def test_gumbel_noise_is_bradley_terry() -> None:
    s = np.tile([1.0, 0.0], (50_000, 1))
    codes = GumbelNoise().pair_codes(s, np.random.default_rng(2))
    assert abs(float(np.mean(codes == WIN)) - 1 / (1 + np.exp(-1.0))) < 0.01


@pytest.mark.parametrize(
    "noise", [FlipNoise(0.2), ThurstonianNoise(2.0), GumbelNoise(), JudgeNoise(0.6, 0.2, 0.1, 0.1)]
)
def test_noise_is_seeded_and_bounded(noise: object) -> None:
    s = np.random.default_rng(9).normal(size=(50, 6))
    a = noise.pair_codes(s, np.random.default_rng(5))  # type: ignore[attr-defined]
    b = noise.pair_codes(s, np.random.default_rng(5))  # type: ignore[attr-defined]
    np.testing.assert_array_equal(a, b)
    assert a.shape == (50, 15)
    assert set(np.unique(a)) <= {WIN, LOSS, TIE, BOTH_BAD}


def test_invalid_noise_parameters() -> None:
    with pytest.raises(InvalidInput):
        FlipNoise(1.5)
    with pytest.raises(InvalidInput):
        ThurstonianNoise(-1.0)
    with pytest.raises(InvalidInput):
        JudgeNoise(0.5, 0.5, 0.5, 0.0)


def test_copeland_cycle_becomes_a_tie() -> None:
    # K=3 pairs (0,1), (0,2), (1,2): 0 ≻ 1, 2 ≻ 0, 1 ≻ 2 is a cycle: all score 1.
    codes = np.array([[WIN, LOSS, WIN]], dtype=np.int8)
    np.testing.assert_array_equal(copeland_scores(codes, 3), [[1.0, 1.0, 1.0]])
    ranks = batch_votes(codes, 3, "rank", np.random.default_rng(0))
    np.testing.assert_array_equal(ranks, [[1, 1, 1]])


def test_best_of_k_leaves_the_losers_unranked() -> None:
    codes = np.array([[LOSS, WIN, WIN, WIN, WIN, WIN]], dtype=np.int8)  # 1 ≻ 0 ≻ 2 ≻ 3
    ranks = batch_votes(codes, 4, "best", np.random.default_rng(0))
    # The winner at rank 1; the others unranked (0): nothing is said among them.
    np.testing.assert_array_equal(ranks, [[0, 1, 0, 0]])
    assert to_outcome(codes[0], 4, "best", np.random.default_rng(0)) == BestOfK(4, 1)


def test_two_way_votes_keep_ties_and_both_bad() -> None:
    rng = np.random.default_rng(0)
    assert to_outcome(np.array([TIE], np.int8), 2, "rank", rng) == pairwise("tie")
    assert to_outcome(np.array([BOTH_BAD], np.int8), 2, "rank", rng) == pairwise("both_bad")
    assert to_outcome(np.array([LOSS], np.int8), 2, "rank", rng) == pairwise("loss")
    assert to_outcome(np.array([WIN, WIN, LOSS], np.int8), 3, "rank", rng) == Ranking((1, 3, 2))
    with pytest.raises(InvalidInput, match="unknown vote kind 'tie' for a simulated voter"):
        batch_votes(np.zeros((1, 3), np.int8), 3, "tie", rng)
    with pytest.raises(InvalidInput, match="unknown vote kind"):
        batch_votes(np.zeros((1, 1), np.int8), 2, "nope", rng)  # type: ignore[arg-type]


def test_judge_noise_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        judge_confusion(tmp_path / "absent.csv", "gpt4o")


@pytest.mark.skipif(
    not JUDGE_CSV.is_file(), reason="../shared/data/genai_bench_judge_votes.csv absent"
)
def test_judge_noise_reproduces_the_csv_confusion() -> None:
    conf = judge_confusion(JUDGE_CSV, "gpt4o")
    # GPT-4o agrees with a human's side a bit under two thirds of the time (METHODS §2.4).
    assert 0.55 < conf["correct"] < 0.7
    assert abs(sum(conf.values()) - 1.0) < 1e-12
    noise = JudgeNoise.from_csv(JUDGE_CSV, "gpt4o")
    codes = noise.pair_codes(_strengths(60_000, 2), np.random.default_rng(3))
    empirical = {
        "correct": np.mean(codes == WIN),
        "wrong": np.mean(codes == LOSS),
        "tie": np.mean(codes == TIE),
        "both_bad": np.mean(codes == BOTH_BAD),
    }
    for key, p in conf.items():
        assert abs(empirical[key] - p) < 0.01, key
    with pytest.raises(InvalidInput, match="no usable votes"):
        judge_confusion(JUDGE_CSV, "no-such-judge")
