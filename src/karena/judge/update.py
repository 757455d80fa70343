"""The (K+1)-wise Bayesian update of the new model with the K existing models held fixed.

METHODS §2.2 step 4: rate the judge's (K+1)-wise ranking and keep only the new model's (μ̂, σ̂).
Only the K pairs that involve the new model say anything about it (the existing models are
fixed), so every strategy below consumes exactly those K pairwise facts.

Both strategies call the rating model's own ``update`` (its one home, ``rating/models/``); nothing
here repeats its maths. The arena's model is used as configured: the default
``ThurstoneK()`` (calibrated weighting) or the paper's ``ThurstoneK(weighting="paper",
gamma="paper")``. With K = 2, as in ``sequential``, the two forms are the same exact one-pair
update.

Strategies:

``sequential`` (default)
    The K pairs "new vs existing k" are applied one after another as K = 2 ThurstoneK updates,
    each starting from the previous posterior (assumed-density filtering), in the judge's order
    of the existing outputs. Each pair then sees the variance the previous pairs left, which is
    what a Bayesian update of independent facts should do.
``joint``
    One simultaneous (K+1)-wise update of all outputs. With the paper's form (Eqs. 7–10 as
    written) and a fresh model (σ = 25/3) against K = 4 well-known models, the K variance terms
    add up to more than σ² and σ collapses to its floor on the first run (σ̂ ≈ 0.08). The
    calibrated form adds the pairs as weighted natural parameters instead, so σ shrinks but never
    collapses (μ̂ = 32.1, σ̂ = 5.4 on a first place against μ = 20, 22, 24, 26, close to the
    factor graph's 32.1 and 5.8); docs/judge.md compares the two in the loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from karena.errors import InvalidInput
from karena.rating.base import OnlineRatingModel
from karena.rating.types import Ranking, Rating

__all__ = ["UpdateKind", "update_new_model"]

UpdateKind = Literal["sequential", "joint"]


def update_new_model(
    model: OnlineRatingModel,
    existing: Sequence[Rating],
    new: Rating,
    ranks: Sequence[int],
    kind: UpdateKind = "sequential",
) -> Rating:
    """The new model's posterior (μ̂, σ̂) after one judged (K+1)-wise ranking.

    Parameters
    ----------
    model :
        The leaderboard's rating model; its ``update`` does the maths.
    existing :
        The K existing models' fixed ratings, in instance order.
    new :
        The new model's current rating.
    ranks :
        K+1 ranks, 1 = best; ``ranks[:K]`` are the existing outputs', ``ranks[K]`` the new one's.
    kind :
        ``"sequential"`` or ``"joint"`` (see the module docstring).
    """
    k = len(existing)
    if len(ranks) != k + 1:
        raise InvalidInput(f"expected {k + 1} ranks, got {len(ranks)}")
    if kind == "joint":
        return model.update([*existing, new], Ranking(tuple(int(r) for r in ranks)))[-1]
    if kind != "sequential":
        raise InvalidInput(f"unknown update kind {kind!r}")
    rating = new
    new_rank = int(ranks[k])
    for idx in sorted(range(k), key=lambda i: ranks[i]):
        own = int(ranks[idx])
        pair = (1, 1) if own == new_rank else ((1, 2) if own < new_rank else (2, 1))
        rating = model.update([existing[idx], rating], Ranking(pair))[1]
    return rating
