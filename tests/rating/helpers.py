"""Shared strategies and generators for the rating tests."""

from __future__ import annotations

import numpy as np

from karena.rating.types import BestOfK, PairResult, Pairwise, Ranking, Vote


def random_log(rng: np.random.Generator, n_votes: int, n_models: int, k_max: int = 5) -> list[Vote]:
    """A mixed log: rankings with ties, best-of-K (with declared ties), pairwise, K in 2..k_max."""
    votes = []
    for _ in range(n_votes):
        k = int(rng.integers(2, k_max + 1))
        models = tuple(f"m{int(x)}" for x in rng.choice(n_models, size=k, replace=False))
        kind = int(rng.integers(3))
        if kind == 0:
            outcome: Ranking | BestOfK | Pairwise = Ranking(
                tuple(int(x) for x in rng.integers(1, k + 1, size=k))
            )
        elif kind == 1:
            winner = None if rng.random() < 0.2 else int(rng.integers(k))
            outcome = BestOfK(k, winner)
        else:
            models = models[:2]
            outcome = Pairwise(list(PairResult)[int(rng.integers(4))])
        votes.append(Vote(models, outcome))
    return votes
