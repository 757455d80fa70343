"""Fit each generating model's capability N(μ, σ²) by sequential Bayesian updates over pairs.

ArenaPO reconstruction, METHODS §3.2 step 1: the K-Sort Arena update (§1.2) with K = 2, run
over the pairwise preferences in a documented order (see :func:`fit_capabilities`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from karena.errors import InvalidInput
from karena.rating.models.thurstone import ThurstoneK
from karena.reward.pairs import PairSet

__all__ = ["Capabilities", "Traversal", "fit_capabilities"]

Traversal = Literal["data", "shuffled"]
#: Pairs per kernel call: progress is reported between chunks.
_CHUNK = 1 << 18


@dataclass(frozen=True, slots=True)
class Capabilities:
    """Fitted capabilities, one entry per model of the PairSet, with per-pass detail."""

    models: tuple[str, ...]
    mu: NDArray[np.float64]
    sigma: NDArray[np.float64]
    n_pairs: NDArray[np.int64]
    pass_mu: NDArray[np.float64]
    pass_sigma: NDArray[np.float64]
    beta: float
    traversal: Traversal

    @property
    def conservative(self) -> NDArray[np.float64]:
        """The leaderboard score μ − 3σ (K-Sort Arena Eq. 6)."""
        return self.mu - 3.0 * self.sigma

    def table(self) -> list[dict[str, object]]:
        """Rows sorted best first by μ: model, μ, σ, μ − 3σ, pairs seen."""
        order = np.argsort(-self.mu, kind="stable")
        return [
            {
                "rank": r + 1,
                "model": self.models[i],
                "mu": float(self.mu[i]),
                "sigma": float(self.sigma[i]),
                "conservative": float(self.conservative[i]),
                "pairs": int(self.n_pairs[i]),
            }
            for r, i in enumerate(order)
        ]


def fit_capabilities(
    pairs: PairSet,
    model: ThurstoneK | None = None,
    *,
    traversal: Traversal = "shuffled",
    passes: int = 4,
    rng: np.random.Generator | None = None,
    progress: Callable[[int], None] | None = None,
) -> Capabilities:
    r"""Fit (μ_m, σ_m) for every model by the §1.2 update with K = 2, pair by pair.

    Each pass starts every model at the prior N(μ0, σ0²) of ``model`` and applies
    :class:`~karena.rating.models.thurstone.ThurstoneK`'s pairwise update to the pairs in turn.

    Traversal order
    ---------------
    ``"data"``: one pass in the PairSet's row order (the order the loader documents; for arena
    votes that is vote order, i.e. time). ``passes`` must be 1.

    ``"shuffled"``: ``passes`` independent passes, each over a fresh permutation drawn from
    ``rng``. An online filter weights late pairs more (σ shrinks as it goes), so a single
    order biases the result; averaging passes removes most of that order dependence.

    Averaging: μ is the mean over passes; σ² is the moment-matched mixture variance
    mean(σ²) + var(μ), so disagreement between orders shows up as uncertainty.

    Parameters
    ----------
    pairs :
        The preferences. Self-pairs (both images from one model) are skipped by the fit.
    model :
        Update parameters (μ0, σ0, β, τ, draw margin, γ, κ); ``ThurstoneK()`` by default.
    rng :
        Required for ``"shuffled"``.
    progress :
        Called with the number of pair updates just done, for progress bars.
    """
    thurstone = model if model is not None else ThurstoneK()
    if passes < 1:
        raise InvalidInput(f"passes must be >= 1, got {passes}")
    if traversal == "data" and passes != 1:
        raise InvalidInput("a data-order traversal is deterministic: use passes=1")
    if traversal == "shuffled" and rng is None:
        raise InvalidInput("shuffled passes need an explicit numpy Generator (rng)")
    if traversal not in ("data", "shuffled"):
        raise InvalidInput(f"unknown traversal {traversal!r}; use 'data' or 'shuffled'")
    k = pairs.n_models
    # Self-pairs (both images from one model) say nothing about capabilities: skip them.
    informative = np.flatnonzero(pairs.winner != pairs.loser)
    models = np.stack([pairs.winner, pairs.loser], axis=1).astype(np.int32)
    ranks = np.where(pairs.tie[:, None], 1, np.array([1, 2])).astype(np.int32)
    pass_mu = np.empty((passes, k))
    pass_sigma = np.empty((passes, k))
    for p in range(passes):
        if traversal == "data":
            order = informative
        else:
            assert rng is not None
            order = informative[rng.permutation(len(informative))]
        mu = np.full(k, thurstone.mu0)
        sigma = np.full(k, thurstone.sigma0)
        for start in range(0, len(order), _CHUNK):
            chunk = order[start : start + _CHUNK]
            thurstone.replay_arrays(mu, sigma, models[chunk], ranks[chunk])
            if progress is not None:
                progress(len(chunk))
        pass_mu[p], pass_sigma[p] = mu, sigma
    mean_mu = pass_mu.mean(axis=0)
    mix_var = (pass_sigma**2).mean(axis=0) + pass_mu.var(axis=0)
    counts = np.bincount(pairs.winner[informative], minlength=k) + np.bincount(
        pairs.loser[informative], minlength=k
    )
    return Capabilities(
        models=pairs.models,
        mu=mean_mu,
        sigma=np.sqrt(mix_var),
        n_pairs=counts.astype(np.int64),
        pass_mu=pass_mu,
        pass_sigma=pass_sigma,
        beta=thurstone.beta,
        traversal=traversal,
    )
