"""Batch Bradley–Terry on the real Chatbot Arena votes (../shared/data; skipped when absent).

Nothing here is a hard-coded rating. We assert what any correct fit of this file must satisfy:
the size the data README states, the maximum-likelihood score equations, that the fit explains
the pair outcomes far better than "all models equal", that the top-rated model beats every
opponent it met head-to-head, that the two tie conventions order models alike, and that the
two interval methods agree.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from karena.errors import InvalidInput, NotFound
from karena.rating.bradley_terry import (
    PairCounts,
    bootstrap_intervals,
    fit_bradley_terry,
    sandwich_intervals,
)
from karena.rating.data import load_chatbot_arena

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "chatbotarena_20240814.json"


@pytest.fixture(scope="module")
def arena() -> PairCounts:
    if not DATA.is_file():
        pytest.skip(f"Chatbot Arena data absent at {DATA}")
    return load_chatbot_arena(DATA)


def test_file_matches_its_readme(arena: PairCounts) -> None:
    """../shared/data/README.md: 129 models, 3,460 model pairs, 1,670,250 battles."""
    assert (arena.n_models, arena.n_pairs, arena.n_battles) == (129, 3460, 1_670_250)


def test_fit_satisfies_score_equations_and_explains_the_data(arena: PairCounts) -> None:
    fit = fit_bradley_terry(arena)
    n = arena.wins_i + arena.wins_j + arena.ties
    score_i = arena.wins_i + arena.ties / 2  # "half" ties
    p = 1.0 / (1.0 + np.exp(-(fit.strengths[arena.i] - fit.strengths[arena.j])))
    m = arena.n_models
    observed = np.bincount(arena.i, score_i, m) + np.bincount(arena.j, n - score_i, m)
    expected = np.bincount(arena.i, n * p, m) + np.bincount(arena.j, n * (1 - p), m)
    np.testing.assert_allclose(expected, observed, rtol=1e-8)
    # Battle-weighted error of the predicted pair score vs the observed one: BT must cut the
    # error of the "all equal" prediction (½ everywhere) at least threefold.
    error = np.sum(np.abs(score_i - n * p)) / n.sum()
    null = np.sum(np.abs(score_i - n * 0.5)) / n.sum()
    assert error < null / 3


def test_top_model_wins_every_head_to_head(arena: PairCounts) -> None:
    fit = fit_bradley_terry(arena)
    best = arena.models.index(fit.order()[0])
    rows = np.flatnonzero((arena.i == best) | (arena.j == best))
    n = arena.wins_i + arena.wins_j + arena.ties
    own = np.where(arena.i[rows] == best, arena.wins_i[rows], arena.wins_j[rows])
    assert np.all((own + arena.ties[rows] / 2) / n[rows] > 0.5)


def test_tie_conventions_order_models_alike(arena: PairCounts) -> None:
    half = fit_bradley_terry(arena)
    davidson = fit_bradley_terry(arena, ties="davidson")
    assert stats.spearmanr(half.ratings, davidson.ratings).statistic > 0.99
    assert davidson.tie_strength is not None and davidson.tie_strength > 0


def test_bootstrap_and_sandwich_agree_on_real_data(arena: PairCounts) -> None:
    boot = bootstrap_intervals(arena, rounds=30, rng=np.random.default_rng(0))
    sand = sandwich_intervals(arena)
    ratio = (boot.upper - boot.lower) / (sand.upper - sand.lower)
    assert 0.7 <= float(np.median(ratio)) <= 1.4
    assert np.all(sand.lower < sand.ratings) and np.all(sand.ratings < sand.upper)


def test_loader_reports_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        load_chatbot_arena(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"models": ["a", "b"], "X": [[0, 1]], "Y": [[1, 2, 3]]}')
    with pytest.raises(InvalidInput):
        load_chatbot_arena(bad)
    bad.write_text("not json")
    with pytest.raises(InvalidInput):
        load_chatbot_arena(bad)
    good = tmp_path / "good.json"
    good.write_text('{"models": ["a", "b"], "X": [[0, 1]], "Y": [[3, 1, 2, 4]]}')
    counts = load_chatbot_arena(good)
    assert (counts.wins_i[0], counts.wins_j[0], counts.ties[0]) == (3, 1, 6)  # both bad → tie
