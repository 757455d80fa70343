"""Reading pre-generated galleries, in three layouts (see docs/gallery-import.md).

- ``folder``: ``<prompt_id>/<model>.<ext>`` plus a prompts file (``prompts.jsonl``, ``.json``,
  ``.csv``, ``.tsv`` or ``.txt``) at the root;
- ``manifest``: a JSONL file, one ``{"model", "prompt", "path", ...}`` object per line;
- ``ksort``: the K-Sort Eval dataset, one folder per vote holding ``result.json`` and ``0..3``
  media files; this imports the outputs and the human rankings (as counted votes).

Folders and zip files are both accepted; paths that leave the gallery are refused. This module
only reads: :mod:`karena.services.gallery` writes what it finds into a store.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from karena.errors import InvalidInput
from karena.generators.sources import GallerySource

__all__ = [
    "KSORT_ALIASES",
    "MEDIA_SUFFIXES",
    "PROMPT_FILES",
    "detect_layout",
    "json_object",
    "ksort_model_name",
    "ksort_ranks",
    "parse_prompts",
    "read_prompt_file",
    "read_prompts",
]

MEDIA_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".mp4", ".webm", ".txt"}
PROMPT_FILES = ("prompts.jsonl", "prompts.json", "prompts.csv", "prompts.tsv", "prompts.txt")
#: Name fixes the K-Sort Eval reference code applies so dataset names match its leaderboard.
KSORT_ALIASES = {
    "LCM": "LCM-v1.5",
    "Dreamshaper-xl-turbo": "Dreamshaper-xl",
    "Sora-release": "Sora (release)",
    "Sora": "Sora (official samples)",
    "Cogvideox-5b": "CogVideoX-5b",
    "Stable-Video-Diffusion": "StableVideoDiffusion",
    "Animate-Diff": "AnimateDiff",
    "pika-v1": "Pika-v1.0",
}


def detect_layout(source: GallerySource) -> str:
    """``ksort`` when vote folders hold ``result.json``, ``manifest`` for a root ``*.jsonl``
    other than the prompts file, else ``folder``."""
    files = source.files()
    if any(f.name == "result.json" for f in files):
        return "ksort"
    if any(
        len(f.parts) == 1 and f.suffix == ".jsonl" and f.name not in PROMPT_FILES for f in files
    ):
        return "manifest"
    return "folder"


def read_prompts(source: GallerySource, max_bytes: int) -> dict[str, tuple[str, str]]:
    files = {f.name: f for f in source.files() if len(f.parts) == 1}
    name = next((n for n in PROMPT_FILES if n in files), None)
    if name is None:
        raise InvalidInput(f"{source.label} has no prompts file ({', '.join(PROMPT_FILES)})")
    text = source.read(files[name], max_bytes).decode("utf-8-sig")
    return parse_prompts(name, text)


def read_prompt_file(path: Path, max_bytes: int) -> dict[str, tuple[str, str]]:
    """A prompt set in one file (``.jsonl``, ``.json``, ``.csv``, ``.tsv`` or ``.txt``)."""
    if path.suffix.lower() not in (".jsonl", ".json", ".csv", ".tsv", ".txt"):
        raise InvalidInput(f"{path}: a prompt set is a .jsonl, .json, .csv, .tsv or .txt file")
    if path.stat().st_size > max_bytes:
        raise InvalidInput(f"{path} is larger than {max_bytes} bytes")
    prompts = parse_prompts(path.name.lower(), path.read_text(encoding="utf-8-sig"))
    if not prompts:
        raise InvalidInput(f"{path} holds no prompts")
    return prompts


def parse_prompts(name: str, text: str) -> dict[str, tuple[str, str]]:
    """``{key: (text, category)}`` from a prompts file's text; its format from ``name``."""
    out: dict[str, tuple[str, str]] = {}
    if name.endswith(".jsonl"):
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                row = json_object(line, f"{name} line {n}")
                out[str(row.get("id", n - 1))] = (
                    str(row.get("text", row.get("prompt", ""))),
                    str(row.get("category", "")),
                )
    elif name.endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{name} is not valid JSON: {exc.msg}") from None
        rows = (
            data.items()
            if isinstance(data, dict)
            else [(r.get("id", n) if isinstance(r, dict) else n, r) for n, r in enumerate(data)]
        )
        for key, value in rows:
            if isinstance(value, dict):
                out[str(key)] = (
                    str(value.get("text", value.get("prompt", ""))),
                    str(value.get("category", "")),
                )
            else:
                out[str(key)] = (str(value), "")
    elif name.endswith(".txt"):
        for n, line in enumerate(text.splitlines()):
            if line.strip():
                out[str(n)] = (line.strip(), "")
    else:
        reader = csv.DictReader(io.StringIO(text), delimiter="\t" if name.endswith(".tsv") else ",")
        for n, row in enumerate(reader):
            out[str(row.get("id") or n)] = (
                str(row.get("text") or row.get("prompt") or ""),
                str(row.get("category") or ""),
            )
    return out


def json_object(line: str, where: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{where} is not valid JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"{where} must be a JSON object")
    return value


def ksort_model_name(raw: str) -> str:
    """The leaderboard name of a K-Sort Eval ``models_name`` entry (as its reference code does)."""
    name = raw.split("_")[1] if "_" in raw else raw
    return KSORT_ALIASES.get(name, name)


def ksort_ranks(value: object, where: str) -> list[int]:
    if not isinstance(value, list) or not all(
        isinstance(r, int) and not isinstance(r, bool) for r in value
    ):
        raise InvalidInput(f"{where}: img_rank/video_rank must be a list of integers")
    # Ranks per image (position i's rank, lower is better); the dataset may count from 0.
    return [r + 1 for r in value] if min(value, default=1) == 0 else list(value)
