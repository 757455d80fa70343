"""``replay(votes, model)``: rebuild ratings from a vote log, compiled where possible."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping

from karena.rating.base import OnlineRatingModel
from karena.rating.elo import Elo
from karena.rating.thurstone import ThurstoneK
from karena.rating.types import Rating, Vote
from karena.rating.vote_arrays import encode_votes, initial_arrays

__all__ = ["has_fast_path", "replay"]


def has_fast_path(model: OnlineRatingModel) -> bool:
    """True for the models :mod:`karena.rating.fast` compiles (exact classes, not subclasses)."""
    return type(model) in (ThurstoneK, Elo)


def replay(
    votes: Iterable[Vote],
    model: OnlineRatingModel,
    initial: Mapping[Hashable, Rating] | None = None,
    *,
    fast: bool = True,
) -> dict[Hashable, Rating]:
    """Ratings after replaying ``votes`` in log order through ``model``.

    Uses the numba kernels for :class:`ThurstoneK` and :class:`Elo` (equal to the reference
    :meth:`OnlineRatingModel.replay` to ~1e-12) and the reference otherwise, or when
    ``fast=False``. Either way the same log always gives the same ratings. Models that appear
    only in ``initial`` are returned unchanged.
    """
    if not (fast and has_fast_path(model)):
        return model.replay(votes, initial)
    from karena.rating import fast as kernels  # numba is imported only on this path

    start = dict(initial) if initial is not None else {}
    arrays = encode_votes(votes, ids=tuple(start))
    mu, sigma = initial_arrays(arrays.ids, model.initial(), start)
    if isinstance(model, ThurstoneK):
        params = kernels.thurstone_params(model)
        kernels.thurstone_replay_inplace(mu, sigma, arrays.models, arrays.ranks, params)
    else:
        assert isinstance(model, Elo)
        params = kernels.elo_params(model)
        kernels.elo_replay_inplace(mu, arrays.models, arrays.ranks, params)
        voted = arrays.models[arrays.models >= 0]
        sigma[voted] = 0.0  # as Elo._update: a point rating once a model has played
    return {
        model_id: Rating(float(mu[i]), float(sigma[i])) for i, model_id in enumerate(arrays.ids)
    }
