"""Shared database fixtures: a SQLite store in tmp_path always, a PostgreSQL one when configured.

PostgreSQL tests get a fresh schema each (``search_path`` set in the URL) that is dropped
afterwards, so tests never see each other's rows. Set ``KARENA_TEST_POSTGRES_URL`` to enable them.
"""

from __future__ import annotations

import io
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from karena.settings import Settings

POSTGRES_ENV = "KARENA_TEST_POSTGRES_URL"


class TestClock:
    """A UTC clock that tests move by hand, so expiry and the bot guard need no sleeping."""

    __test__ = False

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def postgres_schema_url(admin_url: str, schema: str) -> str:
    """``admin_url`` with its ``search_path`` pointed at ``schema``."""
    from sqlalchemy.engine import make_url

    url = make_url(admin_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def _psycopg_dsn(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated to the latest schema; tests start from a copy (fast)."""
    from karena.store.db import Database

    path = tmp_path_factory.mktemp("template") / "karena.db"
    db = Database.connect(f"sqlite:///{path}")
    db.migrate()
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_sqlite_template: Path
) -> Iterator[str]:
    """A fresh database URL on each backend (PostgreSQL skips without its env var).

    The SQLite file is a copy of an already migrated template; PostgreSQL gets an empty schema.
    """
    if request.param == "sqlite":
        path = tmp_path / "karena.db"
        shutil.copyfile(migrated_sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    admin = os.environ.get(POSTGRES_ENV)
    if not admin:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    import psycopg

    schema = f"karena_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_psycopg_dsn(admin), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield postgres_schema_url(admin, schema)
    finally:
        with psycopg.connect(_psycopg_dsn(admin), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def clock() -> TestClock:
    """A hand-moved UTC clock."""
    return TestClock()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings on the test database with media in tmp_path."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        media_dir=tmp_path / "media",
        voter_salt="test-salt",
        media_image_size=32,  # small canvas: keeps seeding fast
    )


@pytest.fixture
def store(settings: Settings, clock: TestClock) -> Iterator[object]:
    """A migrated Store on the test database, driven by the test clock."""
    from karena.store import Store

    st = Store.open(settings, clock=clock)
    try:
        yield st
    finally:
        st.close()


def png_bytes(color: tuple[int, int, int], size: tuple[int, int] = (16, 16)) -> bytes:
    """A small solid-colour PNG."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


@dataclass(frozen=True)
class SeededArena:
    """An arena filled by :func:`seed_arena`."""

    slug: str
    models: tuple[str, ...]
    prompt_keys: tuple[str, ...]


def seed_arena(
    store: object,
    *,
    slug: str = "img",
    n_models: int = 6,
    n_prompts: int = 2,
    k: int = 4,
    rating_model: str | None = None,
    matchmaker: str | None = None,
) -> SeededArena:
    """An image arena where every model has a distinct output for every prompt."""
    from karena.store import Store

    assert isinstance(store, Store)
    store.catalog.create_arena(slug=slug, k=k, rating_model=rating_model, matchmaker=matchmaker)
    models = tuple(f"model-{i}" for i in range(n_models))
    keys = tuple(f"p{j}" for j in range(n_prompts))
    for name in models:
        store.catalog.add_model(arena=slug, name=name, organization="test org")
    for j, key in enumerate(keys):
        store.catalog.add_prompt(arena=slug, text=f"prompt number {j}", key=key)
        for i, name in enumerate(models):
            data = png_bytes((40 * i % 256, 30 * j % 256, 7))
            store.catalog.add_output(arena=slug, model=name, prompt_key=key, data=data)
    return SeededArena(slug, models, keys)


@pytest.fixture
def seeded(store: object) -> SeededArena:
    """A 6-model, 2-prompt image arena with K = 4."""
    return seed_arena(store)


@pytest.fixture
def make_png() -> Callable[..., bytes]:
    """Factory for small PNGs."""
    return png_bytes
