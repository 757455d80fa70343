"""Properties of the rating history's replay pieces (karena.rating.history), for every model.

A replay cut anywhere gives the same floats as one pass, and as the scalar ``update`` one vote
at a time: the history's points are the live arithmetic, not an approximation of it.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from karena.errors import InvalidInput
from karena.rating.history import advance, grid_step, sample, start_state
from karena.rating.registry import RATING_MODELS, rating_model
from karena.rating.types import EMPTY, outcome_from_rank_row


def _log(rng: np.random.Generator, n: int, n_models: int) -> tuple[np.ndarray, np.ndarray]:
    """Votes of K = 2..4 (padded with EMPTY) with ranks and ties; model indices appear late."""
    models = np.full((n, 4), EMPTY, dtype=np.int32)
    ranks = np.zeros((n, 4), dtype=np.int32)
    for v in range(n):
        k = int(rng.integers(2, 5))
        seen = min(n_models, 2 + v // 3)  # later votes bring in new models
        chosen = rng.choice(seen, size=min(k, seen), replace=False)
        models[v, : chosen.size] = chosen
        ranks[v, : chosen.size] = rng.integers(1, chosen.size + 1, size=chosen.size)
        if rng.random() < 0.2:  # a best-of-K vote: one winner, the rest unranked
            ranks[v, : chosen.size] = 0
            ranks[v, int(rng.integers(chosen.size))] = 1
    return models, ranks


@pytest.mark.parametrize("name", sorted(RATING_MODELS))
def test_pieces_of_a_replay_equal_one_pass_and_the_scalar_update(name: str) -> None:
    model = rating_model(name)
    prior = model.initial()
    rng = np.random.default_rng(7)
    n, n_models = 120 if name == "factor-graph" else 400, 9
    models, ranks = _log(rng, n, n_models)
    whole = advance(model, start_state(0, prior), models, ranks, n, n_models, prior)
    cuts = sorted({0, n, *rng.integers(0, n, size=7).tolist()})
    state = start_state(2, prior)
    for stop in cuts[1:]:
        state = advance(model, state, models, ranks, stop, n_models, prior)
    assert np.array_equal(state.mu, whole.mu) and np.array_equal(state.sigma, whole.sigma)
    # The scalar path, one vote at a time, as the store's live update does it.
    live = {i: prior for i in range(n_models)}
    for row_m, row_r in zip(models.tolist(), ranks.tolist(), strict=True):
        used = [j for j, m in enumerate(row_m) if m != EMPTY]
        after = model.update(
            [live[row_m[j]] for j in used], outcome_from_rank_row([row_r[j] for j in used])
        )
        for j, rating in zip(used, after, strict=True):
            live[row_m[j]] = rating
    assert [whole.rating(i) for i in range(n_models)] == [live[i] for i in range(n_models)]
    counts = np.bincount(models[models != EMPTY], minlength=n_models)
    assert whole.votes.tolist() == counts.tolist()


@pytest.mark.parametrize("name", ["thurstone", "elo"])
def test_sample_reads_the_state_after_each_chosen_vote(name: str) -> None:
    model = rating_model(name)
    prior = model.initial()
    models, ranks = _log(np.random.default_rng(3), 300, 8)
    index = 5
    hits = np.flatnonzero((models == index).any(axis=1)) + 1
    start = advance(model, start_state(0, prior), models, ranks, int(hits[0]) - 1, 8, prior)
    series = sample(model, start, models, ranks, hits, index, 8, prior)
    assert series.votes.tolist() == list(range(1, hits.size + 1))
    for at, mu, sigma in zip(series.at[::7], series.mu[::7], series.sigma[::7], strict=True):
        state = advance(model, start_state(0, prior), models, ranks, int(at), 8, prior)
        assert (state.mu[index], state.sigma[index]) == (mu, sigma)
    with pytest.raises(InvalidInput):
        sample(model, start, models, ranks, [hits[1], hits[0]], index, 8, prior)
    with pytest.raises(InvalidInput):
        sample(model, start, models, ranks, [301], index, 8, prior)
    with pytest.raises(InvalidInput):
        advance(model, start, models, ranks, int(start.at) - 1, 8, prior)


def test_grid_step_is_the_smallest_power_of_two_within_the_budget() -> None:
    for n in (0, 1, 49, 50, 51, 100, 1000, 12_345, 1_000_000):
        for points in (1, 8, 50, 64):
            step = grid_step(n, points)
            assert step & (step - 1) == 0 and n // step <= points
            assert step == 1 or n // (step // 2) > points
    # As the log grows the step only doubles: every later checkpoint was an earlier one.
    steps = [grid_step(n, 50) for n in range(0, 5000, 37)]
    assert all(b in (a, 2 * a) for a, b in itertools.pairwise(steps))
    with pytest.raises(InvalidInput):
        grid_step(10, 0)
