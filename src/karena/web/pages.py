"""Server-rendered pages: vote, leaderboard, model. Jinja2 autoescapes every value."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from karena import __version__
from karena.errors import KarenaError, NotFound, RateLimited
from karena.services.queue import GenerationQueue
from karena.store.api import Store
from karena.store.types import BattleView
from karena.web.api import BoardQuery, leaderboard_out, resolve_arena
from karena.web.deps import (
    StoreDep,
    VoterDep,
    attach_new_voter_cookie,
    check_form_token,
    client_address,
    form_token,
    request_voter,
)
from karena.web.errors import retry_after
from karena.web.plot import history_plot, interval_plot
from karena.web.schemas import MAX_PROMPT_CHARS, ModelPageOut
from karena.web.schemas_history import ModelHistoryOut

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

_PLACEHOLDER = "e.g. three red circles left of a blue square"


def _render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    store: Store = request.app.state.store
    base = {
        "version": __version__,
        "arenas": store.catalog.list_arenas(),
        "arena_slug": None,
        "nav": "",
    }
    base.update(context)
    templates: Jinja2Templates = request.app.state.templates
    response = templates.TemplateResponse(request, name, base, status_code=status)
    return attach_new_voter_cookie(request, response)


def _has_live_models(request: Request, store: Store, arena: str) -> bool:
    if arena in request.app.state.live_arenas:
        return True
    return any(
        m.generator is not None and m.enabled for m in store.catalog.list_models(arena=arena)
    )


def _vote_page(
    request: Request,
    store: Store,
    arena: str,
    battle: BattleView | None,
    message: str = "",
    status: int | None = None,
) -> Response:
    # The form token of the cookie this browser will send next (a fresh one if minted now).
    voter = request_voter(request)
    voter = getattr(request.state, "new_voter_id", None) or voter
    context = {
        "nav": "vote",
        "arena_slug": arena,
        "battle": battle,
        "message": message,
        "live": _has_live_models(request, store, arena),
        "max_prompt_chars": MAX_PROMPT_CHARS,
        "prompt_placeholder": _PLACEHOLDER,
        "form_token": form_token(request, voter),
    }
    if status is None:
        status = 200 if battle is not None else 503
    return _render(request, "vote.html", context, status=status)


@router.get("/")
def vote_page(
    request: Request,
    store: StoreDep,
    voter: VoterDep,
    arena: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """A fresh battle from the arena's matchmaker, ready to vote on."""
    slug = resolve_arena(store, arena)
    try:
        store.limits.open_battle(voter_id=voter, address_id=client_address(request))
        battle = store.battles.create_battle(arena=slug, voter_id=voter)
    except RateLimited as exc:
        page = _vote_page(request, store, slug, None, exc.message, status=429)
        page.headers["Retry-After"] = retry_after(exc)
        return page
    except KarenaError as exc:
        if isinstance(exc, NotFound) and arena is not None:
            raise
        return _vote_page(request, store, slug, None, exc.message)
    return _vote_page(request, store, slug, battle)


@router.post("/battle")
def battle_for_prompt(
    request: Request,
    store: StoreDep,
    voter: VoterDep,
    arena: Annotated[str, Form(max_length=64)],
    prompt: Annotated[str, Form(min_length=1, max_length=MAX_PROMPT_CHARS)],
    csrf: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """A battle on the voter's own prompt (live generators only); redirects to its page.

    Only a form from our own vote page is accepted: it carries the token of this browser's
    voter cookie, which another site can neither read nor send (403 otherwise).
    """
    check_form_token(request, voter, csrf)
    slug = resolve_arena(store, arena)
    address = client_address(request)
    store.limits.open_battle(voter_id=voter, address_id=address)
    queue: GenerationQueue = request.app.state.queue
    req = queue.request_battle(arena=slug, voter_id=voter, address_id=address, prompt_text=prompt)
    redirect = RedirectResponse(f"/battle/{req.token}", status_code=303)
    return attach_new_voter_cookie(request, redirect)


@router.get("/battle/{token}")
def battle_page(
    request: Request,
    store: StoreDep,
    voter: VoterDep,
    token: Annotated[str, PathParam(max_length=128, pattern=r"^[A-Za-z0-9_-]+$")],
) -> Response:
    """An existing battle by its opaque token, or "generating…" while its outputs are made."""
    queue: GenerationQueue = request.app.state.queue
    status = queue.status(token=token, voter_id=voter)
    if status.battle is not None:
        return _vote_page(request, store, status.battle.arena_slug, status.battle)
    context = {"nav": "vote", "arena_slug": status.arena_slug, "status": status}
    return _render(request, "generating.html", context)


@router.get("/leaderboard")
def leaderboard_page(
    request: Request,
    store: StoreDep,
    arena: Annotated[str | None, Query(max_length=64)] = None,
    board: BoardQuery = "batch",
    category: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The sortable leaderboard: the batch board (default, overall or of a prompt category)
    or the online one, with its interval plot and downloads."""
    slug = resolve_arena(store, arena)
    out = leaderboard_out(store, slug, board, category or None)
    settings = request.app.state.settings
    context = {
        "nav": "leaderboard",
        "arena_slug": slug,
        "arena_form_action": "/leaderboard",
        "board": out,
        "plot": interval_plot(out.rows),
        "arena": store.catalog.get_arena(slug=slug),
        "min_new_votes": settings.batch_board_min_new_votes,
        "min_interval": f"{settings.batch_board_min_interval_seconds:g}",
        "movement_votes": store.settings.movement_votes,
    }
    return _render(request, "leaderboard.html", context)


@router.get("/models/{name:path}")
def model_page(
    request: Request,
    store: StoreDep,
    name: str,
    arena: Annotated[str | None, Query(max_length=64)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """One model: its score, its rating over time, its record against each opponent and its
    battles."""
    slug = resolve_arena(store, arena)
    ready = store.boards.history_ready(arena=slug)  # else the log is read in the background
    page = ModelPageOut.of(store.boards.model_page(arena=slug, name=name, offset=offset, limit=50))
    history = ModelHistoryOut.of(store.boards.history(arena=slug, name=name)) if ready else None
    context = {
        "nav": "",
        "arena_slug": slug,
        "page": page,
        "offset": offset,
        "limit": 50,
        "history": history,
        "history_plot": history_plot(history) if history is not None else "",
    }
    return _render(request, "model.html", context)
