"""Build a live generator from the JSON config stored on a model.

Stored configs are data, never code: ``{"kind": "openai-images", "base_url": ..., "model": ...,
"api_key_env": "OPENAI_API_KEY", "size": "1024x1024"}``. Python callables are attached in-process
with :meth:`karena.services.live.LiveGenerators.register_generator`.
"""

from __future__ import annotations

from collections.abc import Mapping

from karena.errors import InvalidInput
from karena.generators.base import Generator

__all__ = ["build_generator", "check_generator_config"]

_KNOWN = {"openai-images": {"base_url", "model", "api_key_env", "size", "timeout"}}


def check_generator_config(config: Mapping[str, object]) -> None:
    """Raise InvalidInput unless ``config`` is a generator config we can build."""
    kind = config.get("kind")
    if kind not in _KNOWN:
        raise InvalidInput(f"generator kind must be one of {sorted(_KNOWN)}, got {kind!r}")
    unknown = set(config) - _KNOWN[str(kind)] - {"kind"}
    if unknown:
        raise InvalidInput(f"unknown generator fields: {sorted(unknown)}")
    for field in ("base_url", "model"):
        if not isinstance(config.get(field), str) or not config.get(field):
            raise InvalidInput(f"generator config needs a non-empty {field!r}")
    base_url = str(config["base_url"])
    if not base_url.startswith(("http://", "https://")):
        raise InvalidInput("generator base_url must be an http(s) URL")


def build_generator(config: Mapping[str, object], *, timeout: float) -> Generator:
    """The generator a stored config describes."""
    from karena.generators.openai_images import OpenAIImagesGenerator

    check_generator_config(config)
    t = config.get("timeout")
    return OpenAIImagesGenerator(
        base_url=str(config["base_url"]),
        model=str(config["model"]),
        api_key_env=str(config["api_key_env"]) if config.get("api_key_env") else None,
        size=str(config["size"]) if config.get("size") else None,
        timeout=float(t) if isinstance(t, int | float) else timeout,
    )
