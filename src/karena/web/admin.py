"""Admin endpoints behind the bearer token: arenas, models, prompts, outputs, bans, recompute,
refitting the batch board, variant families (parents, paired mode) and the least reliable
voters."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi import Path as PathParam
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Scope

from karena.errors import Conflict, PayloadTooLarge
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
    PromptCategoryIn,
    PromptCreate,
    PromptOut,
    Slug,
    error_responses,
)
from karena.web.schemas_boards import BatchRefreshOut
from karena.web.schemas_families import PairedIn, VoterReportOut

#: The one route that takes a large body (KARENA_MAX_UPLOAD_BYTES); the rest: KARENA_MAX_BODY_BYTES.
UPLOAD_PATH = "/api/admin/outputs"

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


class _ModelNameRoute(APIRoute):
    """``/models/{name:path}`` that leaves ``…/models/{name}/parent`` to the parent route.

    A ``path`` parameter matches slashes (model names may hold one, R-WEB-2), so without this
    ``PATCH /models/x/parent`` was taken for the model ``x/parent``: a 422 about the body
    instead of 405 ``Allow: PUT``, and the parent route's ``Allow`` header named PATCH. A path
    whose raw bytes end in a literal ``/parent`` is the sub-resource; a model whose name ends
    in "/parent" is reached with the slash encoded (``x%2Fparent``), as clients encode a path
    parameter anyway.
    """

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        raw = scope.get("raw_path") or scope["path"].encode()
        if raw.split(b"?", 1)[0].endswith(b"/parent"):
            return Match.NONE, {}
        return super().matches(scope)


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


router.add_api_route(
    "/models/{name:path}",
    update_model,
    methods=["PATCH"],
    response_model=ModelOut,
    responses=error_responses(404),
    route_class_override=_ModelNameRoute,
)


@router.put(
    "/models/{name:path}/parent", response_model=ModelOut, responses=error_responses(404, 409)
)
def set_parent(
    name: Annotated[str, PathParam(min_length=1, max_length=200)],
    body: ParentIn,
    store: StoreDep,
    arena: Annotated[Slug, Query()],
) -> ModelOut:
    """Declare the model a variant of ``parent`` (null: of none); its page then shows the
    head-to-head record against the parent and the equivalence verdict. 409 when the parent
    would close a cycle (the family as it stands refuses a valid request)."""
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


@router.patch(
    "/prompts/{key:path}/category", response_model=PromptOut, responses=error_responses(404)
)
def set_prompt_category(
    key: Annotated[str, PathParam(min_length=1, max_length=200)],
    body: PromptCategoryIn,
    store: StoreDep,
    arena: Annotated[Slug, Query()],
) -> PromptOut:
    """Set or clear (``""``) a prompt's category; its category board follows at the next refit."""
    return PromptOut.of(
        store.catalog.set_prompt_category(arena=arena, key=key, category=body.category)
    )


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
    file: Annotated[
        UploadFile,
        File(
            description="PNG, JPEG, WebP, MP4, WebM or UTF-8 text; never empty (415)",
            json_schema_extra={"minLength": 1},
        ),
    ],
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


@router.post(
    "/batch-board/refresh", response_model=BatchRefreshOut, responses=error_responses(404, 409)
)
def refresh_batch_board(store: StoreDep, arena: Annotated[Slug, Query()]) -> BatchRefreshOut:
    """Refit an arena's batch boards (overall and per prompt category) now, whether or not the
    background refresher finds them due. 409 while another worker is fitting them."""
    done = store.boards.refresh_batch_board(arena=arena)
    if not done.fitted:
        raise Conflict(f"batch board of {arena!r} not refitted: {done.reason}")
    return BatchRefreshOut.of(done)
