"""Build a matchmaker from its settings name (``Settings.matchmaker``) and keyword parameters."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

from karena.errors import ConfigError
from karena.matchmaking.base import ArrayMatchmaker
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
    try:
        return factory(**params)
    except TypeError as exc:
        raise ConfigError(f"bad parameters for matchmaker {name!r}: {exc}") from exc


@functools.lru_cache(maxsize=64)
def _cached(name: str, params_json: str) -> ArrayMatchmaker:
    return make_matchmaker(name, **json.loads(params_json))


def matchmaker(name: str, params: Mapping[str, Any] | None = None) -> ArrayMatchmaker:
    """:func:`make_matchmaker` for stored configurations, cached (matchmakers are immutable)."""
    return _cached(name, json.dumps(dict(params or {}), sort_keys=True))
