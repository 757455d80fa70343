"""The FastAPI app factory. Nothing is created at import time; ``create_app`` builds it all."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from karena import __version__
from karena.services.live import LiveGenerators
from karena.services.queue import GenerationQueue
from karena.settings import Settings
from karena.store.api import Store
from karena.web import admin, api, pages
from karena.web.batch_refresher import BatchBoardRefresher
from karena.web.docs import install_docs
from karena.web.errors import install_error_handlers
from karena.web.media import ServedMedia, media_router
from karena.web.middleware import AdminGate, BodySizeLimit, SecurityHeaders

_HERE = Path(__file__).resolve().parent
#: Room for multipart framing around the largest accepted upload.
_UPLOAD_OVERHEAD = 64 * 1024

_DESCRIPTION = """
karena's arena API: open a battle of K anonymous outputs, vote on it (rank with ties, best of K,
tie or all bad), read the leaderboard (score μ − 3σ) and export the vote log.

Errors are always JSON `{"error": "...", "detail": ...}`. Admin routes need
`Authorization: Bearer <KARENA_ADMIN_TOKEN>`; without a configured token they are disabled.
"""


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    migrate: bool = True,
    live: LiveGenerators | None = None,
    live_arenas: frozenset[str] = frozenset(),
) -> FastAPI:
    """Build the app. Opens (and, with ``migrate``, migrates) the store unless one is given.

    A store passed in stays the caller's to close; one opened here closes at shutdown.
    ``live`` holds the generators attached in-process (for typed prompts; a fresh registry of
    ``store`` by default), and ``live_arenas`` names arenas whose generators were attached
    there, so the vote page offers the typed-prompt box there too.
    """
    settings = settings if settings is not None else Settings()
    owned = store is None
    the_store = store if store is not None else Store.open(settings, migrate=migrate)
    if live is not None and live.store is not the_store:
        raise ValueError("live generators must belong to the app's store")

    # The hot routes' blocking store calls (see deps.run_blocking); as many threads as AnyIO's
    # default pool, which the other routes keep using.
    executor = ThreadPoolExecutor(max_workers=40, thread_name_prefix="karena-store")

    # The batch board's background refits (thread started at startup, stopped at shutdown).
    check = settings.batch_board_check_seconds
    refresher = (
        BatchBoardRefresher(the_store, check, in_child=settings.batch_board_fit_in_child)
        if check > 0
        else None
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if refresher is not None:
            refresher.start()
        yield
        if refresher is not None:
            refresher.stop()
        app.state.queue.close()
        executor.shutdown(wait=True)
        if owned:
            the_store.close()

    app = FastAPI(
        title="karena",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from local files by install_docs: no CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = the_store
    app.state.live = live if live is not None else LiveGenerators(the_store)
    app.state.queue = GenerationQueue(app.state.live, threads=settings.web_generation_threads)
    app.state.executor = executor
    app.state.batch_refresher = refresher
    app.state.live_arenas = live_arenas
    app.state.served_media = ServedMedia(settings)
    app.state.templates = Jinja2Templates(directory=str(_HERE / "templates"))

    install_error_handlers(app)
    app.include_router(api.router)
    app.include_router(media_router)
    app.include_router(admin.router)
    app.include_router(pages.router)
    install_docs(app, _HERE / "static")
    app.mount("/static", StaticFiles(directory=str(_HERE / "static")), name="static")
    uploads = {admin.UPLOAD_PATH: settings.max_upload_bytes + _UPLOAD_OVERHEAD}
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes, routes=uploads)
    app.add_middleware(AdminGate, token=settings.admin_token)
    app.add_middleware(SecurityHeaders)
    return app


def app_from_environment() -> FastAPI:
    """Factory for ``uvicorn --factory`` workers: settings from ``KARENA_*``, no migration.

    ``karena serve`` migrates once before it starts the workers, so that several workers never
    race to migrate one database.
    """
    app = create_app(Settings(), migrate=False)
    freeze_startup_heap()
    return app


def freeze_startup_heap() -> None:
    """Hide everything alive after a server process started from the cyclic collector.

    The app, its routes, SQLAlchemy's metadata and the imported modules live as long as the
    process; without ``gc.freeze()`` every full collection walks them again. Measured with
    ``benchmarks/serve_load.py`` (PostgreSQL, 2 workers, 2 × 3 × 8 s): about 3 % more votes/s
    and a lower p99. Only server entry points call it: a test process that builds many apps
    would keep their cyclic garbage.
    """
    gc.collect()
    gc.freeze()
