"""Beyond the paper: matchmaking that targets the most uncertain part of the current ranking."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import special

from karena.errors import InvalidInput
from karena.matchmaking.base import ArrayMatchmaker, FloatArray, IntArray, MatchArrays

__all__ = ["UncertainWindowMatchmaker", "misorder_probability"]


def misorder_probability(
    mu_a: FloatArray, var_a: FloatArray, mu_b: FloatArray, var_b: FloatArray
) -> FloatArray:
    r"""P(the true order of a and b differs from their order by μ) under the Gaussian beliefs.

    .. math:: P = \Phi\big(-|\mu_a - \mu_b| / \sqrt{\sigma_a^2 + \sigma_b^2}\big)

    This is the posterior probability that the leaderboard has this pair the wrong way round
    (capabilities θ ~ N(μ, σ²), K-Sort Arena Eq. 1); β does not enter, because β is noise in
    one battle, not uncertainty about the ranking.
    """
    scale = np.sqrt(np.maximum(var_a + var_b, 1e-300))
    return np.asarray(special.ndtr(-np.abs(mu_a - mu_b) / scale), dtype=np.float64)


def _stable_order(key: FloatArray) -> IntArray:
    """``np.argsort(key, axis=1, kind="stable")`` where it matters, at the default sort's speed.

    numpy's default (SIMD) sort is several times faster than its stable sort at 10⁴ models and
    gives the same order wherever the keys are distinct. Where finite keys tie (models at the
    prior), each run of equal keys is put back in index order by a second default sort of the
    integers run·n + index: exactly the stable order, still about twice as fast. Ties among
    +inf keys alone (disabled models, sorted last) are left in any order: no valid window reaches
    them, and the window sums of valid windows never include their pairs.
    """
    s, n = key.shape
    order = np.argsort(key, axis=1)
    ranked = np.take_along_axis(key, order, axis=1)
    tied = ranked[:, 1:] == ranked[:, :-1]
    if (tied & np.isfinite(ranked[:, 1:])).any():
        run = np.zeros((s, n), dtype=np.int64)
        np.cumsum(~tied, axis=1, out=run[:, 1:])
        order = np.take_along_axis(order, np.argsort(run * n + order, axis=1), axis=1)
    return np.asarray(order, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class UncertainWindowMatchmaker(ArrayMatchmaker):
    r"""Show the K adjacent models whose relative order is least certain.

    1. Order the enabled models by μ (or, with ``order="thompson"``, by one draw
       θ_i ~ N(μ_i, σ_i²) per model: Thompson sampling over rankings).
    2. Score each window of K consecutive models in that order by the expected number of
       misordered pairs inside it plus a bonus for rarely-met pairs,
       Σ_{a<b in window} [P_ab + explore / (1 + n_ab)] (:func:`misorder_probability`).
    3. Show the best window (ties at random with ``rng``). Column 0 is its least-compared idle
       member (the "pivot" slot the server expects).

    A K-wise ranking of adjacent models resolves up to C(K,2) uncertain adjacent-ish pairs at
    once, while a K-set spread across the board (as UCB's exploration produces) spends most of
    its pairs on orders that are already certain. Windows move to wherever the leaderboard is
    still unsure, so a newcomer (large σ) is compared with its current neighbours at once and
    bisects its way to its true place.

    Parameters
    ----------
    order :
        ``"mean"`` (default): windows over the order by μ; ``"thompson"``: over a sampled
        ranking, which keeps exploring pairs the posterior has settled wrongly after a noisy vote.
    explore :
        Weight of the direct-meeting bonus explore / (1 + n_ab) added to every pair's P_ab
        (0.3): pairs ordered only by transitivity still get a direct comparison.
    adjacent_only :
        Score windows by their adjacent pairs only (an ablation; default False).
    """

    order: Literal["mean", "thompson"] = "mean"
    explore: float = 0.3
    adjacent_only: bool = False
    name: str = "window"

    def __post_init__(self) -> None:
        if self.order not in ("mean", "thompson"):
            raise InvalidInput(f"order must be 'mean' or 'thompson', got {self.order!r}")
        if not (np.isfinite(self.explore) and self.explore >= 0.0):
            raise InvalidInput(f"explore must be finite and >= 0, got {self.explore!r}")

    def _select_batch(self, arrays: MatchArrays, k: int, rng: np.random.Generator) -> IntArray:
        s, n = arrays.shape
        rows = np.arange(s)[:, None]
        var = arrays.sigma * arrays.sigma
        key = arrays.mu
        if self.order == "thompson":
            key = arrays.mu + arrays.sigma * rng.standard_normal((s, n))
        # Disabled models sort to the end and are cut off; every row has the same count of
        # enabled models only if the masks agree, so pad with -inf and mask windows.
        key = np.where(arrays.disabled, -np.inf, key)
        order = _stable_order(-key)
        enabled = (~arrays.disabled).sum(axis=1)
        mu_o = arrays.mu[rows, order]
        var_o = var[rows, order]
        windows = n - k + 1
        score = np.zeros((s, windows))
        gaps = [1] if self.adjacent_only else list(range(1, k))
        if self.explore > 0.0:
            # n_ab of every pair (j, j+gap) at once: one pass over the (sparse) counts.
            met = np.split(
                arrays.pair_counts.lookup(
                    np.concatenate([order[:, :-gap] for gap in gaps], axis=1),
                    np.concatenate([order[:, gap:] for gap in gaps], axis=1),
                ),
                np.cumsum([n - gap for gap in gaps])[:-1],
                axis=1,
            )
        for i, gap in enumerate(gaps):
            p = misorder_probability(mu_o[:, :-gap], var_o[:, :-gap], mu_o[:, gap:], var_o[:, gap:])
            if self.explore > 0.0:
                p = p + self.explore / (1.0 + met[i])
            # Pair (j, j+gap) lies in windows j−(k−1−gap) … j: add it with a sliding sum.
            width = k - gap
            csum = np.concatenate([np.zeros((s, 1)), np.cumsum(p, axis=1)], axis=1)
            score += csum[:, width : width + windows] - csum[:, :windows]
        valid = np.arange(windows)[None, :] + k <= enabled[:, None]
        # Exact ties (e.g. the prior, where every window scores the same) broken at random.
        score = np.where(valid, score + 1e-12 * rng.random((s, windows)), -np.inf)
        start = np.argmax(score, axis=1)
        members = order[rows, start[:, None] + np.arange(k)[None, :]]
        # Put the least-compared idle member first (ties by rng), so column 0 is a valid pivot.
        counts = arrays.pair_counts.totals[rows, members].astype(np.float64)
        idle = ~(arrays.busy[rows, members] | arrays.disabled[rows, members])
        pivot_key = np.where(idle, counts + 0.5 * rng.random(members.shape), np.inf)
        first = np.argmin(pivot_key, axis=1)
        perm = np.argsort(np.arange(k)[None, :] != first[:, None], axis=1, kind="stable")
        return np.asarray(members[rows, perm], dtype=np.int64)
