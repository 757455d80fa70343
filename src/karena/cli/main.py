"""The ``karena`` entry point. Each command group lives in its own module with a ``register``."""

from __future__ import annotations

import importlib
import sys

import typer

from karena.errors import KarenaError

#: Command modules, each exposing ``register(app: typer.Typer) -> None``.
COMMAND_MODULES = ("replay", "simulate", "store", "serve", "eval", "rewards")


def build_app() -> typer.Typer:
    """Build the Typer app with every command registered."""
    app = typer.Typer(
        name="karena",
        help="Rank generative models from K-wise human and VLM preferences.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )

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


def run() -> None:
    """Console-script entry: domain errors become one readable line and exit code 2."""
    app = build_app()
    try:
        app()
    except KarenaError as exc:
        typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    run()
