r"""Voter reliability: who votes with the consensus, who clicks blindly, who pushes one model.

A latent-class model in the manner of Dawid & Skene (1979), whose latent variable is each
annotator's type, with the "spammer" class of Raykar & Yu (2012) and Crowd-BT (Chen et al.
2013), written for K-wise votes and for the attack arenas actually see: a voter who pushes one
model up, or down, whenever it is shown (Min et al. 2025; Huang et al. 2025). Every voter
:math:`v` has one class for all of their votes:

* **honest** (h): vote :math:`i` has its Plackett–Luce likelihood :math:`L_i(\theta)`, exactly
  as the batch board fits it (:func:`~karena.rating.plackett_luce.rankings_from_votes`: places
  with Breslow ties, best-of-K as Luce's top-1 choice, a tie as one place);
* **blind** (b): :math:`L_i(0)`, every model equal: a vote cast without looking (1/K! for a
  strict ranking);
* **partisan** (:math:`m^\pm`): :math:`L_i(\theta \pm B e_m)`, model :math:`m` judged
  :math:`B` logits better (or worse) than it is and every other model honestly; the same as
  honest on the votes that do not show :math:`m`.

With class proportions :math:`\pi = (\pi_h, \pi_b, \pi_p)`, the partisan share split evenly
over the :math:`2n` classes :math:`m^\pm`, a voter's posterior is

.. math::

    P(c \mid v) \propto \pi_c \prod_{i \in v} L_i^{(c)}.

EM alternates this E-step with an M-step: :math:`\pi` from the posteriors plus Dirichlet
pseudo-counts, and θ the ridge-regularised Plackett–Luce fit of every vote :math:`i` weighted by
the probability that it is honest,

.. math::

    w_i = 1 - P(b \mid v) - \sum_{m \in i} \big(P(m^+ \mid v) + P(m^- \mid v)\big),

starting from the unweighted fit (a generalised EM: a partisan's votes that show its model leave
θ's update instead of being fitted with the shift; every step still raises the posterior of θ
given the weights). A voter's **reliability** is the share of their votes that are honest
under this posterior, :math:`r_v = 1 - P(b \mid v) - \sum_{m \text{ shown to } v} P(m^\pm \mid v)`.

Evidence accumulates per voter, so one surprising vote (an upset) costs an honest voter almost
nothing while twenty votes that all put a weak model first are decisive. A voter with a few
votes stays near the prior. A voter whose taste really differs from the crowd's (one who loves
one model) is, to this model, a partisan: weighting is an option of the board, not a verdict.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from karena.errors import InvalidInput
from karena.rating.models.thurstone import DEFAULT_BETA, DEFAULT_SIGMA
from karena.rating.pl_arrays import PaddedRankings, pad_rankings
from karena.rating.plackett_luce import rankings_from_votes
from karena.rating.types import Vote

__all__ = ["CLASS_PRIOR", "PARTISAN_BIAS", "VoterFit", "fit_voter_reliability"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: B: how many logits a partisan shifts its model (e^4 ≈ 55: it nearly always wins or loses).
PARTISAN_BIAS = 4.0
#: Dirichlet pseudo-voters of the classes (honest, blind, partisan).
CLASS_PRIOR = (8.0, 1.0, 1.0)


def board_ridge() -> float:
    """The batch board's ridge: the online prior N(25, (25/3)²) in logit units."""
    return float((math.sqrt(2.0) * DEFAULT_BETA / 1.702 / DEFAULT_SIGMA) ** 2)


@dataclass(frozen=True, slots=True, eq=False)  # arrays: compare by identity
class VoterFit:
    """Every voter's class posterior and reliability, and the consensus they are measured by.

    Attributes
    ----------
    voters, votes :
        Distinct voters in order of first vote, and how many votes each cast.
    reliability :
        :math:`r_v`: the share of the voter's votes that are honest (0–1).
    blind :
        :math:`P(b \\mid v)`: the probability that the voter clicks without looking.
    suspect, suspect_sign, suspect_prob :
        The partisan class most likely for the voter: the model index (−1 when the voter was
        never shown one), +1 to push it up, −1 to push it down, and its probability.
    weights, voter_index :
        Per vote, :math:`w_i` (the batch board's weight) and the index of its voter.
    models, strengths :
        The consensus: Plackett–Luce strengths (logits, the board's ridge) of the weighted votes.
    mix :
        The class proportions (honest, blind, partisan).
    iterations, converged :
        EM steps, and whether the last moved no weight by more than ``tol``.
    """

    voters: tuple[Hashable, ...]
    votes: IntArray
    reliability: FloatArray
    blind: FloatArray
    suspect: IntArray
    suspect_sign: IntArray
    suspect_prob: FloatArray
    weights: FloatArray
    voter_index: IntArray
    models: tuple[Hashable, ...]
    strengths: FloatArray
    mix: tuple[float, float, float]
    iterations: int
    converged: bool


def _segment_logsumexp(values: FloatArray, segment: IntArray, base: FloatArray) -> FloatArray:
    """log(exp(base[s]) + Σ_{j: segment[j] = s} exp(values[j])) for every segment s."""
    top = base.copy()
    np.maximum.at(top, segment, values)
    top = np.where(np.isfinite(top), top, 0.0)
    total = np.exp(base - top) + np.bincount(segment, np.exp(values - top[segment]), len(base))
    return np.asarray(top + np.log(total), dtype=np.float64)


@dataclass(frozen=True, slots=True, eq=False)
class _Data:
    """What the E-step needs, computed once: the padded votes, their voters, the (voter, model
    shown) keys that carry the partisan classes, and each voter's blind log-likelihood."""

    padded: PaddedRankings
    voter_index: IntArray
    n_voters: int
    bias: float
    rows: IntArray
    cols: IntArray
    cell_key: IntArray
    key_voter: IntArray
    key_model: IntArray
    seen_models: IntArray
    blind_ll: FloatArray

    @classmethod
    def build(
        cls, padded: PaddedRankings, voter_index: IntArray, n_voters: int, bias: float
    ) -> _Data:
        n = padded.n_models
        rows, cols = np.nonzero(padded.shown)
        cells = voter_index[rows] * n + padded.order[rows, cols]
        keys, cell_key = np.unique(cells, return_inverse=True)
        blind = padded.log_likelihoods(np.zeros(padded.order.shape))
        return cls(
            padded, voter_index, n_voters, bias, rows, cols, cell_key.ravel(), keys // n,
            keys % n, np.bincount(keys // n, minlength=n_voters),
            np.asarray(np.bincount(voter_index, blind, n_voters), dtype=np.float64),
        )  # fmt: skip


@dataclass(frozen=True, slots=True, eq=False)
class _Posterior:
    """One E-step: P(honest), P(blind) per voter; P(m+), P(m−) per key; w_i per vote."""

    honest: FloatArray
    blind: FloatArray
    promote: FloatArray
    demote: FloatArray
    weights: FloatArray

    @property
    def partisan_key(self) -> FloatArray:
        return np.asarray(self.promote + self.demote, dtype=np.float64)


def _e_step(d: _Data, theta: FloatArray, mix: FloatArray) -> _Posterior:
    """Class posteriors of every voter at θ and the class proportions ``mix``."""
    padded, n = d.padded, d.padded.n_models
    values = padded.at(theta)
    honest_ll = padded.log_likelihoods(values)
    shifted = []
    for sign in (1.0, -1.0):
        delta = np.zeros(values.shape)
        for c in range(values.shape[1]):
            moved = values.copy()
            moved[:, c] += sign * d.bias
            delta[:, c] = padded.log_likelihoods(moved) - honest_ll
        shifted.append(np.bincount(d.cell_key, delta[d.rows, d.cols], len(d.key_voter)))
    h = np.bincount(d.voter_index, honest_ll, d.n_voters)
    log_h = math.log(mix[0]) + h
    log_b = math.log(mix[1]) + d.blind_ll
    each = math.log(mix[2] / (2 * n))
    with np.errstate(divide="ignore"):  # a voter shown every model has no unseen partisans
        log_unseen = each + np.log(2.0 * (n - d.seen_models)) + h
    log_p = [each + h[d.key_voter] + s for s in shifted]
    norm = _segment_logsumexp(
        np.concatenate(log_p),
        np.concatenate([d.key_voter, d.key_voter]),
        np.logaddexp(np.logaddexp(log_h, log_b), log_unseen),
    )
    blind = np.exp(log_b - norm)
    promote, demote = (np.exp(lp - norm[d.key_voter]) for lp in log_p)
    per_cell = np.zeros(values.shape)
    per_cell[d.rows, d.cols] = (promote + demote)[d.cell_key]
    weights = np.clip(1.0 - blind[d.voter_index] - per_cell.sum(axis=1), 0.0, 1.0)
    return _Posterior(np.exp(log_h - norm), blind, promote, demote, weights)


def _suspects(d: _Data, post: _Posterior) -> tuple[IntArray, IntArray, FloatArray]:
    """Per voter, its likeliest partisan class: the model (−1: none shown), the sign, P."""
    k = len(d.key_voter)
    both = np.concatenate([post.promote, post.demote])
    owner = np.concatenate([d.key_voter, d.key_voter])
    order = np.lexsort((-both, owner))  # per voter, its likeliest partisan class first
    first = order[np.r_[True, owner[order][1:] != owner[order][:-1]]] if k else order
    suspect = np.full(d.n_voters, -1, np.int64)
    sign = np.zeros(d.n_voters, np.int64)
    prob = np.zeros(d.n_voters)
    suspect[owner[first]] = d.key_model[first % max(k, 1)]
    sign[owner[first]] = np.where(first < k, 1, -1)
    prob[owner[first]] = both[first]
    return suspect, sign, prob


def fit_voter_reliability(
    votes: Iterable[Vote],
    voters: Iterable[Hashable],
    *,
    models: Sequence[Hashable] | None = None,
    bias: float = PARTISAN_BIAS,
    prior: tuple[float, float, float] = CLASS_PRIOR,
    ridge: float | None = None,
    tol: float = 1e-3,
    max_iter: int = 100,
) -> VoterFit:
    """Estimate each voter's class and reliability by EM (see the module docstring).

    Parameters
    ----------
    votes, voters :
        Counted votes and, for each, who cast it (any hashable: a voter hash).
    models :
        Model order of ``strengths`` (default: first appearance in the votes).
    bias :
        B, the partisan shift in logits.
    prior :
        Dirichlet pseudo-voters of (honest, blind, partisan).
    ridge :
        λ on θ (default: the batch board's, :func:`board_ridge`).
    tol, max_iter :
        Stop when no vote's weight moves by more than ``tol`` (weights are probabilities: a
        thousandth is plenty), or after ``max_iter`` steps.
    """
    vote_list = list(votes)
    who = list(voters)
    if len(who) != len(vote_list):
        raise InvalidInput(f"{len(who)} voters given for {len(vote_list)} votes")
    alpha = np.asarray(prior, dtype=np.float64)
    if alpha.shape != (3,) or not (np.isfinite(alpha).all() and (alpha > 0).all()):
        raise InvalidInput(f"prior must be three finite pseudo-counts > 0, got {prior!r}")
    if not (math.isfinite(bias) and bias > 0):
        raise InvalidInput(f"bias must be finite and > 0, got {bias!r}")
    lam = board_ridge() if ridge is None else float(ridge)
    index: dict[Hashable, int] = {}
    voter_index = np.fromiter((index.setdefault(v, len(index)) for v in who), np.int64, len(who))
    ids, rankings = rankings_from_votes(vote_list, models=models)
    n_voters, n = len(index), len(ids)
    counts = np.bincount(voter_index, minlength=n_voters).astype(np.int64)
    mix = alpha / alpha.sum()
    fit = VoterFit(
        tuple(index), counts, np.full(n_voters, 1.0 - mix[1]), np.full(n_voters, mix[1]),
        np.full(n_voters, -1, np.int64), np.zeros(n_voters, np.int64), np.zeros(n_voters),
        np.ones(len(vote_list)), voter_index, ids, np.zeros(n), (*mix.tolist(),), 0, True,
    )  # fmt: skip
    if not vote_list or n < 2:
        return fit
    padded = pad_rankings(rankings, n)
    data = _Data.build(padded, voter_index, n_voters, bias)
    weights = np.ones(len(vote_list))
    theta = padded.fit(weights, lam)
    iteration = 0
    while True:
        post = _e_step(data, theta, mix)
        iteration += 1
        converged = float(np.max(np.abs(post.weights - weights))) <= tol
        weights = post.weights
        counts_by_class = np.array([post.honest.sum(), post.blind.sum(), 0.0])
        counts_by_class[2] = n_voters - counts_by_class[:2].sum()
        mix = (counts_by_class + alpha) / (n_voters + alpha.sum())
        if converged or iteration >= max_iter:
            break
        theta = padded.fit(weights, lam, start=theta)
    suspect, sign_of, prob = _suspects(data, post)
    reliability = np.clip(
        1.0 - post.blind - np.bincount(data.key_voter, post.partisan_key, n_voters), 0.0, 1.0
    )
    for array in (reliability, post.blind, suspect, sign_of, prob, weights, theta):
        array.setflags(write=False)
    return VoterFit(
        fit.voters, counts, reliability, post.blind, suspect, sign_of, prob, weights,
        voter_index, ids, theta, (float(mix[0]), float(mix[1]), float(mix[2])), iteration,
        converged,
    )  # fmt: skip
