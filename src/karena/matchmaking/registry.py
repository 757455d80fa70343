"""Build a matchmaker from its settings name (``Settings.matchmaker``) and keyword parameters."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

from karena.errors import ConfigError
from karena.matchmaking.base import ArrayMatchmaker
from karena.matchmaking.paired import PairedMatchmaker
from karena.matchmaking.ucb import SkillOnlyMatchmaker, UCBMatchmaker
from karena.matchmaking.uncertainty import UncertainWindowMatchmaker
from karena.matchmaking.uniform import RandomMatchmaker

__all__ = ["MATCHMAKERS", "make_matchmaker", "matchmaker"]

#: Every registered matchmaker, by the name used in settings, the CLI and the docs.
MATCHMAKERS: dict[str, Callable[..., ArrayMatchmaker]] = {
    "ucb": UCBMatchmaker,
    "random": RandomMatchmaker,
    "skill": SkillOnlyMatchmaker,
    "window": UncertainWindowMatchmaker,
    # The production default: windows over a Thompson-sampled ranking. Best per vote on the
    # real-scale scenario and better than the paper's UCB on its own protocol (docs/simulation.md).
    "window-ts": functools.partial(UncertainWindowMatchmaker, order="thompson"),
}


def make_matchmaker(name: str, **params: Any) -> ArrayMatchmaker:
    """The matchmaker called ``name``, configured with ``params``.

    Every matchmaker takes one more parameter, ``paired`` (a share in [0, 1]): paired
    evaluation of variant families, the matchmaker wrapped in a
    :class:`~karena.matchmaking.paired.PairedMatchmaker` with that share.

    Raises
    ------
    ConfigError
        For an unknown name or parameters the matchmaker does not take.
    """
    factory = MATCHMAKERS.get(name)
    if factory is None:
        raise ConfigError(
            f"unknown matchmaker {name!r}; choose one of {', '.join(sorted(MATCHMAKERS))}"
        )
    share = params.pop("paired", None)
    if share is not None and (
        isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1
    ):
        raise ConfigError(f"matchmaker option 'paired' must be a share in [0, 1], got {share!r}")
    try:
        chosen = factory(**params)
    except TypeError as exc:
        raise ConfigError(f"bad parameters for matchmaker {name!r}: {exc}") from exc
    return chosen if share is None else PairedMatchmaker(chosen, share=float(share))


@functools.lru_cache(maxsize=64)
def _cached(name: str, params_json: str) -> ArrayMatchmaker:
    return make_matchmaker(name, **json.loads(params_json))


def matchmaker(name: str, params: Mapping[str, Any] | None = None) -> ArrayMatchmaker:
    """:func:`make_matchmaker` for stored configurations, cached (matchmakers are immutable)."""
    return _cached(name, json.dumps(dict(params or {}), sort_keys=True))
