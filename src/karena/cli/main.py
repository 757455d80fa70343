"""The ``karena`` entry point. Each command group lives in its own module with a ``register``."""

from __future__ import annotations

import importlib
import sys
from typing import NoReturn

import click
import typer

from karena.cli.common import command_group
from karena.errors import KarenaError

#: Command-line errors (unknown option, missing argument, bad value): click's, or those of the
#: click that newer Typer releases vendor, whose base class is ``typer.TyperException``.
_CLI_ERRORS: tuple[type[Exception], ...] = tuple(
    t for t in (getattr(typer, "TyperException", None), click.ClickException) if t is not None
)
_ABORTS: tuple[type[BaseException], ...] = (KeyboardInterrupt, typer.Abort, click.exceptions.Abort)

#: Command modules, each exposing ``register(app: typer.Typer) -> None``.
COMMAND_MODULES = (
    "replay", "simulate", "store", "board", "serve", "eval", "rewards", "doctor", "generate",
)  # fmt: skip


def build_app() -> typer.Typer:
    """Build the Typer app with every command registered."""
    app = command_group("Rank generative models from K-wise human and VLM preferences.")

    @app.callback()
    def main() -> None:
        """karena: K-Sort Arena, K-Sort Eval and ArenaPO."""

    @app.command()
    def version() -> None:
        """Print karena's version."""
        from karena import __version__

        typer.echo(__version__)

    for name in COMMAND_MODULES:
        importlib.import_module(f"karena.cli.{name}").register(app)
    return app


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    sys.exit(code)


def error_line(exc: BaseException) -> str | None:
    """The one line a user sees for an error we expect outside karena's own checks, or None.

    Bad ``KARENA_*`` values (pydantic), a database that cannot be reached or answers with an
    error (SQLAlchemy), and files that cannot be read or written (OSError).
    """
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        from karena.settings import settings_error_message

        return settings_error_message(exc)
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    if isinstance(exc, DBAPIError):
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        return f"database error (KARENA_DATABASE_URL or --database-url): {reason}"
    if isinstance(exc, SQLAlchemyError):
        return f"database error: {str(exc).splitlines()[0]}"
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    return None


def _usage_error(exc: Exception) -> NoReturn:
    """A command-line mistake as one ``error:`` line that points at the command's --help."""
    code: int = getattr(exc, "exit_code", 2)
    if type(exc).__name__ == "NoArgsIsHelpError":
        exc.show()  # type: ignore[attr-defined]  # a group given nothing: its help is the answer
        sys.exit(code)
    format_message = getattr(exc, "format_message", None)
    message: str = format_message() if callable(format_message) else str(exc)
    command = getattr(getattr(exc, "ctx", None), "command_path", None)
    if isinstance(command, str) and command:
        message += f" (see `{command} --help`)"
    _fail(message, code)


def run(args: list[str] | None = None) -> None:
    """Console-script entry: every error a user can cause is one ``error:`` line, exit code 2.

    ``args`` defaults to ``sys.argv[1:]``; it always ends in ``SystemExit``.
    """
    app = build_app()
    try:
        # Not standalone, so that usage errors get the same one-line form as the others.
        code = typer.main.get_command(app).main(
            args=args, prog_name="karena", standalone_mode=False
        )
    except KarenaError as exc:
        _fail(exc.message)
    except _CLI_ERRORS as exc:
        _usage_error(exc)
    except _ABORTS:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        line = error_line(exc)
        if line is None:
            raise
        _fail(line)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    run()
