"""Fixtures for the web tests: a seeded demo arena on a fresh SQLite or PostgreSQL database.

Each test gets its own database (a SQLite file in tmp_path, or a new PostgreSQL database that is
dropped afterwards), because the app commits through its own connections.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from karena.settings import Settings

POSTGRES_ENV = "KARENA_TEST_POSTGRES_URL"
#: Small enough to render quickly, big enough for battles to vary.
SEED_PROMPTS = 4
ADMIN_TOKEN = "test-admin-token-0123456789"


class FakeClock:
    """A UTC clock the test moves by hand (no sleeping)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _libpq(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.split("+", 1)[0], parts.netloc, parts.path, "", ""))


@contextlib.contextmanager
def fresh_postgres(admin_url: str, template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database beside ``admin_url``'s (empty or a copy), dropped afterwards."""
    import psycopg

    name = f"karena_web_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template is not None else ""
    with psycopg.connect(_libpq(admin_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy}')
    parts = urlsplit(admin_url)
    try:
        yield urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))
    finally:
        with psycopg.connect(_libpq(admin_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def _templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Seeded template databases, built at most once per session and backend (lazily)."""
    return {"root": tmp_path_factory.mktemp("web-templates")}


def _seed_template(data_dir: Path, url: str) -> None:
    from karena.store.api import Store

    store = Store.open(make_settings(data_dir, url))
    try:
        seed_demo_arena(store)
    finally:
        store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def seeded_data(
    request: pytest.FixtureRequest, tmp_path: Path, _templates: dict[str, Any]
) -> Iterator[tuple[Path, str]]:
    """A data dir and database URL holding a freshly copied, seeded demo arena."""
    import shutil

    root: Path = _templates["root"]
    data_dir = tmp_path / "data"
    if request.param == "sqlite":
        template = root / "sqlite"
        if "sqlite" not in _templates:
            _seed_template(template, f"sqlite:///{template / 'karena.db'}")
            _templates["sqlite"] = True
        shutil.copytree(template, data_dir)
        yield data_dir, f"sqlite:///{data_dir / 'karena.db'}"
        return
    admin = os.environ.get(POSTGRES_ENV)
    if not admin:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    template = root / "postgres"
    if "postgres" not in _templates:
        stack = contextlib.ExitStack()
        request.session.config.add_cleanup(stack.close)
        url = stack.enter_context(fresh_postgres(admin))
        _seed_template(template, url)
        _templates["postgres"] = urlsplit(url).path.lstrip("/")
    shutil.copytree(template, data_dir)
    with fresh_postgres(admin, template=_templates["postgres"]) as url:
        yield data_dir, url


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    """A fresh PostgreSQL database URL (skips without KARENA_TEST_POSTGRES_URL)."""
    admin = os.environ.get(POSTGRES_ENV)
    if not admin:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    with fresh_postgres(admin) as url:
        yield url


def make_settings(data_dir: Path, database_url: str, **overrides: Any) -> Settings:
    """Settings for a test server: relaxed abuse limits unless a test sets them."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "min_vote_seconds": 0.0,
        "rate_limit_per_minute": 0,
        "admin_token": ADMIN_TOKEN,
    }
    values.update(overrides)
    return Settings(**values)


@cache
def demo_png(renderer: str, prompt: str) -> bytes:
    """Rendered once per test session."""
    from karena.generators.demo import render_demo

    return render_demo(renderer, prompt)


def seed_demo_arena(store: Any, prompts: int = SEED_PROMPTS) -> Any:
    """The demo arena with ``prompts`` prompts, every output present."""
    from karena.services.demo_arena import build_demo_arena
    from karena.services.live import LiveGenerators

    arena = build_demo_arena(LiveGenerators(store), prompts=prompts)
    for prompt in arena.prompts:
        for model in arena.models:
            store.catalog.add_output(
                arena=arena.slug,
                model=model.name,
                prompt_key=prompt.key,
                data=demo_png(model.name, prompt.text),
            )
    return arena


@dataclass(frozen=True)
class SeededArena:
    """The seeded arena's slug, models and prompts."""

    slug: str
    models: tuple[Any, ...]
    prompts: tuple[Any, ...]


@dataclass
class ArenaApp:
    """A seeded app and a client talking to it over ASGI."""

    client: Any  # fastapi.testclient.TestClient (an httpx.Client)
    store: Any
    settings: Settings
    clock: FakeClock
    arena: Any


AppFactory = Callable[..., ArenaApp]


@pytest.fixture
def make_app(seeded_data: tuple[Path, str]) -> Iterator[AppFactory]:
    """Build a seeded arena app with settings overrides; everything is closed afterwards."""
    from fastapi.testclient import TestClient

    from karena.services.demo_arena import DEMO_ARENA, attach_demo_generators
    from karena.services.live import LiveGenerators
    from karena.store.api import Store
    from karena.web.app import create_app

    data_dir, database_url = seeded_data
    opened: list[tuple[Any, Any]] = []

    def build(**overrides: Any) -> ArenaApp:
        settings = make_settings(data_dir, database_url, **overrides)
        clock = FakeClock()
        store = Store.open(settings, clock=clock)
        live = LiveGenerators(store)
        attach_demo_generators(live)
        arena = SeededArena(
            DEMO_ARENA,
            store.catalog.list_models(arena=DEMO_ARENA),
            store.catalog.list_prompts(arena=DEMO_ARENA).items,
        )
        app = create_app(settings, store=store, live=live)
        client = TestClient(app, raise_server_exceptions=True)
        opened.append((client, store, app))
        return ArenaApp(client, store, settings, clock, arena)

    yield build
    for client, store, app in opened:
        client.close()
        app.state.queue.close()  # its worker threads, when a typed prompt started them
        store.close()


def page_form_token(app: ArenaApp) -> str:
    """The form token a vote page gives this client (it gets a voter cookie first if needed)."""
    from karena.web.deps import VOTER_COOKIE, form_token_for, verified_voter_id

    salt = app.settings.voter_salt.get_secret_value()
    if verified_voter_id(salt, app.client.cookies.get(VOTER_COOKIE)) is None:
        app.client.get("/", headers={"accept": "text/html"})
    voter = verified_voter_id(salt, app.client.cookies.get(VOTER_COOKIE))
    assert voter is not None, "the server gave no signed voter cookie"
    return form_token_for(salt, voter)


@pytest.fixture
def arena_app(make_app: AppFactory) -> ArenaApp:
    """A seeded arena app with relaxed abuse limits and an admin token."""
    return make_app()


def wait_for_battle(client: Any, token: str, timeout: float = 30.0) -> dict[str, Any]:
    """Poll a typed prompt's battle status until it is no longer generating; its last status."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        status: dict[str, Any] = client.get(f"/api/battles/{token}/status").json()
        if status["state"] != "generating" or time.monotonic() > deadline:
            return status
        time.sleep(0.05)
