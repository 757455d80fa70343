"""Every online rating model, by the name arenas, settings and the CLI use.

Adding a rating model: write ``rating/models/<name>.py`` (a frozen dataclass subclassing
:class:`~karena.rating.base.OnlineRatingModel`) and add one line to :data:`RATING_MODELS`.
docs/ratings.md, "Adding a rating model", walks through it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

from karena.errors import ConfigError
from karena.rating.base import OnlineRatingModel
from karena.rating.models.elo import Elo
from karena.rating.models.factor_graph import FactorGraphFFA
from karena.rating.models.thurstone import ThurstoneK

__all__ = ["RATING_MODELS", "make_rating_model", "rating_model"]

#: Every registered online rating model, by the name used in settings, storage and the docs.
RATING_MODELS: dict[str, Callable[..., OnlineRatingModel]] = {
    "thurstone": ThurstoneK,
    "factor-graph": FactorGraphFFA,
    "elo": Elo,
}


def make_rating_model(name: str, **params: Any) -> OnlineRatingModel:
    """The rating model called ``name``, configured with ``params``.

    Raises
    ------
    ConfigError
        For an unknown name or parameters the model does not take.
    """
    factory = RATING_MODELS.get(name)
    if factory is None:
        raise ConfigError(
            f"unknown rating model {name!r}; choose one of {', '.join(sorted(RATING_MODELS))}",
            detail={"known": sorted(RATING_MODELS)},
        )
    try:
        return factory(**params)
    except TypeError as exc:
        raise ConfigError(f"bad parameters for rating model {name!r}: {exc}") from exc


@functools.lru_cache(maxsize=64)
def _cached(name: str, params_json: str) -> OnlineRatingModel:
    return make_rating_model(name, **json.loads(params_json))


def rating_model(name: str, params: Mapping[str, Any] | None = None) -> OnlineRatingModel:
    """:func:`make_rating_model` for stored configurations, cached (models are immutable)."""
    return _cached(name, json.dumps(dict(params or {}), sort_keys=True))
