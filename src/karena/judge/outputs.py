"""Where the new model's outputs come from: a folder keyed by prompt, or a live generator."""

from __future__ import annotations

import hashlib
import importlib
import io
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from karena.errors import InvalidInput, KarenaError, NotFound, UpstreamError
from karena.judge.media import Media
from karena.judge.reference import Instance

__all__ = ["CallableOutputs", "FolderOutputs", "OutputSource", "load_callable", "prompt_key"]

_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".mp4", ".webm")


def prompt_key(prompt: str) -> str:
    """The file stem a pre-generated output for ``prompt`` may use: sha256 of the text, 16 hex."""
    return hashlib.sha256(prompt.strip().encode("utf-8")).hexdigest()[:16]


class OutputSource(Protocol):
    """Something that yields the new model's output for an instance's prompt."""

    def has(self, instance: Instance) -> bool:
        """True when an output can be produced for this instance without generating blindly."""

    def output_for(self, instance: Instance) -> Media:
        """The new model's output for ``instance.prompt``."""


class FolderOutputs:
    """Pre-generated outputs in a folder, found by ``manifest.json`` (``{prompt: file}`` or
    ``[{"prompt", "file"}]``), else by file stem: :func:`prompt_key` of the prompt, or the
    instance id.
    """

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise NotFound(f"outputs folder {root} does not exist")
        self.root = root
        self._by_prompt: dict[str, Path] = {}
        manifest = root / "manifest.json"
        if manifest.is_file():
            self._by_prompt = self._read_manifest(manifest)
        self._by_stem: dict[str, Path] = {}
        for p in sorted(root.iterdir()):
            if p.is_file() and p.suffix.lower() in _SUFFIXES:
                self._by_stem.setdefault(p.stem, p)

    def _read_manifest(self, path: Path) -> dict[str, Path]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InvalidInput(f"cannot read {path}: {exc}") from exc
        items: list[tuple[object, object]]
        if isinstance(data, Mapping):
            items = list(data.items())
        elif isinstance(data, list):
            items = [(d.get("prompt"), d.get("file")) for d in data if isinstance(d, Mapping)]
        else:
            raise InvalidInput(f"{path} must map prompts to files")
        out: dict[str, Path] = {}
        root = self.root.resolve()
        for prompt, file in items:
            if not isinstance(prompt, str) or not isinstance(file, str):
                raise InvalidInput(f"{path}: every entry needs a prompt and a file name")
            target = (self.root / file).resolve()
            if not target.is_relative_to(root):
                raise InvalidInput(f"{path}: {file!r} points outside the outputs folder")
            out[prompt.strip()] = target
        return out

    def _path(self, instance: Instance) -> Path | None:
        hit = self._by_prompt.get(instance.prompt.strip())
        if hit is not None:
            return hit
        return self._by_stem.get(prompt_key(instance.prompt), self._by_stem.get(instance.id))

    def has(self, instance: Instance) -> bool:
        path = self._path(instance)
        return path is not None and path.is_file()

    def output_for(self, instance: Instance) -> Media:
        path = self._path(instance)
        if path is None or not path.is_file():
            raise NotFound(f"no pre-generated output for prompt {instance.prompt[:60]!r}")
        return Media.from_path(path)


class CallableOutputs:
    """A live generator: a callable from prompt to bytes, a file path, or a PIL image."""

    def __init__(self, generate: Callable[[str], Any], name: str = "callable") -> None:
        self.generate = generate
        self.name = name

    def has(self, instance: Instance) -> bool:
        return True

    def output_for(self, instance: Instance) -> Media:
        try:
            result = self.generate(instance.prompt)
        except KarenaError:
            raise
        except Exception as exc:  # a user's generator may raise anything
            raise UpstreamError(
                f"generator {self.name} failed: {type(exc).__name__}: {exc}"
            ) from exc
        if isinstance(result, Media):
            return result
        data = getattr(result, "data", None)  # karena.generators.GeneratedOutput
        if isinstance(data, bytes):
            return Media.from_bytes(data)
        if isinstance(result, bytes | bytearray):
            return Media.from_bytes(bytes(result))
        if isinstance(result, str | Path):
            return Media.from_path(Path(result))
        if hasattr(result, "save"):  # a PIL image
            buf = io.BytesIO()
            result.convert("RGB").save(buf, format="PNG")
            return Media.from_bytes(buf.getvalue())
        raise UpstreamError(f"generator {self.name} returned {type(result).__name__}, not an image")


def load_callable(spec: str) -> Callable[[str], Any]:
    """Import ``"package.module:attr"``: a function of the prompt, or a generator object (or a
    class built without arguments) with ``generate(prompt)`` (:class:`karena.generators.Generator`).
    """
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise InvalidInput(f"generator must look like 'package.module:function', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidInput(f"cannot import {module_name!r}: {exc}") from exc
    obj = getattr(module, attr, None)
    if isinstance(obj, type) and hasattr(obj, "generate"):
        obj = obj()
    generate: Any = getattr(obj, "generate", None)
    if callable(generate):
        return generate  # type: ignore[no-any-return]
    if not callable(obj):
        raise InvalidInput(f"{spec!r} is neither a callable nor an object with generate()")
    fn: Callable[[str], Any] = obj
    return fn
