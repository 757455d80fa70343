"""Shared strategies and generators for the rating tests."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from karena.rating.types import PAIR_RESULTS, BestOfK, Outcome, Ranking, Rating, Tie, Vote, pairwise


def random_log(rng: np.random.Generator, n_votes: int, n_models: int, k_max: int = 5) -> list[Vote]:
    """A mixed log: rankings with ties, best-of-K (with declared ties), pairwise, K in 2..k_max."""
    votes = []
    for _ in range(n_votes):
        k = int(rng.integers(2, k_max + 1))
        models = tuple(f"m{int(x)}" for x in rng.choice(n_models, size=k, replace=False))
        kind = int(rng.integers(3))
        if kind == 0:
            outcome: Outcome = Ranking(tuple(int(x) for x in rng.integers(1, k + 1, size=k)))
        elif kind == 1:
            winner = int(rng.integers(k))
            outcome = Tie(k, all_bad=winner == 0) if rng.random() < 0.2 else BestOfK(k, winner)
        else:
            models = models[:2]
            outcome = pairwise(list(PAIR_RESULTS)[int(rng.integers(4))])
        votes.append(Vote(models, outcome))
    return votes


#: Extreme but legal inputs: μ gaps up to 1e3 and σ down to 1e-6.
ratings_st = st.builds(
    Rating,
    mu=st.floats(min_value=-500.0, max_value=500.0),
    sigma=st.one_of(st.just(1e-6), st.floats(min_value=1e-6, max_value=50.0)),
)


@st.composite
def game(draw: st.DrawFn, strict: bool = False) -> tuple[list[Rating], Outcome]:
    """K ratings and an outcome for them: a ranking (ties unless ``strict``), best-of-K, pair."""
    k = draw(st.integers(min_value=2, max_value=6))
    ratings = draw(st.lists(ratings_st, min_size=k, max_size=k))
    if strict:
        perm = draw(st.permutations(list(range(1, k + 1))))
        return ratings, Ranking(tuple(perm))
    kind = draw(st.sampled_from(["ranking", "best", "pair"] if k == 2 else ["ranking", "best"]))
    if kind == "ranking":
        ranks = draw(st.lists(st.integers(1, k), min_size=k, max_size=k))
        return ratings, Ranking(tuple(ranks))
    if kind == "best":
        winner = draw(st.one_of(st.none(), st.integers(0, k - 1)))
        return ratings, Tie(k) if winner is None else BestOfK(k, winner)
    return ratings, pairwise(draw(st.sampled_from(list(PAIR_RESULTS))))
