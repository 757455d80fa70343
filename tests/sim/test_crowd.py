"""Simulated crowds: random voters are uniform, adversaries put their model first, honest
voters follow the truth; the same seed gives the clean and the spammed crowd the same battles."""

from __future__ import annotations

import numpy as np
import pytest

from karena.errors import InvalidInput
from karena.rating.types import Ranking
from karena.sim.crowd import Crowd, VoterKind, crowd_votes


def test_adversaries_rank_their_model_first_whenever_it_is_shown() -> None:
    truth = np.linspace(2.0, 0.0, 8)
    crowd = Crowd(honest=0, adversarial=3, target=7)
    cast = crowd_votes(truth, crowd, 600, np.random.default_rng(0))
    shown = cast.battles == 7
    assert shown.any(axis=1).sum() > 100
    assert np.all(cast.ranks[shown] == 1)
    # Outside the target's battles the adversary ranks honestly: the strongest model shown
    # comes first far more often than a blind 1 in 4.
    other = ~shown.any(axis=1)
    strongest = np.argmin(cast.battles[other], axis=1)  # strengths fall with the index
    assert np.mean(cast.ranks[other][np.arange(other.sum()), strongest] == 1) > 0.4


def test_random_voters_rank_uniformly() -> None:
    truth = np.array([5.0, 0.0, 0.0, -5.0])
    cast = crowd_votes(truth, Crowd(honest=0, random=5), 4000, np.random.default_rng(1), k=4)
    strongest_rank = cast.ranks[cast.battles == 0]
    counts = np.bincount(strongest_rank, minlength=5)[1:]
    assert counts / counts.sum() == pytest.approx([0.25] * 4, abs=0.03)


def test_honest_voters_follow_the_truth_and_the_vote_vocabulary() -> None:
    truth = np.array([3.0, 0.0, -3.0])
    cast = crowd_votes(truth, Crowd(honest=4), 500, np.random.default_rng(2), k=3)
    top = cast.ranks[cast.battles == 0]
    assert np.mean(top == 1) > 0.9
    votes = cast.votes(10)
    assert len(votes) == 10 and all(isinstance(v.outcome, Ranking) for v in votes)
    assert set(cast.voters.tolist()) <= set(range(4))


def test_the_same_seed_gives_the_same_battles_and_voters() -> None:
    truth = np.linspace(1.0, 0.0, 6)
    clean = crowd_votes(truth, Crowd(honest=10), 200, np.random.default_rng(3))
    spam = crowd_votes(truth, Crowd(7, 2, 1, target=5), 200, np.random.default_rng(3))
    assert np.array_equal(clean.battles, spam.battles)
    assert np.array_equal(clean.voters, spam.voters)
    kinds = Crowd(7, 2, 1, target=5).kinds()
    honest = kinds[spam.voters] == VoterKind.HONEST
    assert np.array_equal(clean.ranks[honest], spam.ranks[honest])


@pytest.mark.parametrize(
    ("crowd", "k"),
    [(Crowd(honest=1, target=9), 4), (Crowd(honest=2), 9)],
)
def test_bad_crowds_are_refused(crowd: Crowd, k: int) -> None:
    with pytest.raises(InvalidInput):
        crowd_votes(np.zeros(6), crowd, 10, np.random.default_rng(0), k=k)
    with pytest.raises(InvalidInput):
        Crowd(honest=0)
