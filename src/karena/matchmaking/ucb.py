"""K-Sort Arena's matchmaking (paper §3.2, Eqs. 11–14) and its exploitation-only ablation."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from karena.errors import InvalidInput
from karena.matchmaking.base import (
    ArrayMatchmaker,
    FloatArray,
    IntArray,
    MatchArrays,
    least_compared_pivot,
    top_by_score,
)

__all__ = ["SkillOnlyMatchmaker", "UCBMatchmaker", "exploration_bonus"]

#: Score given to pairs that have never met: above every finite UCB score.
UNMET = 1e12


def exploration_bonus(
    n_total: FloatArray, n_pair: FloatArray, alpha: float, variant: Literal["paper", "deployment"]
) -> FloatArray:
    r"""The UCB1 exploration term of K-Sort Arena Eq. 12, for pairs that have met.

    .. math:: \alpha \sqrt{c \ln n / n_{iq}}

    with c = 1 (paper) or c = 2 (deployment).

    ``n_total`` ≤ 1 gives ln n ≤ 0 and a bonus of 0 (no evidence yet to explore against).
    ``n_pair`` must be ≥ 1; unmet pairs are handled by the caller.
    """
    c = 1.0 if variant == "paper" else 2.0
    log_n = np.log(np.maximum(n_total, 1.0))
    return alpha * np.sqrt(c * log_n / np.maximum(n_pair, 1.0))


@dataclass(frozen=True, slots=True)
class UCBMatchmaker(ArrayMatchmaker):
    r"""Pivot plus UCB opponents, as K-Sort Arena §3.2 (METHODS §1.5).

    The pivot p is the least-compared idle, enabled model. The K−1 opponents maximise

    .. math:: U(p, q) = -|S_p - S_q| + \alpha \sqrt{c \ln n / n_{pq}}, \qquad S = \mu - 3\sigma

    where n = Σ_{i<q} n_iq is the total number of pairwise comparisons so far.

    Parameters
    ----------
    alpha :
        Exploration weight α (paper: 1).
    variant :
        ``"paper"``: √(ln n / n_pq); ``"deployment"``: √(2 ln n / n_pq), the shipped code.
    unmet_first :
        The bonus is infinite when n_pq = 0. With ``True`` (default) unmet opponents come first,
        ordered among themselves by the skill term, then by ``rng``.

    Notes
    -----
    Busy models may be opponents (a model can appear in two concurrent battles); only the pivot
    must be idle. Disabled models never appear. Exact ties are broken uniformly by ``rng``.
    """

    alpha: float = 1.0
    variant: Literal["paper", "deployment"] = "paper"
    unmet_first: bool = True
    name: str = "ucb"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.alpha) and self.alpha >= 0.0):
            raise InvalidInput(f"alpha must be finite and >= 0, got {self.alpha!r}")
        if self.variant not in ("paper", "deployment"):
            raise InvalidInput(f"variant must be 'paper' or 'deployment', got {self.variant!r}")

    def opponent_scores(self, arrays: MatchArrays, pivot: IntArray) -> FloatArray:
        """U(p, q) for every q (row per arena); unmet pairs score :data:`UNMET` + skill term."""
        rows = np.arange(pivot.shape[0])
        score_all = arrays.conservative
        skill = -np.abs(score_all - score_all[rows, pivot][:, None])
        n_pair = arrays.pair_counts.row(pivot).astype(np.float64)
        n_total = arrays.pair_counts.total.astype(np.float64)
        bonus = exploration_bonus(n_total[:, None], n_pair, self.alpha, self.variant)
        unmet = n_pair <= 0.0
        if self.unmet_first:
            return np.where(unmet, UNMET + skill, skill + bonus)
        return np.where(unmet, skill, skill + bonus)

    def _select_batch(self, arrays: MatchArrays, k: int, rng: np.random.Generator) -> IntArray:
        pivot = least_compared_pivot(arrays, rng)
        score = self.opponent_scores(arrays, pivot)
        exclude = arrays.disabled.copy()
        exclude[np.arange(pivot.shape[0]), pivot] = True
        opponents = top_by_score(score, exclude, k - 1, rng)
        return np.concatenate([pivot[:, None], opponents], axis=1)


@dataclass(frozen=True, slots=True)
class SkillOnlyMatchmaker(ArrayMatchmaker):
    r"""The paper's exploitation-only ablation (Fig. 5): pivot, then the K−1 closest in S.

    U(p, q) = −|S_p − S_q|, with no exploration term and no preference for unmet pairs.
    """

    name: str = "skill"

    def _select_batch(self, arrays: MatchArrays, k: int, rng: np.random.Generator) -> IntArray:
        pivot = least_compared_pivot(arrays, rng)
        rows = np.arange(pivot.shape[0])
        score_all = arrays.conservative
        skill = -np.abs(score_all - score_all[rows, pivot][:, None])
        exclude = arrays.disabled.copy()
        exclude[rows, pivot] = True
        opponents = top_by_score(skill, exclude, k - 1, rng)
        return np.concatenate([pivot[:, None], opponents], axis=1)
