"""The catalog: arenas, models, prompts, outputs and their media (the admin operations)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from karena.errors import Conflict, InvalidInput, NotFound
from karena.matchmaking.registry import matchmaker as load_matchmaker
from karena.rating.registry import rating_model as load_rating_model
from karena.store import convert
from karena.store.context import StoreContext
from karena.store.families import check_parent
from karena.store.lookups import find_arena, find_model, page_bounds, prompt_key_for, row_id
from karena.store.models import Arena, Model, Output, Prompt
from karena.store.text import clean_name, clean_prompt, clean_slug, text_key
from karena.store.types import (
    ArenaInfo,
    MediaBlob,
    ModelInfo,
    OutputInfo,
    Page,
    PromptInfo,
)

__all__ = ["MODALITY_KINDS", "Catalog"]


def _parent_name(s: Session, model: Model) -> str | None:
    if model.parent_id is None:
        return None
    parent = s.get(Model, model.parent_id)
    return parent.name if parent is not None else None


MODALITY_KINDS: dict[str, Literal["image", "video", "text"]] = {
    "image": "image",
    "video": "video",
    "text": "text",
}


class Catalog:
    """Arenas, models, prompts, outputs and their media: ``store.catalog``."""

    def __init__(self, ctx: StoreContext) -> None:
        self.ctx = ctx

    # -- arenas, models, prompts, outputs (admin) ----------------------------------------------

    def create_arena(
        self,
        *,
        slug: str,
        name: str | None = None,
        modality: str = "image",
        k: int | None = None,
        rating_model: str | None = None,
        rating_params: Mapping[str, object] | None = None,
        matchmaker: str | None = None,
        matchmaker_params: Mapping[str, object] | None = None,
        exist_ok: bool = False,
    ) -> ArenaInfo:
        """Create an arena; K, rating model and matchmaker default to the settings."""
        slug = clean_slug(slug)
        if modality not in MODALITY_KINDS:
            raise InvalidInput(
                f"modality must be one of {sorted(MODALITY_KINDS)}, got {modality!r}"
            )
        k = k if k is not None else self.ctx.settings.default_k
        if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= 8:
            raise InvalidInput(f"K must be an integer in 2..8, got {k!r}")
        rm = rating_model if rating_model is not None else self.ctx.settings.rating_model
        mm = matchmaker if matchmaker is not None else self.ctx.settings.matchmaker
        load_rating_model(rm, dict(rating_params or {}))  # fail now, not at the first vote
        load_matchmaker(mm, dict(matchmaker_params or {}))
        with self.ctx.db.write() as s:
            existing = s.scalar(select(Arena).where(Arena.slug == slug))
            if existing is not None:
                if exist_ok:
                    return convert.arena_info(existing)
                raise Conflict(f"arena {slug!r} already exists")
            arena = Arena(
                slug=slug,
                name=clean_name(name if name is not None else slug, "arena name"),
                modality=modality,
                k=k,
                rating_model=rm,
                rating_params=dict(rating_params or {}),
                matchmaker=mm,
                matchmaker_params=dict(matchmaker_params or {}),
                vote_seq=0,
                created_at=self.ctx.now(),
            )
            s.add(arena)
            s.flush()
            return convert.arena_info(arena)

    def get_arena(self, *, slug: str) -> ArenaInfo:
        """Look up an arena by slug (NotFound)."""
        with self.ctx.db.read() as s:
            return convert.arena_info(find_arena(s, slug))

    def list_arenas(self) -> tuple[ArenaInfo, ...]:
        """All arenas, by slug."""
        with self.ctx.db.read() as s:
            return tuple(
                convert.arena_info(a) for a in s.scalars(select(Arena).order_by(Arena.slug))
            )

    def add_model(
        self,
        *,
        arena: str,
        name: str,
        organization: str = "",
        link: str = "",
        enabled: bool = True,
        generator: Mapping[str, object] | None = None,
        exist_ok: bool = False,
        parent: str | None = None,
    ) -> ModelInfo:
        """Add a contestant model; ``parent`` names the model of the arena it is a variant of.

        ``generator`` is a live-generator config, stored as given: the service layer
        (:class:`karena.services.live.LiveGenerators`) checks it before it calls this.
        """
        name = clean_name(name, "model name")
        org = clean_name(organization, "organization") if organization else ""
        link = clean_name(link, "link", 500) if link else ""
        if link and not link.startswith(("https://", "http://")):
            raise InvalidInput("model link must be an http(s) URL")
        with self.ctx.db.write() as s:
            a = find_arena(s, arena)
            existing = s.scalar(select(Model).where(Model.arena_id == a.id, Model.name == name))
            if existing is not None:
                if exist_ok:
                    return convert.model_info(existing, _parent_name(s, existing))
                raise Conflict(f"model {name!r} already exists in arena {arena!r}")
            parent_row = find_model(s, a, parent) if parent is not None else None
            model = Model(
                arena_id=a.id,
                name=name,
                organization=org,
                link=link,
                enabled=bool(enabled),
                generator=dict(generator) if generator is not None else None,
                created_at=self.ctx.now(),
                parent_id=parent_row.id if parent_row is not None else None,
            )
            s.add(model)
            s.flush()
            return convert.model_info(model, _parent_name(s, model))

    def set_model_enabled(self, *, arena: str, name: str, enabled: bool) -> ModelInfo:
        """Enable or disable a model; disabled models are never matched."""
        with self.ctx.db.write() as s:
            model = find_model(s, find_arena(s, arena), name)
            model.enabled = bool(enabled)
            s.flush()
            return convert.model_info(model, _parent_name(s, model))

    def set_model_parent(self, *, arena: str, name: str, parent: str | None) -> ModelInfo:
        """Declare the model ``name`` a variant of ``parent`` (None: of no model).

        The parent must be another model of the same arena, and families stay trees
        (Conflict, 409, for a cycle). The catalog version moves, so paired mode sees it at once.
        """
        with self.ctx.db.write() as s:
            a = find_arena(s, arena)
            model = find_model(s, a, name)
            parent_row = find_model(s, a, parent) if parent is not None else None
            check_parent(s, model, parent_row)
            model.parent_id = parent_row.id if parent_row is not None else None
            s.flush()
            return convert.model_info(model, _parent_name(s, model))

    def set_paired_share(self, *, arena: str, share: float) -> ArenaInfo:
        """Paired evaluation of variant families: the share of battles (0 turns it off) that
        seat a variant with its parent while its verdict is undecided (the matchmaker option
        ``paired``, :class:`~karena.matchmaking.paired.PairedMatchmaker`)."""
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
            raise InvalidInput(f"the paired share must be a number in [0, 1], got {share!r}")
        with self.ctx.db.write() as s:
            a = find_arena(s, arena)
            params = {k: v for k, v in (a.matchmaker_params or {}).items() if k != "paired"}
            if share > 0:
                params["paired"] = float(share)
            load_matchmaker(a.matchmaker, params)
            a.matchmaker_params = params
            a.catalog_version = a.catalog_version + 1  # workers re-read the catalog
            s.flush()
            return convert.arena_info(a)

    def list_models(self, *, arena: str) -> tuple[ModelInfo, ...]:
        """All models of an arena, by name."""
        with self.ctx.db.read() as s:
            a = find_arena(s, arena)
            models = list(
                s.scalars(select(Model).where(Model.arena_id == a.id).order_by(Model.name))
            )
            names = {m.id: m.name for m in models}
            return tuple(
                convert.model_info(m, names.get(m.parent_id) if m.parent_id else None)
                for m in models
            )

    def get_model(self, *, arena: str, name: str) -> ModelInfo:
        """One model by name (NotFound)."""
        with self.ctx.db.read() as s:
            model = find_model(s, find_arena(s, arena), name)
            return convert.model_info(model, _parent_name(s, model))

    def add_prompt(
        self,
        *,
        arena: str,
        text: str,
        key: str | None = None,
        source: str = "admin",
        category: str = "",
        exist_ok: bool = True,
    ) -> PromptInfo:
        """Add a prompt (``key`` defaults to a text hash); an existing key returns the stored."""
        text = clean_prompt(text)
        key = clean_name(key, "prompt key") if key is not None else prompt_key_for(text)
        with self.ctx.db.write() as s:
            a = find_arena(s, arena)
            return convert.prompt_info(
                self._ensure_prompt(s, a, key, text, source, category, exist_ok=exist_ok)
            )

    def _ensure_prompt(
        self,
        s: Session,
        a: Arena,
        key: str,
        text: str,
        source: str,
        category: str,
        *,
        exist_ok: bool = True,
    ) -> Prompt:
        existing = s.scalar(select(Prompt).where(Prompt.arena_id == a.id, Prompt.key == key))
        if existing is not None:
            if existing.text != text:
                raise Conflict(f"prompt key {key!r} already holds a different text")
            if not exist_ok:
                raise Conflict(f"prompt {key!r} already exists")
            return existing
        prompt = Prompt(
            arena_id=a.id,
            key=key,
            text=text,
            source=clean_name(source, "source", 64) if source else "",
            category=clean_name(category, "category", 64) if category else "",
            created_at=self.ctx.now(),
        )
        s.add(prompt)
        s.flush()
        return prompt

    def set_prompt_category(self, *, arena: str, key: str, category: str) -> PromptInfo:
        """Set (``""``: clear) a prompt's category, e.g. to correct the typed-prompt classifier.

        The arena's category batch boards follow at their next refit.
        """
        with self.ctx.db.write() as s:
            a = find_arena(s, arena)
            prompt = s.scalar(
                select(Prompt).where(Prompt.arena_id == a.id, Prompt.key == text_key(key, "prompt"))
            )
            if prompt is None:
                raise NotFound(f"no prompt {key!r} in arena {a.slug!r}")
            prompt.category = clean_name(category, "category", 64) if category else ""
            s.flush()
            return convert.prompt_info(prompt)

    def list_prompts(self, *, arena: str, offset: int = 0, limit: int = 100) -> Page[PromptInfo]:
        """A page of an arena's prompts, by id."""
        offset, limit = page_bounds(offset, limit)
        with self.ctx.db.read() as s:
            a = find_arena(s, arena)
            total = s.scalar(
                select(func.count()).select_from(Prompt).where(Prompt.arena_id == a.id)
            )
            rows = s.scalars(
                select(Prompt)
                .where(Prompt.arena_id == a.id)
                .order_by(Prompt.id)
                .offset(offset)
                .limit(limit)
            )
            return Page(tuple(convert.prompt_info(p) for p in rows), int(total or 0), offset, limit)

    def add_output(
        self,
        *,
        arena: str,
        model: str,
        prompt_key: str,
        data: bytes,
        metadata: Mapping[str, object] | None = None,
        replace: bool = False,
    ) -> OutputInfo:
        """Validate, re-encode and store one output for (model, prompt).

        Raises PayloadTooLarge / UnsupportedMedia on bad bytes, Conflict when one exists and
        ``replace`` is False.
        """
        with self.ctx.db.read() as s:
            a = find_arena(s, arena)
            kind = MODALITY_KINDS[a.modality]
        stored = self.ctx.media.put(data, expected_kind=kind)  # outside the transaction: slow work
        with self.ctx.db.write() as s:
            a = find_arena(s, arena)
            m = find_model(s, a, model)
            key = text_key(prompt_key, "prompt")
            p = s.scalar(select(Prompt).where(Prompt.arena_id == a.id, Prompt.key == key))
            if p is None:
                raise NotFound(f"no prompt {prompt_key!r} in arena {arena!r}")
            return convert.output_info(self._put_output(s, m, p, stored, metadata, replace=replace))

    def _put_output(
        self,
        s: Session,
        m: Model,
        p: Prompt,
        stored: Any,
        metadata: Mapping[str, object] | None,
        *,
        replace: bool,
    ) -> Output:
        existing = s.scalar(select(Output).where(Output.model_id == m.id, Output.prompt_id == p.id))
        meta = {str(k)[:64]: v for k, v in dict(metadata or {}).items()}
        if existing is not None:
            if existing.sha256 == stored.sha256:
                return existing
            if not replace:
                raise Conflict(f"model {m.name!r} already has an output for prompt {p.key!r}")
            existing.sha256, existing.content_type = stored.sha256, stored.content_type
            existing.kind, existing.byte_size, existing.meta = stored.kind, stored.byte_size, meta
            s.flush()
            return existing
        out = Output(
            model_id=m.id,
            prompt_id=p.id,
            sha256=stored.sha256,
            content_type=stored.content_type,
            kind=stored.kind,
            byte_size=stored.byte_size,
            meta=meta,
            created_at=self.ctx.now(),
        )
        s.add(out)
        clash = f"model {m.name!r} already has an output for prompt {p.key!r}"
        try:
            s.flush()
        except IntegrityError:
            # Another writer (a job worker, `karena generate`, an upload) stored this pair
            # between our check and our insert: the same answer as when we see it first.
            raise Conflict(clash) from None  # (the failed flush expired m and p: names first)
        return out

    def find_output(self, *, arena: str, model: str, prompt_key: str) -> OutputInfo | None:
        """The output of (model, prompt key) in an arena, or None."""
        with self.ctx.db.read() as s:
            a = find_arena(s, arena)
            out = s.scalar(
                select(Output)
                .join(Model, Model.id == Output.model_id)
                .join(Prompt, Prompt.id == Output.prompt_id)
                .where(
                    Model.arena_id == a.id,
                    Model.name == text_key(model, "model"),
                    Prompt.key == text_key(prompt_key, "prompt"),
                )
            )
            return convert.output_info(out) if out is not None else None

    def get_output(self, *, model_id: int, prompt_id: int) -> OutputInfo | None:
        """The cached output of (model, prompt), or None."""
        with self.ctx.db.read() as s:
            out = s.scalar(
                select(Output).where(
                    Output.model_id == row_id(model_id, "model"),
                    Output.prompt_id == row_id(prompt_id, "prompt"),
                )
            )
            return convert.output_info(out) if out is not None else None

    # -- media -------------------------------------------------------------------------------

    def output_media(self, *, output_id: int) -> MediaBlob:
        """Bytes and type of an output by id (for model pages after the reveal, and the judge)."""
        with self.ctx.db.read() as s:
            out = s.get(Output, row_id(output_id, "output"))
            if out is None:
                raise NotFound(f"no output {output_id}")
            return convert.media_blob(self.ctx.media, out)
