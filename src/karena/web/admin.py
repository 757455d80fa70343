"""Admin endpoints behind the bearer token: arenas, models, prompts, outputs, bans, recompute,
variant families (parents, paired mode) and the least reliable voters."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi import Path as PathParam

from karena.errors import PayloadTooLarge
from karena.web.deps import SettingsDep, StoreDep, require_admin
from karena.web.schemas import (
    ArenaCreate,
    ArenaOut,
    BanIn,
    CountOut,
    ModelCreate,
    ModelOut,
    ModelUpdate,
    OutputOut,
    ParentIn,
    PromptCreate,
    PromptOut,
    Slug,
    error_responses,
)
from karena.web.schemas_families import PairedIn, VoterReportOut

router = APIRouter(
    prefix="/api/admin",
    tags=["admin"],
    dependencies=[Depends(require_admin)],
    responses=error_responses(401, 403, 422),
)


@router.post("/arenas", response_model=ArenaOut, status_code=201, responses=error_responses(409))
def create_arena(body: ArenaCreate, store: StoreDep) -> ArenaOut:
    """Create an arena (K, rating model and matchmaker default to the settings)."""
    return ArenaOut.of(
        store.catalog.create_arena(slug=body.slug, name=body.name, modality=body.modality, k=body.k)
    )


@router.post(
    "/models", response_model=ModelOut, status_code=201, responses=error_responses(404, 409)
)
def add_model(body: ModelCreate, store: StoreDep) -> ModelOut:
    """Add a contestant model to an arena."""
    model = store.catalog.add_model(
        arena=body.arena,
        name=body.name,
        organization=body.organization,
        link=body.link,
        enabled=body.enabled,
        parent=body.parent,
    )
    return ModelOut.of(model)


@router.patch("/models/{name:path}", response_model=ModelOut, responses=error_responses(404))
def update_model(
    name: Annotated[str, PathParam(min_length=1, max_length=200)],
    body: ModelUpdate,
    store: StoreDep,
    arena: Annotated[Slug, Query()],
) -> ModelOut:
    """Enable or disable a model; a disabled model is never matched."""
    return ModelOut.of(
        store.catalog.set_model_enabled(arena=arena, name=name, enabled=body.enabled)
    )


@router.put("/models/{name:path}/parent", response_model=ModelOut, responses=error_responses(404))
def set_parent(
    name: Annotated[str, PathParam(min_length=1, max_length=200)],
    body: ParentIn,
    store: StoreDep,
    arena: Annotated[Slug, Query()],
) -> ModelOut:
    """Declare the model a variant of ``parent`` (null: of none); its page then shows the
    head-to-head record against the parent and the equivalence verdict."""
    return ModelOut.of(store.catalog.set_model_parent(arena=arena, name=name, parent=body.parent))


@router.put("/arenas/{slug}/paired", response_model=ArenaOut, responses=error_responses(404))
def set_paired(slug: Slug, body: PairedIn, store: StoreDep) -> ArenaOut:
    """Paired evaluation: the share of battles (0: off) that seat an undecided variant with
    its parent, until its verdict is reached."""
    return ArenaOut.of(store.catalog.set_paired_share(arena=slug, share=body.share))


@router.post(
    "/prompts", response_model=PromptOut, status_code=201, responses=error_responses(404, 409)
)
def add_prompt(body: PromptCreate, store: StoreDep) -> PromptOut:
    """Add a prompt to an arena's pool (an existing key returns the stored prompt)."""
    prompt = store.catalog.add_prompt(
        arena=body.arena,
        text=body.text,
        key=body.key,
        source=body.source,
        category=body.category,
    )
    return PromptOut.of(prompt)


@router.post(
    "/outputs",
    response_model=OutputOut,
    status_code=201,
    responses=error_responses(404, 409, 413, 415),
)
def upload_output(
    store: StoreDep,
    settings: SettingsDep,
    arena: Annotated[Slug, Form()],
    model: Annotated[str, Form(min_length=1, max_length=200)],
    prompt_key: Annotated[str, Form(min_length=1, max_length=200)],
    file: Annotated[UploadFile, File(description="PNG, JPEG, WebP, MP4, WebM or UTF-8 text")],
    replace: Annotated[bool, Form()] = False,
) -> OutputOut:
    """Upload one model's output for one prompt; type and size are checked by content."""
    limit = settings.max_upload_bytes
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"upload is larger than {limit} bytes", detail={"limit": limit})
    info = store.catalog.add_output(
        arena=arena, model=model, prompt_key=prompt_key, data=data, replace=replace
    )
    return OutputOut(
        id=info.id,
        sha256=info.sha256,
        content_type=info.content_type,
        kind=info.kind,
        byte_size=info.byte_size,
    )


@router.post("/voters/ban", response_model=CountOut)
def ban_voter(body: BanIn, store: StoreDep) -> CountOut:
    """Ban a voter by stored hash; returns how many past votes stopped counting.

    With ``ban_address`` (the default) the ban covers the addresses the voter voted from, so
    a fresh cookie from there is refused too, as is anyone else voting from there.
    """
    count = store.voting.ban_voter(
        voter_hash=body.voter_hash,
        reason=body.reason,
        discount_past=body.discount_past,
        ban_addresses=body.ban_address,
    )
    return CountOut(count=count)


@router.get("/voters", response_model=VoterReportOut, responses=error_responses(404))
def least_reliable_voters(
    store: StoreDep,
    arena: Annotated[Slug, Query()],
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    recent: Annotated[int | None, Query(ge=1, le=100_000_000)] = None,
) -> VoterReportOut:
    """The arena's voters, least reliable first: how likely each votes blindly or pushes one
    model, fitted on demand over the counted votes (the last ``recent`` only, if given)."""
    report = store.voters.reliability(arena=arena, limit=limit, offset=offset, recent=recent)
    return VoterReportOut.of(report)


@router.post("/recompute", response_model=CountOut, responses=error_responses(404))
def recompute(store: StoreDep, arena: Annotated[Slug, Query()]) -> CountOut:
    """Rebuild an arena's ratings from its vote log; returns the votes replayed."""
    return CountOut(count=store.boards.recompute(arena=arena))
