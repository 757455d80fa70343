"""Find rating models and matchmakers by the names arenas store ("thurstone", "ucb", ...).

Each rating model declares a class attribute ``name``; this module scans the known modules for a
class with that name. Matchmakers come from :func:`karena.matchmaking.registry.make_matchmaker`.
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from karena.errors import ConfigError
from karena.matchmaking.base import Matchmaker
from karena.matchmaking.registry import make_matchmaker
from karena.rating.base import OnlineRatingModel

__all__ = ["matchmaker", "rating_model"]

RATING_MODULES = (
    "karena.rating.thurstone",
    "karena.rating.factor_graph",
    "karena.rating.elo",
    "karena.rating.bradley_terry",
)


def _classes_named(modules: tuple[str, ...], name: str, base: type | None) -> list[type]:
    found: list[type] = []
    for module_name in modules:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue  # an algorithm still being written by someone else
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or inspect.isabstract(cls):
                continue
            if base is not None and not issubclass(cls, base):
                continue
            default = getattr(cls, "name", None)
            # frozen slotted dataclasses keep class-level defaults in __dataclass_fields__.
            fields = getattr(cls, "__dataclass_fields__", {})
            if "name" in fields:
                default = fields["name"].default
            if default == name:
                found.append(cls)
        if found:
            break  # stop before importing slower modules that cannot hold a second match
    return found


@lru_cache(maxsize=64)
def _rating_model(name: str, params_json: str) -> OnlineRatingModel:
    classes = _classes_named(RATING_MODULES, name, OnlineRatingModel)
    if not classes:
        raise ConfigError(f"unknown rating model {name!r}", detail={"known": known_rating_models()})
    try:
        model: OnlineRatingModel = classes[0](**json.loads(params_json))
    except TypeError as exc:
        raise ConfigError(f"bad parameters for rating model {name!r}: {exc}") from exc
    return model


def rating_model(name: str, params: Mapping[str, Any] | None = None) -> OnlineRatingModel:
    """The online rating model an arena names, built with its stored parameters (cached)."""
    return _rating_model(name, json.dumps(dict(params or {}), sort_keys=True))


def known_rating_models() -> list[str]:
    """Names of every rating model that can be loaded now."""
    names: set[str] = set()
    for module_name in RATING_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (
                cls.__module__ == module.__name__
                and issubclass(cls, OnlineRatingModel)
                and not inspect.isabstract(cls)
            ):
                fields = getattr(cls, "__dataclass_fields__", {})
                names.add(str(fields["name"].default if "name" in fields else cls.name))
    return sorted(names)


@lru_cache(maxsize=64)
def _matchmaker(name: str, params_json: str) -> Matchmaker:
    return make_matchmaker(name, **json.loads(params_json))


def matchmaker(name: str, params: Mapping[str, Any] | None = None) -> Matchmaker:
    """The matchmaker an arena names, built with its stored parameters (cached)."""
    return _matchmaker(name, json.dumps(dict(params or {}), sort_keys=True))
