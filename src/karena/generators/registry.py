"""Build a live generator from the JSON config stored on a model.

Stored configs are data, never code. Each names its ``kind`` and that kind's fields:

- ``openai-images``: ``base_url``, ``model``, ``api_key_env``, ``size``, ``timeout``;
- ``replicate``: ``base_url``, ``model`` (``owner/name``), ``version``, ``input``, ``api_key_env``
  (default ``REPLICATE_API_TOKEN``), ``timeout``, ``poll_interval``, ``retries``;
- ``fal``: ``base_url``, ``model``, ``input``, ``api_key_env`` (default ``FAL_KEY``),
  ``timeout``, ``poll_interval``, ``retries``;
- ``hf-inference``: ``base_url``, ``model``, ``parameters``, ``api_key_env`` (default
  ``HF_TOKEN``), ``timeout``, ``retries``;
- ``diffusers``: ``model`` (a pipeline folder or cached id), ``steps``, ``guidance_scale``,
  ``width``, ``height``, ``device``, ``seed``, ``allow_download``;
- ``demo``: ``renderer``, one of the demo arena's shape renderers (no network, instant).

``api_key_env`` is the *name* of an environment variable; the key is read from it at call time.
Python callables are attached in-process with
:meth:`karena.services.live.LiveGenerators.register_generator`.
"""

from __future__ import annotations

from collections.abc import Mapping

from karena.errors import InvalidInput
from karena.generators.base import Generator
from karena.generators.http import HttpPolicy

__all__ = ["GENERATOR_KINDS", "build_generator", "check_generator_config"]

_HTTP = {"base_url", "model", "api_key_env", "timeout", "retries"}
GENERATOR_KINDS: dict[str, frozenset[str]] = {
    "openai-images": frozenset({"base_url", "model", "api_key_env", "size", "timeout"}),
    "replicate": frozenset(_HTTP | {"version", "input", "poll_interval"}),
    "fal": frozenset(_HTTP | {"input", "poll_interval"}),
    "hf-inference": frozenset(_HTTP | {"parameters"}),
    "diffusers": frozenset(
        {"model", "steps", "guidance_scale", "width", "height", "device", "seed"}
        | {"allow_download"}
    ),
    "demo": frozenset({"renderer"}),
}
_NUMBERS = {"timeout", "poll_interval", "guidance_scale"}
_INTEGERS = {"retries", "steps", "width", "height", "seed"}
_OBJECTS = {"input", "parameters"}


def check_generator_config(config: Mapping[str, object]) -> None:
    """Raise InvalidInput unless ``config`` is a generator config we can build."""
    kind = config.get("kind")
    if kind not in GENERATOR_KINDS:
        raise InvalidInput(f"generator kind must be one of {sorted(GENERATOR_KINDS)}, got {kind!r}")
    allowed = GENERATOR_KINDS[str(kind)]
    unknown = set(config) - allowed - {"kind"}
    if unknown:
        raise InvalidInput(f"unknown generator fields for {kind}: {sorted(unknown)}")
    required: tuple[str, ...] = ("renderer",) if kind == "demo" else ("model",)
    if "base_url" in allowed:
        required += ("base_url",)
    for name in required:
        if not isinstance(config.get(name), str) or not config.get(name):
            raise InvalidInput(f"generator config needs a non-empty {name!r}")
    if "base_url" in allowed and not str(config["base_url"]).startswith(("http://", "https://")):
        raise InvalidInput("generator base_url must be an http(s) URL")
    if kind == "demo":  # checked when stored: a bad name found later would stop every run
        from karena.generators.demo import DEMO_RENDERERS

        names = [r.name for r in DEMO_RENDERERS]
        if config["renderer"] not in names:
            raise InvalidInput(f"no demo renderer named {config['renderer']!r}; one of {names}")
    for name, value in config.items():
        bad = (
            (name in _NUMBERS and (not isinstance(value, int | float) or isinstance(value, bool)))
            or (name in _INTEGERS and (not isinstance(value, int) or isinstance(value, bool)))
            or (name in _OBJECTS and not isinstance(value, dict))
            or (name in ("api_key_env", "version", "size", "device") and not isinstance(value, str))
        )
        if bad or (name in _NUMBERS | _INTEGERS and isinstance(value, int | float) and value < 0):
            raise InvalidInput(f"generator field {name!r} has a bad value: {value!r}")


def _num(c: Mapping[str, object], name: str, default: float) -> float:
    value = c.get(name, default)
    return float(value) if isinstance(value, int | float) else default


def _int(c: Mapping[str, object], name: str) -> int | None:
    value = c.get(name)
    return int(value) if isinstance(value, int) else None


def _obj(c: Mapping[str, object], name: str) -> dict[str, object]:
    value = c.get(name)
    return dict(value) if isinstance(value, dict) else {}


def build_generator(config: Mapping[str, object], *, timeout: float) -> Generator:
    """The generator a stored config describes (``timeout`` unless the config sets one).

    Without ``api_key_env`` no key is sent; remote queues (replicate, fal) wait at least
    300 s for a result unless the config sets its own ``timeout``.
    """
    check_generator_config(config)
    c = dict(config)
    kind = str(c["kind"])
    t = _num(c, "timeout", timeout)
    key_env = str(c["api_key_env"]) if c.get("api_key_env") else None
    retries = _int(c, "retries")
    policy = HttpPolicy(timeout=t, retries=2 if retries is None else retries)
    wait = t if "timeout" in c else max(t, 300.0)
    if kind == "openai-images":
        from karena.generators.openai_images import OpenAIImagesGenerator

        size = str(c["size"]) if c.get("size") else None
        return OpenAIImagesGenerator(
            str(c["base_url"]), str(c["model"]), api_key_env=key_env, size=size, timeout=t
        )
    if kind == "replicate":
        from karena.generators.replicate import ReplicateGenerator

        version = str(c["version"]) if c.get("version") else None
        return ReplicateGenerator(
            str(c["base_url"]), str(c["model"]), api_key_env=key_env, version=version,
            inputs=_obj(c, "input"), timeout=wait, poll_interval=_num(c, "poll_interval", 1.0),
            policy=policy,
        )  # fmt: skip
    if kind == "fal":
        from karena.generators.fal import FalGenerator

        return FalGenerator(
            str(c["base_url"]), str(c["model"]), api_key_env=key_env, inputs=_obj(c, "input"),
            timeout=wait, poll_interval=_num(c, "poll_interval", 1.0), policy=policy,
        )  # fmt: skip
    if kind == "hf-inference":
        from karena.generators.hf_inference import HFInferenceGenerator

        return HFInferenceGenerator(
            str(c["base_url"]), str(c["model"]), api_key_env=key_env,
            parameters=_obj(c, "parameters"), policy=policy,
        )  # fmt: skip
    if kind == "diffusers":
        from karena.generators.diffusers_local import DiffusersGenerator

        guidance = c.get("guidance_scale")
        return DiffusersGenerator(
            str(c["model"]), steps=_int(c, "steps") or 25,
            guidance_scale=float(guidance) if isinstance(guidance, int | float) else None,
            width=_int(c, "width"), height=_int(c, "height"), device=str(c.get("device", "cpu")),
            seed=_int(c, "seed"), allow_download=bool(c.get("allow_download", False)),
        )  # fmt: skip
    from karena.generators.demo import get_renderer

    return get_renderer(str(c["renderer"]))
