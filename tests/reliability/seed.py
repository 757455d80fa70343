"""Fill a running server with an arena through its admin HTTP API, as an operator would."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from tests.reliability import api, hostile

ADMIN_TOKEN = "reliability-admin-token-0123456789"
ARENA = "rel"

#: The environment of servers under load: no bot guard, no rate limit, small uploads.
LOAD_ENV = {
    "KARENA_ADMIN_TOKEN": ADMIN_TOKEN,
    "KARENA_MIN_VOTE_SECONDS": "0",
    "KARENA_RATE_LIMIT_PER_MINUTE": "0",
    # Every load voter shares 127.0.0.1: the per-address limit would throttle the load itself.
    "KARENA_RATE_LIMIT_PER_ADDRESS_PER_MINUTE": "0",
    "KARENA_MAX_UPLOAD_BYTES": "300000",
    # Audits read the export after every round: no hourly export limit under load.
    "KARENA_EXPORT_LIMIT_PER_HOUR": "0",
}


@dataclass(frozen=True, slots=True)
class SeededArena:
    """What :func:`seed_arena` created."""

    arena: str
    models: tuple[str, ...]
    prompt_keys: tuple[str, ...]


def _check(response: httpx.Response) -> httpx.Response:
    if response.status_code // 100 != 2:
        raise api.ApiError(response.status_code, response.text)
    return response


def upload_output(
    client: httpx.Client,
    *,
    arena: str,
    model: str,
    prompt_key: str,
    data: bytes,
    filename: str = "output.png",
    content_type: str = "image/png",
    token: str | None = ADMIN_TOKEN,
) -> httpx.Response:
    """POST one output file to the admin API (the caller checks the status)."""
    return client.post(
        "/api/admin/outputs",
        data={"arena": arena, "model": model, "prompt_key": prompt_key},
        files={"file": (filename, data, content_type)},
        headers=api.admin_headers(token),
    )


def _default_image(model_index: int, prompt_index: int, model: str) -> bytes:
    return hostile.png_bytes(color=(40 * model_index % 256, 30 * prompt_index % 256, 90))


def seed_arena(
    base_url: str,
    *,
    arena: str = ARENA,
    models: Sequence[str] = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot"),
    prompts: int = 4,
    k: int = 4,
    image: Callable[[int, int, str], bytes] = _default_image,
) -> SeededArena:
    """Create an arena of ``models`` x ``prompts`` outputs, each made by ``image(m, p, name)``."""
    headers = api.admin_headers(ADMIN_TOKEN)
    keys = tuple(f"p{i}" for i in range(prompts))
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        _check(client.post("/api/admin/arenas", json={"slug": arena, "k": k}, headers=headers))
        for name in models:
            body = {"arena": arena, "name": name}
            _check(client.post("/api/admin/models", json=body, headers=headers))
        for i, key in enumerate(keys):
            body = {"arena": arena, "key": key, "text": f"prompt number {i}: a red cube"}
            _check(client.post("/api/admin/prompts", json=body, headers=headers))
        for m, name in enumerate(models):
            for p, key in enumerate(keys):
                data = image(m, p, name)
                _check(upload_output(client, arena=arena, model=name, prompt_key=key, data=data))
    return SeededArena(arena=arena, models=tuple(models), prompt_keys=keys)


def add_prompt(client: httpx.Client, *, key: str, text: str, arena: str = ARENA) -> httpx.Response:
    """POST one prompt to the admin API (the caller checks the status)."""
    return client.post(
        "/api/admin/prompts",
        json={"arena": arena, "key": key, "text": text},
        headers=api.admin_headers(ADMIN_TOKEN),
    )


def add_model(client: httpx.Client, *, name: str, arena: str = ARENA) -> httpx.Response:
    """POST one model to the admin API (the caller checks the status)."""
    return client.post(
        "/api/admin/models",
        json={"arena": arena, "name": name},
        headers=api.admin_headers(ADMIN_TOKEN),
    )


def seed_store_directly(database_url: str, data_dir: str, *, prompts: int = 2) -> SeededArena:
    """Seed an arena through the Store API itself, for a server that has no admin token."""
    from karena.settings import Settings
    from karena.store.api import Store

    models = ("alpha", "bravo", "charlie", "delta", "echo")
    keys = tuple(f"p{i}" for i in range(prompts))
    store = Store.open(Settings(database_url=database_url, data_dir=data_dir))
    try:
        store.catalog.create_arena(slug=ARENA, k=4)
        for name in models:
            store.catalog.add_model(arena=ARENA, name=name)
        for p, key in enumerate(keys):
            store.catalog.add_prompt(arena=ARENA, key=key, text=f"prompt number {p}: a red cube")
            for m, name in enumerate(models):
                data = _default_image(m, p, name)
                store.catalog.add_output(arena=ARENA, model=name, prompt_key=key, data=data)
    finally:
        store.close()
    return SeededArena(arena=ARENA, models=models, prompt_keys=keys)
