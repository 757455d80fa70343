"""Online Elo: FastChat's pairwise update, and its K-wise decomposition."""

from __future__ import annotations

import math

import numpy as np
import pytest

from karena.errors import InvalidInput
from karena.rating.models.elo import Elo
from karena.rating.types import BestOfK, Ranking, Rating, Vote, pairwise


def fastchat_online_elo(battles: list[tuple[str, str, str]], k: float = 4.0) -> dict[str, float]:
    """FastChat's compute_online_elo loop, written out as its published formula."""
    rating: dict[str, float] = {}
    for a, b, winner in battles:
        ra, rb = rating.get(a, 1000.0), rating.get(b, 1000.0)
        ea = 1 / (1 + 10 ** ((rb - ra) / 400))
        eb = 1 / (1 + 10 ** ((ra - rb) / 400))
        sa = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5}[winner]
        rating[a] = ra + k * (sa - ea)
        rating[b] = rb + k * (1 - sa - eb)
    return rating


def test_first_win_between_newcomers_moves_k_over_two() -> None:
    new = Elo().update((Rating(1000, 0), Rating(1000, 0)), pairwise("win"))
    assert new == (Rating(1002.0, 0.0), Rating(998.0, 0.0))


def test_pairwise_replay_matches_fastchat() -> None:
    rng = np.random.default_rng(3)
    names = ["a", "b", "c", "d", "e"]
    battles, votes = [], []
    result_of = {"model_a": "win", "model_b": "loss", "tie": "tie"}
    for _ in range(400):
        a, b = (str(x) for x in rng.choice(names, size=2, replace=False))
        winner = str(rng.choice(["model_a", "model_b", "tie"]))
        battles.append((a, b, winner))
        votes.append(Vote((a, b), pairwise(result_of[winner])))
    want = fastchat_online_elo(battles)
    got = Elo().replay(votes)
    for name, value in want.items():
        assert got[name].mu == pytest.approx(value, abs=1e-9)
        assert got[name].sigma == 0.0


def test_kwise_vote_sums_pair_updates_from_pre_vote_ratings() -> None:
    ratings = (Rating(1000, 0), Rating(1000, 0), Rating(1000, 0))
    new = Elo().update(ratings, Ranking((1, 2, 3)))
    assert [r.mu for r in new] == pytest.approx([1004.0, 1000.0, 996.0])
    best = Elo().update(ratings, BestOfK(3, 1))
    assert [r.mu for r in best] == pytest.approx([998.0, 1004.0, 998.0])


def test_both_bad_is_a_tie() -> None:
    ratings = (Rating(1100, 0), Rating(1000, 0))
    tie = Elo().update(ratings, pairwise("tie"))
    both_bad = Elo().update(ratings, pairwise("both_bad"))
    assert tie == both_bad
    assert tie[0].mu < 1100 < tie[0].mu + 1


def test_probabilities() -> None:
    elo = Elo()
    assert elo.win_probability(Rating(1400, 0), Rating(1000, 0)) == pytest.approx(10 / 11)
    ratings = [Rating(1200, 0), Rating(1000, 0), Rating(1100, 0)]
    total = sum(
        elo.ranking_probability(ratings, order)
        for order in [(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)]
    )
    assert total == pytest.approx(1.0)
    pair = elo.ranking_probability(ratings[:2], (0, 1))
    assert pair == pytest.approx(elo.win_probability(ratings[0], ratings[1]))
    assert math.isfinite(elo.win_probability(Rating(1e9, 0), Rating(-1e9, 0)))


def test_bad_parameters_are_rejected() -> None:
    with pytest.raises(InvalidInput):
        Elo(k=0.0)
    with pytest.raises(InvalidInput):
        Elo(base=1.0)
