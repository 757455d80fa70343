"""ORM rows to the frozen values of :mod:`karena.store.types`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from karena.media.storage import MediaStore
from karena.store.models import Arena, Battle, BattleSlot, Model, Output, Prompt, VoteRow
from karena.store.types import (
    POSITION_LABELS,
    ArenaInfo,
    BattleMedia,
    BattleView,
    ContestantResult,
    MediaBlob,
    ModelInfo,
    OutputInfo,
    PromptInfo,
    VoteResult,
)

__all__ = [
    "arena_info",
    "battle_view",
    "media_blob",
    "model_info",
    "model_names",
    "output_info",
    "prompt_info",
    "vote_result",
]


def arena_info(a: Arena) -> ArenaInfo:
    return ArenaInfo(
        id=a.id,
        slug=a.slug,
        name=a.name,
        modality=a.modality,
        k=a.k,
        rating_model=a.rating_model,
        matchmaker=a.matchmaker,
        matchmaker_params=dict(a.matchmaker_params or {}),
        vote_count=a.vote_seq,
        created_at=a.created_at,
    )


def model_info(m: Model, parent: str | None = None) -> ModelInfo:
    """``parent``: the name of ``m.parent_id``'s model (callers look it up; no lazy load)."""
    return ModelInfo(
        id=m.id,
        arena_id=m.arena_id,
        name=m.name,
        organization=m.organization,
        link=m.link,
        enabled=m.enabled,
        generator=dict(m.generator) if m.generator is not None else None,
        parent=parent,
    )


def prompt_info(p: Prompt) -> PromptInfo:
    return PromptInfo(
        id=p.id, arena_id=p.arena_id, key=p.key, text=p.text, source=p.source, category=p.category
    )


def output_info(o: Output) -> OutputInfo:
    return OutputInfo(
        id=o.id,
        model_id=o.model_id,
        prompt_id=o.prompt_id,
        sha256=o.sha256,
        content_type=o.content_type,
        kind=o.kind,
        byte_size=o.byte_size,
        metadata=dict(o.meta or {}),
    )


def battle_view(s: Session, b: Battle) -> BattleView:
    """The voter's view: no model, output id or hash appears in it."""
    arena = s.get(Arena, b.arena_id)
    prompt = s.get(Prompt, b.prompt_id)
    assert arena is not None and prompt is not None
    rows = s.execute(
        select(BattleSlot.position, Output.content_type, Output.kind)
        .join(Output, Output.id == BattleSlot.output_id)
        .where(BattleSlot.battle_id == b.id)
        .order_by(BattleSlot.position)
    ).all()
    return BattleView(
        token=b.token,
        arena_slug=arena.slug,
        k=len(rows),
        prompt_text=prompt.text,
        created_at=b.created_at,
        expires_at=b.expires_at,
        state=b.state,
        slots=tuple(
            BattleMedia(position=pos, label=POSITION_LABELS[pos], content_type=ct, kind=kind)
            for pos, ct, kind in rows
        ),
    )


def model_names(s: Session, model_ids: Iterable[int]) -> dict[int, str]:
    """Model names by id, for a reveal."""
    return {
        int(mid): str(name)
        for mid, name in s.execute(
            select(Model.id, Model.name).where(Model.id.in_([int(m) for m in model_ids]))
        )
    }


def vote_result(
    v: VoteRow,
    *,
    token: str,
    arena_slug: str,
    names: Mapping[int, str],
    replayed: bool = False,
) -> VoteResult:
    """The reveal of a stored vote, from the before/after ratings recorded with it."""
    contestants = tuple(
        ContestantResult(
            position=i,
            label=POSITION_LABELS[i],
            model_id=int(mid),
            model_name=names.get(int(mid), "?"),
            rank=int(v.ranks[i]),
            mu_before=float(rv[0]),
            sigma_before=float(rv[1]),
            mu_after=float(rv[2]),
            sigma_after=float(rv[3]),
        )
        for i, (mid, rv) in enumerate(zip(v.model_ids, v.reveal, strict=True))
    )
    return VoteResult(
        token=token,
        arena_slug=arena_slug,
        seq=v.seq,
        mode=v.mode,
        ranks=tuple(int(r) for r in v.ranks),
        counted=v.counted,
        created_at=v.created_at,
        contestants=contestants,
        replayed=replayed,
    )


def media_blob(media: MediaStore, out: Output) -> MediaBlob:
    """The bytes and type of a stored output, read from the media store."""
    path = media.path_for(out.sha256, out.content_type)
    data = media.read(out.sha256, out.content_type)
    return MediaBlob(data=data, content_type=out.content_type, etag=out.sha256[:32], path=path)
