"""``karena doctor``: check an installation and its settings, one line each, creating nothing."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

if TYPE_CHECKING:
    from karena.settings import Settings

Status = Literal["ok", "warn", "FAIL", "--"]
#: Shorter admin tokens are guessable by a patient client (the admin API has no lockout).
MIN_ADMIN_TOKEN_CHARS = 16


@dataclass(frozen=True)
class Check:
    """One line of the report: ``FAIL`` is something to fix, ``warn`` something to know."""

    status: Status
    name: str
    detail: str

    def line(self) -> str:
        return f"{self.status:<4}  {self.name:<12} {self.detail}"


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def check_database(settings: Settings) -> Check:
    """Reachable, and where its schema stands; opens no SQLite file that does not exist."""
    from karena.errors import KarenaError
    from karena.store.db import Database, display_url

    url = settings.resolved_database_url()
    sqlite_file = _sqlite_file(url)
    if sqlite_file is not None and not sqlite_file.exists():
        return Check(
            "warn",
            "database",
            f"no database file at {sqlite_file} yet; `karena migrate` (or `karena serve`) "
            "creates it",
        )
    try:
        db = Database.connect(url)
    except KarenaError as exc:
        return Check("FAIL", "database", exc.message)
    where = display_url(url)
    try:
        status = db.schema_status()
    except KarenaError as exc:
        return Check("FAIL", "database", exc.message)
    finally:
        db.dispose()
    if status.ok:
        return Check("ok", "database", f"{where}: schema at revision {status.current} (latest)")
    if status.current is not None and not status.known:
        return Check("FAIL", "database", status.problem(where))
    # An empty or old database is what `karena migrate` and `karena serve` are for.
    return Check("warn", "database", status.problem(where) + " (or `karena serve` does)")


def check_media(settings: Settings) -> Check:
    """The media folder is a writable folder, or can be made on the first stored output."""
    folder = settings.resolved_media_dir()
    if folder.is_dir():
        if os.access(folder, os.W_OK | os.X_OK):
            return Check("ok", "media", f"{folder}: a writable folder")
        return Check("FAIL", "media", f"{folder} is not writable (KARENA_MEDIA_DIR)")
    if folder.exists():
        return Check("FAIL", "media", f"{folder} is not a folder (KARENA_MEDIA_DIR)")
    parent = next((p for p in folder.parents if p.exists()), Path("/"))
    if os.access(parent, os.W_OK | os.X_OK):
        return Check("warn", "media", f"{folder} does not exist yet (made for the first output)")
    return Check("FAIL", "media", f"{folder} cannot be created: {parent} is not writable")


def check_secrets(settings: Settings, demo: bool) -> list[Check]:
    """The voter salt is not the published default, and an admin token is set (long enough)."""
    from karena.settings import Settings

    checks = []
    default_salt = Settings.model_fields["voter_salt"].default.get_secret_value()
    if settings.voter_salt.get_secret_value() != default_salt:
        checks.append(Check("ok", "voter salt", "KARENA_VOTER_SALT is set"))
    elif demo:
        checks.append(
            Check(
                "ok",
                "voter salt",
                "the default: `karena demo` makes a random one for its data folder instead",
            )
        )
    else:
        checks.append(
            Check(
                "FAIL",
                "voter salt",
                "KARENA_VOTER_SALT is the published default, so anyone can undo the voter "
                "hashes in an export and forge voter cookies (`karena serve` refuses it): set "
                "a long random secret",
            )
        )
    token = settings.admin_token.get_secret_value() if settings.admin_token else ""
    if not token:
        status: Status = "ok" if demo else "warn"
        checks.append(
            Check(status, "admin token", "KARENA_ADMIN_TOKEN is not set: the admin API is off")
        )
    elif len(token) < MIN_ADMIN_TOKEN_CHARS:
        checks.append(
            Check(
                "FAIL",
                "admin token",
                f"KARENA_ADMIN_TOKEN has {len(token)} characters; use at least "
                f"{MIN_ADMIN_TOKEN_CHARS} random ones",
            )
        )
    else:
        checks.append(Check("ok", "admin token", "KARENA_ADMIN_TOKEN is set"))
    return checks


#: What each optional extra is for, in the report.
EXTRA_USES = {
    "train": "`karena train-dpo`",
    "test": "the test suite and benchmarks",
    "diffusers": "the local diffusers generator (docs/generation.md)",
}


def check_extras() -> list[Check]:
    """Each optional extra of the installed karena: installed, partly, or not at all."""
    try:
        requires = metadata.requires("karena") or []
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return [Check("warn", "extras", "karena is not installed as a package: no extras known")]
    extras: dict[str, list[str]] = {}
    for requirement in requires:
        found = re.search(r"""extra\s*==\s*["']([^"']+)["']""", requirement)
        if found:
            name = re.match(r"[A-Za-z0-9_.\-]+", requirement)
            if name:
                extras.setdefault(found.group(1), []).append(name.group(0))
    checks = []
    for extra, packages in sorted(extras.items()):
        missing = [p for p in packages if not _installed(p)]
        use = EXTRA_USES.get(extra, f"karena[{extra}]")
        if not missing:
            checks.append(Check("ok", f"[{extra}]", f"installed ({', '.join(packages)})"))
        else:
            checks.append(
                Check(
                    "--",
                    f"[{extra}]",
                    f"not installed ({', '.join(missing)} missing): "
                    f"pip install 'karena[{extra}]' for {use}",
                )
            )
    return checks


def _installed(package: str) -> bool:
    try:
        metadata.version(package)
    except metadata.PackageNotFoundError:
        return False
    return True


def register(app: typer.Typer) -> None:
    """Add ``karena doctor``."""

    @app.command()
    def doctor(
        database_url: Annotated[
            str | None,
            typer.Option("--database-url", help="SQLAlchemy URL [KARENA_DATABASE_URL]."),
        ] = None,
        demo: Annotated[
            bool,
            typer.Option(
                "--demo",
                help="Check for `karena demo`: the default voter salt and no admin token are "
                "fine there.",
            ),
        ] = False,
    ) -> None:
        """Check settings, database, media folder and extras.

        One line each; creates and migrates nothing. Exits 1 when a line says FAIL.
        """
        from pydantic import ValidationError

        from karena.cli.common import load_settings
        from karena.settings import settings_error_message

        try:
            settings = load_settings(None if demo else database_url)
        except ValidationError as exc:
            typer.echo(Check("FAIL", "settings", settings_error_message(exc)).line())
            raise typer.Exit(1) from None
        if demo:  # what `karena demo` runs on, whatever KARENA_DATABASE_URL says
            settings = settings.model_copy(update={"database_url": None, "media_dir": None})
        checks = [
            Check("ok", "settings", "every KARENA_* value is valid"),
            check_database(settings),
            check_media(settings),
            *check_secrets(settings, demo),
            *check_extras(),
        ]
        for check in checks:
            typer.echo(check.line())
        failed = [c.name for c in checks if c.status == "FAIL"]
        if failed:
            typer.echo(f"doctor: {len(failed)} to fix ({', '.join(failed)})")
            raise typer.Exit(1)
        typer.echo("doctor: nothing to fix")
