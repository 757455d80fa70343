"""Importing a pre-generated gallery into an arena: models, prompts, outputs (and votes).

The layouts and how they are read are :mod:`karena.generators.gallery`; this module writes
what it reads through the store's catalog (and, for K-Sort Eval, ``store.voting.import_vote``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from karena.errors import InvalidInput, KarenaError
from karena.generators.gallery import (
    MEDIA_SUFFIXES,
    PROMPT_FILES,
    detect_layout,
    json_object,
    ksort_model_name,
    ksort_ranks,
    read_prompts,
)
from karena.generators.sources import GallerySource, open_source, safe_relpath
from karena.store.api import Store

__all__ = ["ImportReport", "import_gallery"]

Progress = Callable[[int, int], None]


@dataclass
class ImportReport:
    """What an import did."""

    layout: str
    models_added: list[str] = field(default_factory=list)
    prompts: int = 0
    outputs_added: int = 0
    outputs_unchanged: int = 0
    votes_added: int = 0
    votes_skipped: int = 0

    def summary(self) -> str:
        """One line for the CLI."""
        return (
            f"{self.layout}: {self.prompts} prompts, {self.outputs_added} outputs added "
            f"({self.outputs_unchanged} already there), {len(self.models_added)} new models, "
            f"{self.votes_added} votes added ({self.votes_skipped} already imported)"
        )


class _Importer:
    def __init__(
        self, store: Store, arena: str, source: GallerySource, report: ImportReport, replace: bool
    ) -> None:
        self.store, self.arena, self.source, self.report = store, arena, source, report
        self.replace = replace
        self.known = {m.name for m in store.catalog.list_models(arena=arena)}
        self.max_bytes = store.settings.max_upload_bytes

    def model(self, name: str, organization: str = "") -> str:
        info = self.store.catalog.add_model(
            arena=self.arena, name=name, organization=organization, exist_ok=True
        )
        if info.name not in self.known:
            self.known.add(info.name)
            self.report.models_added.append(info.name)
        return info.name

    def output(
        self,
        model: str,
        prompt_key: str,
        rel: PurePosixPath,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        data = self.source.read(rel, self.max_bytes)
        try:
            before = self.store.catalog.find_output(
                arena=self.arena, model=model, prompt_key=prompt_key
            )
            out = self.store.catalog.add_output(
                arena=self.arena,
                model=model,
                prompt_key=prompt_key,
                data=data,
                metadata=metadata,
                replace=self.replace,
            )
        except KarenaError as exc:
            raise type(exc)(f"{self.source.label}/{rel}: {exc.message}", exc.detail) from None
        if before is not None and before.sha256 == out.sha256:
            self.report.outputs_unchanged += 1
        else:
            self.report.outputs_added += 1


def _import_folder(imp: _Importer, progress: Progress | None) -> None:
    prompts = read_prompts(imp.source, imp.max_bytes)
    media = [
        f for f in imp.source.files() if len(f.parts) == 2 and f.suffix.lower() in MEDIA_SUFFIXES
    ]
    for key, (text, category) in prompts.items():
        imp.store.catalog.add_prompt(
            arena=imp.arena, text=text, key=key, source="gallery", category=category
        )
    imp.report.prompts = len(prompts)
    for n, rel in enumerate(media):
        key = rel.parts[0]
        if key not in prompts:
            raise InvalidInput(
                f"{imp.source.label}/{rel}: prompt {key!r} is not in the prompts file"
            )
        imp.output(imp.model(rel.stem), key, rel)
        if progress is not None:
            progress(n + 1, len(media))


def _import_manifest(imp: _Importer, manifest: PurePosixPath, progress: Progress | None) -> None:
    where = f"{imp.source.label}/{manifest}"
    lines = imp.source.read(manifest, imp.max_bytes).decode("utf-8-sig").splitlines()
    rows = [
        (n, json_object(line, f"{where} line {n}"))
        for n, line in enumerate(lines, 1)
        if line.strip()
    ]
    # Check every path before importing anything, so a bad manifest changes nothing.
    paths = [safe_relpath(str(row.get("path", "")), f"{where} line {n}") for n, row in rows]
    base = manifest.parent
    prompt_keys: set[str] = set()
    for (n, row), rel in zip(rows, paths, strict=True):
        for needed in ("model", "prompt"):
            if not isinstance(row.get(needed), str):
                raise InvalidInput(f"{where} line {n}: {needed!r} must be a string")
        prompt = imp.store.catalog.add_prompt(
            arena=imp.arena,
            text=row["prompt"],
            key=str(row["prompt_id"]) if row.get("prompt_id") is not None else None,
            source="manifest",
            category=str(row.get("category", "")),
        )
        prompt_keys.add(prompt.key)
        meta = row.get("metadata") if isinstance(row.get("metadata"), dict) else None
        imp.output(
            imp.model(row["model"], str(row.get("organization", ""))),
            prompt.key,
            base / rel if str(base) != "." else rel,
            meta,
        )
        if progress is not None:
            progress(n, len(lines))
    imp.report.prompts = len(prompt_keys)


def _import_ksort(imp: _Importer, progress: Progress | None, raw_names: bool) -> None:
    files = imp.source.files()
    results = [f for f in files if f.name == "result.json"]
    by_folder: dict[PurePosixPath, list[PurePosixPath]] = {}
    for f in files:
        by_folder.setdefault(f.parent, []).append(f)
    k = imp.store.catalog.get_arena(slug=imp.arena).k
    for n, result in enumerate(results):
        folder = result.parent
        where = f"{imp.source.label}/{result}"
        data = json_object(imp.source.read(result, imp.max_bytes).decode("utf-8-sig"), where)
        prompt = data.get("prompt")
        text = prompt[0] if isinstance(prompt, list) and prompt else prompt
        if not isinstance(text, str):
            raise InvalidInput(f"{where}: 'prompt' must be a string or a list of one string")
        ranks = ksort_ranks(data.get("img_rank", data.get("video_rank")), where)
        names = data.get("models_name")
        if not isinstance(names, list) or not all(isinstance(m, str) for m in names):
            raise InvalidInput(f"{where}: 'models_name' must be a list of strings")
        if not len(names) == len(ranks) == k:
            raise InvalidInput(f"{where}: expected {k} models and ranks (the arena's K)")
        models = [imp.model(m if raw_names else ksort_model_name(m)) for m in names]
        key = "ksort-" + "-".join(folder.parts) if folder.parts else "ksort-root"
        imp.store.catalog.add_prompt(
            arena=imp.arena, text=text, key=key[:200], source="k-sort-eval"
        )
        imp.report.prompts += 1
        media = {f.stem: f for f in by_folder[folder] if f.suffix.lower() in MEDIA_SUFFIXES}
        for i, model in enumerate(models):
            if str(i) not in media:
                raise InvalidInput(f"{where}: media file {i}.jpg/.png/.mp4 is missing")
            imp.output(model, key[:200], media[str(i)])
        vote = imp.store.voting.import_vote(
            arena=imp.arena,
            prompt_key=key[:200],
            models=models,
            ranks=ranks,
            source=f"k-sort-eval:{'/'.join(folder.parts)}",
        )
        if vote is None:
            imp.report.votes_skipped += 1
        else:
            imp.report.votes_added += 1
        if progress is not None:
            progress(n + 1, len(results))


def import_gallery(
    store: Store,
    *,
    arena: str,
    path: Path,
    layout: str = "auto",
    replace: bool = False,
    raw_model_names: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a folder, zip or JSONL manifest into ``arena``; returns what was added."""
    path = Path(path)
    source = open_source(path)
    manifest: PurePosixPath | None = None
    if path.is_file() and path.suffix == ".jsonl":
        manifest = PurePosixPath(path.name)
        layout = "manifest" if layout == "auto" else layout
    if layout == "auto":
        layout = detect_layout(source)
    if layout not in ("folder", "manifest", "ksort"):
        raise InvalidInput(f"layout must be auto, folder, manifest or ksort, got {layout!r}")
    store.catalog.get_arena(slug=arena)
    report = ImportReport(layout=layout)
    imp = _Importer(store, arena, source, report, replace)
    if layout == "folder":
        _import_folder(imp, progress)
    elif layout == "manifest":
        if manifest is None:
            candidates = [
                f
                for f in source.files()
                if len(f.parts) == 1 and f.suffix == ".jsonl" and f.name not in PROMPT_FILES
            ]
            if len(candidates) != 1:
                raise InvalidInput(f"{source.label}: expected one *.jsonl manifest at the root")
            manifest = candidates[0]
        _import_manifest(imp, manifest, progress)
    else:
        _import_ksort(imp, progress, raw_model_names)
    if report.prompts == 0 and report.outputs_added + report.outputs_unchanged == 0:
        # Nothing matched the layout: most likely the wrong --layout for this folder.
        found = detect_layout(source)
        hint = f"; it looks like a {found} gallery" if found != layout else ""
        raise InvalidInput(
            f"{source.label}: found nothing to import as the {layout!r} layout{hint} "
            "(see docs/gallery-import.md)"
        )
    return report
