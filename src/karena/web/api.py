"""The public JSON API: arenas, battles, votes, leaderboards, model pages, vote export and media."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse

from karena.errors import NotFound
from karena.services.live import LiveGenerators
from karena.store.api import Store
from karena.web.deps import (
    SettingsDep,
    StoreDep,
    client_address,
    client_info,
    json_response,
    request_voter,
    run_blocking,
)
from karena.web.schemas import (
    ArenaOut,
    BattleCreate,
    BattleOut,
    BestVote,
    LeaderboardOut,
    LeaderboardRowOut,
    ModelPageOut,
    RankVote,
    Slug,
    VoteIn,
    VoteOut,
    error_responses,
)

router = APIRouter(prefix="/api", tags=["arena"], responses=error_responses(422))
media_router = APIRouter(tags=["media"])

TokenParam = Annotated[str, PathParam(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
ArenaQuery = Annotated[Slug | None, Query(description="Arena slug; the first arena if omitted.")]

_EXPORT_TYPES = {
    "jsonl": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}
_LEADERBOARD_COLUMNS = (
    "rank", "model", "organization", "score", "mu", "sigma", "ci_low", "ci_high", "votes",
    "provisional", "enabled", "last_updated", "placed_by_judge", "judge_rank_low",
    "judge_rank_high",
)  # fmt: skip


def resolve_arena(store: Store, slug: str | None) -> str:
    """The arena slug to use: the given one (checked), or the first arena."""
    if slug is not None:
        return store.catalog.get_arena(slug=slug).slug
    arenas = store.catalog.list_arenas()
    if not arenas:
        raise NotFound(no_arena_message(store))
    return arenas[0].slug


def no_arena_message(store: Store) -> str:
    """What to do on a server with no arena; ``karena demo`` only where it would fill this one.

    The demo always builds its SQLite database in the data folder: on PostgreSQL, or on any
    other file, it would make an arena somewhere else.
    """
    ways = "`karena arena add SLUG` or `karena import DIR --arena SLUG --create-arena`"
    if store.settings.database_url is None:
        ways += ", or stop this server and run `karena demo`"
    return f"this server has no arena yet: create one with {ways} (or POST /api/admin/arenas)"


@router.get("/arenas", response_model=list[ArenaOut], summary="List arenas")
def list_arenas(store: StoreDep) -> list[ArenaOut]:
    return [ArenaOut.of(a) for a in store.catalog.list_arenas()]


@router.post(
    "/battles",
    response_model=BattleOut,
    status_code=201,
    summary="Open a battle: K anonymous outputs for one prompt",
    responses=error_responses(404, 409, 429, 502, 503),
)
async def create_battle(body: BattleCreate, request: Request) -> Response:
    # The hot routes resolve store and voter inline: each FastAPI dependency cost more CPU
    # than the lookup it wraps.
    store: Store = request.app.state.store
    voter, address = request_voter(request), client_address(request)

    def open_battle() -> BattleOut:
        # Per voter and per address, counted in the database: it holds across workers.
        store.limits.open_battle(voter_id=voter, address_id=address)
        # A named arena is checked by create_battle itself (NotFound): one query fewer.
        arena = body.arena if body.arena is not None else resolve_arena(store, None)
        if body.prompt is None:
            battle = store.battles.create_battle(arena=arena, voter_id=voter)
        else:  # a typed prompt: live generators make the missing outputs first (cost guard)
            live: LiveGenerators = request.app.state.live
            battle = live.create_battle(
                arena=arena, voter_id=voter, address_id=address, prompt_text=body.prompt
            )
        return BattleOut.of(battle)

    return json_response(request, await run_blocking(request, open_battle), status_code=201)


@router.get(
    "/battles/{token}",
    response_model=BattleOut,
    summary="Read an open battle (anonymous)",
    responses=error_responses(404),
)
def get_battle(token: TokenParam, store: StoreDep) -> BattleOut:
    return BattleOut.of(store.battles.get_battle(token=token))


@router.post(
    "/battles/{token}/vote",
    response_model=VoteOut,
    summary="Vote on a battle; returns the reveal. Resubmitting the same vote is idempotent.",
    responses=error_responses(403, 404, 409, 410, 429),
)
async def submit_vote(token: TokenParam, body: VoteIn, request: Request) -> Response:
    store: Store = request.app.state.store
    voter = request_voter(request)
    client, address = client_info(request), client_address(request)

    def vote() -> VoteOut:
        result = store.voting.submit_vote(
            token=token,
            mode=body.mode,
            ranks=body.ranks if isinstance(body, RankVote) else None,
            winner=body.winner if isinstance(body, BestVote) else None,
            voter_id=voter,
            client=client,
            address_id=address,
        )
        return VoteOut.of(result)

    return json_response(request, await run_blocking(request, vote))


@router.get(
    "/battles/{token}/result",
    response_model=VoteOut,
    summary="The reveal of a battle that has been voted on",
    responses=error_responses(404),
)
def get_result(token: TokenParam, store: StoreDep) -> VoteOut:
    return VoteOut.of(store.voting.get_vote_result(token=token))


def leaderboard_out(store: Store, arena: str) -> LeaderboardOut:
    """The leaderboard of ``arena`` as the API shapes it."""
    rows = store.boards.leaderboard(arena=arena)
    stamps = [r.last_updated for r in rows if r.last_updated is not None]
    return LeaderboardOut(
        arena=arena,
        last_updated=max(stamps) if stamps else None,
        rows=[LeaderboardRowOut.of(r) for r in rows],
    )


def leaderboard_csv(board: LeaderboardOut) -> str:
    """The leaderboard as CSV text with a header row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_LEADERBOARD_COLUMNS)
    for row in board.rows:
        data = row.model_dump()
        stamp = data["last_updated"]
        data["last_updated"] = stamp.isoformat() if stamp is not None else ""
        for key in ("judge_rank_low", "judge_rank_high"):
            data[key] = "" if data[key] is None else data[key]
        writer.writerow([data[c] for c in _LEADERBOARD_COLUMNS])
    return out.getvalue()


@router.get(
    "/leaderboard",
    response_model=LeaderboardOut,
    summary="The leaderboard: μ − 3σ score, μ, σ, 95% interval, votes (format=csv for CSV)",
    responses={
        **error_responses(404),
        200: {"content": {"application/json": {}, "text/csv": {"schema": {"type": "string"}}}},
    },
)
def leaderboard(
    store: StoreDep,
    arena: ArenaQuery = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> LeaderboardOut | Response:
    board = leaderboard_out(store, resolve_arena(store, arena))
    if format == "csv":
        return Response(
            leaderboard_csv(board),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="leaderboard-{board.arena}.csv"'
            },
        )
    return board


@router.get(
    "/models/{name:path}",
    response_model=ModelPageOut,
    summary="One model: its leaderboard row, head-to-head records and recent battles",
    responses=error_responses(404),
)
def model_page(
    name: Annotated[str, PathParam(min_length=1, max_length=200)],
    store: StoreDep,
    arena: ArenaQuery = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ModelPageOut:
    slug = resolve_arena(store, arena)
    return ModelPageOut.of(
        store.boards.model_page(arena=slug, name=name, offset=offset, limit=limit)
    )


def _stream_and_delete(path: Path) -> Iterator[bytes]:
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 16):
                yield chunk
    finally:
        path.unlink(missing_ok=True)


@router.get(
    "/votes/export",
    summary="Export the vote log as JSONL, CSV or Parquet (loadable by Hugging Face datasets)",
    responses={
        **error_responses(404, 429),
        200: {
            "description": "the vote log",
            "content": {
                t.split(";")[0]: {"schema": {"type": "string"}} for t in _EXPORT_TYPES.values()
            },
        },
    },
)
def export_votes(
    request: Request,
    store: StoreDep,
    arena: ArenaQuery = None,
    format: Annotated[Literal["jsonl", "csv", "parquet"], Query()] = "jsonl",
) -> StreamingResponse:
    slug = resolve_arena(store, arena)
    # Each export costs seconds of server time: KARENA_EXPORT_LIMIT_PER_HOUR per address.
    store.limits.export(address_id=client_address(request))
    handle, name = tempfile.mkstemp(prefix="karena-export-", suffix=f".{format}")
    os.close(handle)
    path = Path(name)
    try:
        store.voting.export_votes(arena=slug, path=path, fmt=format)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return StreamingResponse(
        _stream_and_delete(path),
        media_type=_EXPORT_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="votes-{slug}.{format}"'},
    )


@media_router.get(
    "/b/{token}/{slot}",
    summary="One anonymous battle output, by battle token and slot position",
    responses={
        **error_responses(404, 422),
        200: {
            "description": "the output's bytes",
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}}
                for t in ("image/png", "image/jpeg", "image/webp", "video/mp4", "video/webm",
                          "text/plain")
            },
        },
    },
)  # fmt: skip
def battle_media(
    token: TokenParam,
    slot: Annotated[int, PathParam(ge=0, lt=8)],
    store: StoreDep,
    settings: SettingsDep,
) -> Response:
    blob = store.battles.battle_media(token=token, position=slot)
    # No ETag, Last-Modified or Content-Disposition: each could tell one model from another.
    return Response(
        blob.data,
        media_type=blob.content_type,
        headers={"Cache-Control": "no-store"},
    )


__all__ = [
    "leaderboard_csv",
    "leaderboard_out",
    "media_router",
    "resolve_arena",
    "router",
]
