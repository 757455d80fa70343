"""``karena serve`` (the arena server) and ``karena demo`` (a ready demo arena on SQLite)."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from karena.errors import ConfigError, InvalidInput

#: What each worker process of ``karena serve --workers N`` (N > 1) imports and calls.
APP_FACTORY = "karena.web.app:app_from_environment"

HostOpt = Annotated[str | None, typer.Option("--host", help="Interface to bind [KARENA_HOST].")]
PortOpt = Annotated[
    int | None, typer.Option("--port", min=0, max=65535, help="Port to bind [KARENA_PORT].")
]


def _check_port_free(host: str, port: int) -> None:
    """Fail with one clear line, before any work, when the port is taken."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise _cannot_listen(host, port, exc) from exc


def _cannot_listen(host: str, port: int, exc: OSError) -> InvalidInput:
    return InvalidInput(f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port")


def _open_browser_when_up(url: str, host: str, port: int, timeout: float = 30.0) -> None:
    """Open ``url`` in a browser once the server accepts connections (on a daemon thread)."""

    def wait_then_open() -> None:
        import webbrowser

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((host, port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.1)
        webbrowser.open(url)

    threading.Thread(target=wait_then_open, name="karena-browser", daemon=True).start()


def prepare_schema(url: str, prefix: str = "karena") -> None:
    """Create the schema of an empty database, or upgrade an old one, and say so."""
    from karena.store.db import Database, display_url

    db = Database.connect(url)
    try:
        before, after = db.migrate()
    finally:
        db.dispose()
    if before is None:
        typer.echo(f"{prefix}: created the karena schema (revision {after}) in {display_url(url)}")
    elif before != after:
        typer.echo(f"{prefix}: upgraded the schema of {display_url(url)} from {before} to {after}")


#: Where ``karena demo`` keeps the voter salt it made for its data folder.
DEMO_SALT_FILE = "voter_salt"


def default_voter_salt() -> str:
    """The published development salt (``Settings.voter_salt``'s default)."""
    from karena.settings import Settings

    default: Any = Settings.model_fields["voter_salt"].default
    return str(default.get_secret_value())


def refuse_default_salt(salt: str) -> None:
    """``karena serve`` never runs on the published salt: it would make voters recoverable.

    With the default, anyone can recompute the keyed hashes of the vote log (and of the public
    export) for every address of a network and so find who voted, and can sign voter cookies.
    """
    if salt == default_voter_salt():
        raise ConfigError(
            "KARENA_VOTER_SALT is the published default, so anyone could recover voters' "
            "addresses from the vote export and forge voter cookies: set a long random secret, "
            "e.g. export KARENA_VOTER_SALT=$(python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'), and keep it (only `karena demo` runs without one)"
        )


def demo_voter_salt(data_dir: Path) -> str:
    """The demo's own random voter salt, made once per data folder and kept in it (mode 600)."""
    import secrets

    path = data_dir / DEMO_SALT_FILE
    try:
        salt = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        salt = ""
    if len(salt) >= 32:
        return salt
    salt = secrets.token_urlsafe(32)
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(salt + "\n")
    return salt


def _display_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def serve(
    host: HostOpt = None,
    port: PortOpt = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Worker processes [KARENA_WORKERS]; on Linux each listens on its own"
            " SO_REUSEPORT socket, so the kernel spreads connections over them.",
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="SQLAlchemy URL [KARENA_DATABASE_URL]."),
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the arena: vote page, leaderboard and JSON API.

    API docs at /docs; the admin API needs KARENA_ADMIN_TOKEN. Needs KARENA_VOTER_SALT (a
    long random secret; it refuses the default). An empty database gets the schema first (and
    says so).
    """
    import uvicorn

    from karena.cli.common import load_settings

    settings = load_settings(database_url, host=host, port=port, workers=workers)
    refuse_default_salt(settings.voter_salt.get_secret_value())
    _check_port_free(settings.host, settings.port)
    url = settings.resolved_database_url()
    if settings.workers > 1 and url.startswith("sqlite"):
        typer.secho(
            "warning: several workers on SQLite share one writer; use PostgreSQL to scale",
            fg=typer.colors.YELLOW,
            err=True,
        )
    # Migrate once here, so that workers never race to migrate one database.
    prepare_schema(url)
    if settings.workers == 1:
        from karena.web.app import create_app, freeze_startup_heap

        typer.echo(f"karena: serving http://{_display_host(settings.host)}:{settings.port}/")
        app = create_app(settings, migrate=False)
        freeze_startup_heap()
        uvicorn.run(app, host=settings.host, port=settings.port, log_level=log_level)
        return
    # Worker processes rebuild the settings from the environment: pass the flags down.
    os.environ["KARENA_DATABASE_URL"] = url
    os.environ["KARENA_DATA_DIR"] = str(settings.data_dir)
    _serve_workers(settings.host, settings.port, settings.workers, log_level)


def _serve_workers(host: str, port: int, workers: int, log_level: str) -> None:
    """Run ``workers`` app processes; on Linux each listens on its own SO_REUSEPORT socket."""
    import uvicorn

    from karena.web.workers import ReusePortSupervisor, reuseport_available

    options: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "log_level": log_level,
    }
    if not reuseport_available():
        # uvicorn's supervisor: one shared socket, so connections are balanced less evenly.
        typer.echo(f"karena: serving http://{_display_host(host)}:{port}/")
        uvicorn.run(APP_FACTORY, **options)
        return
    try:
        supervisor = ReusePortSupervisor(uvicorn.Config(APP_FACTORY, **options))
    except OSError as exc:  # the port was taken after _check_port_free
        raise _cannot_listen(host, port, exc) from exc
    typer.echo(f"karena: serving http://{_display_host(host)}:{supervisor.port}/")
    status = supervisor.run()
    if status:
        raise typer.Exit(status)


def demo(
    host: HostOpt = None,
    port: PortOpt = None,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Do not open a web browser.")
    ] = False,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Where the demo keeps its data [KARENA_DATA_DIR]."),
    ] = None,
) -> None:
    """Build (first run) and serve a ready demo arena.

    Procedural renderers as contestants, on SQLite in KARENA_DATA_DIR. Without
    KARENA_VOTER_SALT it makes a random voter salt for that folder (kept in it).
    """
    import uvicorn
    from pydantic import SecretStr
    from rich.progress import Progress

    from karena.services.demo_arena import (
        EAGER_PROMPTS,
        build_demo_arena,
        render_in_background,
        render_missing,
    )
    from karena.services.live import LiveGenerators
    from karena.settings import Settings
    from karena.store.api import Store
    from karena.web.app import create_app

    updates: dict[str, object] = {"database_url": None, "media_dir": None, "workers": 1}
    if host is not None:
        updates["host"] = host
    if port is not None:
        updates["port"] = port
    if data_dir is not None:
        updates["data_dir"] = data_dir
    settings = Settings().model_copy(update=updates)
    _check_port_free(settings.host, settings.port)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.voter_salt.get_secret_value() == default_voter_salt():
        salt = demo_voter_salt(settings.data_dir)
        settings = settings.model_copy(update={"voter_salt": SecretStr(salt)})
    typer.echo(f"karena demo: data in {settings.data_dir}")
    prepare_schema(settings.resolved_database_url(), prefix="karena demo")
    store = Store.open(settings, migrate=False)
    live = LiveGenerators(store)  # the renderers, attached in-process for typed prompts
    arena = build_demo_arena(live, k=settings.default_k)
    first, rest = arena.prompts[:EAGER_PROMPTS], arena.prompts[EAGER_PROMPTS:]
    with Progress(transient=True) as bar:
        task = bar.add_task("rendering demo outputs", total=len(first) * len(arena.models))
        render_missing(
            store, arena, first, progress=lambda done, _: bar.update(task, completed=done)
        )
    stop = render_in_background(store, arena, rest)
    url = f"http://{_display_host(settings.host)}:{settings.port}/"
    typer.echo(f"karena demo: ready at {url} (leaderboard: {url}leaderboard); Ctrl+C stops")
    if not no_browser:
        _open_browser_when_up(url, _display_host(settings.host), settings.port)
    try:
        app = create_app(settings, store=store, live=live, live_arenas=frozenset({arena.slug}))
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    finally:
        stop.set()
        store.close()


def register(app: typer.Typer) -> None:
    """Register ``serve`` and ``demo``."""
    app.command("serve")(serve)
    app.command("demo")(demo)
