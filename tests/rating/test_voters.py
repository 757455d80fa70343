"""Voter reliability: the padded likelihood agrees with the reference fit; the EM finds blind
clickers and partisans, keeps honest voters, and its weights win back the spammed board."""

from __future__ import annotations

import numpy as np
import pytest

from karena.errors import InvalidInput
from karena.rating.pl_arrays import pad_rankings, ranking_log_likelihoods
from karena.rating.plackett_luce import fit_plackett_luce, rankings_from_votes
from karena.rating.types import BestOfK, Ranking, Tie, Vote
from karena.rating.voters import board_ridge, fit_voter_reliability
from karena.sim.crowd import Crowd, CrowdVotes, VoterKind, crowd_votes
from karena.sim.metrics import kendall_tau, positions


def _mixed_votes(rng: np.random.Generator, n: int = 300) -> list[Vote]:
    votes = []
    for i in range(n):
        shown = tuple(int(m) for m in rng.permutation(6)[:4])
        if i % 3 == 0:
            votes.append(Vote(shown, Ranking(tuple(int(r) for r in rng.integers(1, 5, 4)))))
        elif i % 3 == 1:
            votes.append(Vote(shown, BestOfK(4, int(rng.integers(4)))))
        else:
            votes.append(Vote(shown, Tie(4, all_bad=i % 2 == 0)))
    votes.append(Vote((0, 1), Ranking((2, 1))))  # a K = 2 vote pads the rows
    return votes


def test_padded_log_likelihoods_sum_to_the_reference_fit() -> None:
    """Per-vote terms add up to fit_plackett_luce's log-likelihood (ties, best-of-K, mixed K)."""
    ids, rankings = rankings_from_votes(_mixed_votes(np.random.default_rng(0)))
    fit = fit_plackett_luce(rankings, len(ids), ridge=0.1)
    terms = ranking_log_likelihoods(rankings, fit.strengths)
    penalty = 0.05 * float(fit.strengths @ fit.strengths)
    assert terms.sum() - penalty == pytest.approx(fit.log_likelihood, rel=1e-12)


def test_a_blind_strict_ranking_of_four_has_probability_one_over_24() -> None:
    ll = ranking_log_likelihoods([[(0,), (1,), (2,), (3,)]], np.zeros(4))
    assert np.exp(ll[0]) == pytest.approx(1 / 24)


def test_padded_weighted_refit_equals_the_reference_fit() -> None:
    """The EM's refit is fit_plackett_luce's estimate for the same weights and ridge."""
    rng = np.random.default_rng(1)
    ids, rankings = rankings_from_votes(_mixed_votes(rng))
    weights = rng.random(len(rankings))
    ours = pad_rankings(rankings, len(ids)).fit(weights, 0.1)
    ref = fit_plackett_luce(rankings, len(ids), weights=weights, ridge=0.1).strengths
    assert np.max(np.abs(ours - ours.mean() - ref)) < 1e-9


def _spammed(seed: int, votes: int = 4000) -> tuple[np.ndarray, Crowd, CrowdVotes]:
    truth = np.random.default_rng(seed).permutation(12) * 0.25
    crowd = Crowd(honest=30, random=8, adversarial=2, target=int(np.argmin(truth)))
    return truth, crowd, crowd_votes(truth, crowd, votes, np.random.default_rng(seed + 1))


def test_blind_voters_and_partisans_are_found() -> None:
    _truth, crowd, cast = _spammed(3)
    fit = fit_voter_reliability(cast.votes(), cast.voters.tolist(), models=range(12))
    kinds = crowd.kinds()[np.asarray(fit.voters, dtype=np.int64)]
    honest, blind, partisan = (kinds == k for k in VoterKind)
    assert fit.converged
    assert fit.reliability[honest].min() > 0.8
    assert fit.reliability[blind].max() < 0.2 and fit.blind[blind].min() > 0.8
    assert fit.reliability[partisan].max() < 0.2
    assert set(fit.suspect[partisan].tolist()) == {crowd.target}
    assert set(fit.suspect_sign[partisan].tolist()) == {1}
    # A partisan's votes that do not show its model keep their weight; the others lose it.
    by_vote = kinds[fit.voter_index]
    shows = np.any(cast.battles == crowd.target, axis=1)
    assert fit.weights[(by_vote == VoterKind.ADVERSARIAL) & ~shows].min() > 0.8
    assert fit.weights[(by_vote == VoterKind.ADVERSARIAL) & shows].max() < 0.1
    assert fit.mix[0] == pytest.approx(30 / 40, abs=0.08)


def test_a_voter_who_always_puts_one_model_last_is_a_partisan_against_it() -> None:
    truth = np.linspace(1.5, 0.0, 8)
    rng = np.random.default_rng(5)
    cast = crowd_votes(truth, Crowd(honest=20), 2000, rng)
    votes = cast.votes()
    voters = cast.voters.tolist()
    best = 0  # the strongest model: the saboteur ranks it last whenever it is shown
    for i, vote in enumerate(votes):
        if voters[i] == 0 and best in vote.models:
            at = vote.models.index(best)
            others = [p for p in range(4) if p != at]
            ranks = [0] * 4
            for r, p in enumerate(others, start=1):
                ranks[p] = r
            ranks[at] = 4
            votes[i] = Vote(vote.models, Ranking(tuple(ranks)))
    fit = fit_voter_reliability(votes, voters, models=range(8))
    saboteur = fit.voters.index(0)
    assert fit.suspect[saboteur] == best and fit.suspect_sign[saboteur] == -1
    assert fit.reliability[saboteur] < 0.2
    others = [i for i in range(len(fit.voters)) if i != saboteur]
    assert fit.reliability[others].min() > 0.7


def test_weighting_wins_back_the_spammed_order() -> None:
    """With the crowd of the benchmark's kind, weighted τ beats unweighted and nears clean."""
    gains = []
    for seed in range(3):
        truth, _crowd, cast = _spammed(seed)
        _, rankings = rankings_from_votes(cast.votes(), models=range(12))
        padded = pad_rankings(rankings, 12)
        fit = fit_voter_reliability(cast.votes(), cast.voters.tolist(), models=range(12))

        def tau(theta: np.ndarray, truth: np.ndarray = truth) -> float:
            return float(kendall_tau(positions(theta[None]), positions(truth[None]))[0])

        plain = tau(padded.fit(np.ones(len(rankings)), board_ridge()))
        weighted = tau(padded.fit(np.asarray(fit.weights), board_ridge()))
        gains.append(weighted - plain)
        assert weighted >= plain
    assert max(gains) > 0.0


def test_an_honest_crowd_keeps_nearly_all_its_weight() -> None:
    """(On a nearly flat board an honest voter's votes look blind too: docs/voters.md.)"""
    truth = np.linspace(2.0, 0.0, 10)
    for seed in range(3):
        cast = crowd_votes(truth, Crowd(honest=30), 3000, np.random.default_rng(seed))
        fit = fit_voter_reliability(cast.votes(), cast.voters.tolist())
        assert np.median(fit.weights) > 0.99
        assert fit.reliability.min() > 0.9


def test_the_fit_does_not_depend_on_voter_labels_or_vote_order() -> None:
    _, _, cast = _spammed(4, votes=1500)
    votes, voters = cast.votes(), cast.voters.tolist()
    fit = fit_voter_reliability(votes, voters, models=range(12))
    order = np.random.default_rng(0).permutation(len(votes))
    relabel = {v: f"hash-{(v * 7919) % 1000}" for v in set(voters)}
    again = fit_voter_reliability(
        [votes[i] for i in order], [relabel[voters[i]] for i in order], models=range(12)
    )
    assert np.allclose(again.weights, fit.weights[order], atol=1e-6)
    by_voter = dict(zip(fit.voters, fit.reliability, strict=True))
    for voter, r in zip(again.voters, again.reliability, strict=True):
        original = next(v for v, h in relabel.items() if h == voter)
        assert r == pytest.approx(by_voter[original], abs=1e-6)


def test_no_votes_and_bad_input() -> None:
    empty = fit_voter_reliability([], [])
    assert empty.voters == () and empty.iterations == 0
    vote = Vote(("a", "b"), Ranking((1, 2)))
    with pytest.raises(InvalidInput, match="voters given"):
        fit_voter_reliability([vote], [])
    with pytest.raises(InvalidInput, match="prior"):
        fit_voter_reliability([vote], ["x"], prior=(1.0, 0.0, 1.0))
    with pytest.raises(InvalidInput, match="bias"):
        fit_voter_reliability([vote], ["x"], bias=float("nan"))
    with pytest.raises(InvalidInput, match="ridge"):
        pad_rankings([[(0,), (1,)]], 2).fit(np.ones(1), 0.0)
