"""What every command module shares: the Typer app style, opening the store, printing tables."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.table import Table

    from karena.settings import Settings
    from karena.store import Store


def command_group(help_text: str) -> typer.Typer:
    """A Typer app (or sub-group) in karena's help style.

    Plain click help (``rich_markup_mode=None``): it wraps long option names and help text
    instead of cutting them with "…" at 80 columns, and shows no ``<bool>`` metavar on flags.
    """
    return typer.Typer(
        help=help_text,
        no_args_is_help=True,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        add_completion=False,
    )


def load_settings(database_url: str | None = None, **updates: Any) -> Settings:
    """``Settings()`` from ``KARENA_*`` with the given flags on top (None: not given)."""
    from karena.settings import Settings

    changes = {key: value for key, value in updates.items() if value is not None}
    if database_url is not None:
        changes["database_url"] = database_url
    return Settings().model_copy(update=changes)


def open_store(database_url: str | None = None, *, settings: Settings | None = None) -> Store:
    """The store of an existing, up-to-date database; creates and migrates nothing.

    Only ``karena migrate`` (and ``serve``/``demo`` on an empty database) create a schema: any
    other command on a missing or old one stops with one line that says what to run.
    """
    from karena.store import Store

    if settings is None:
        settings = load_settings(database_url)
    return Store.open(settings, migrate=False)


def print_table(table: Table) -> None:
    """Print a rich table on stdout without cutting any cell.

    On a terminal every column folds what does not fit onto more lines; into a pipe or a file
    the table is printed at its natural width (rich would assume 80 columns and cut cells).
    """
    from rich.console import Console

    for column in table.columns:
        column.overflow = "fold"
    console = Console()
    if not console.is_terminal:
        natural = Console(width=10_000).measure(table).maximum
        console = Console(width=max(natural, 80))
    console.print(table)
