"""Batch board commands: refit an arena's batch boards now, and print one."""

from __future__ import annotations

from typing import Annotated

import typer

from karena.cli.common import command_group

DbOpt = Annotated[
    str | None,
    typer.Option("--database-url", help="SQLAlchemy URL [KARENA_DATABASE_URL; default SQLite]."),
]

board_app = command_group(
    "Refit and print the batch board.\n\nThe batch board is the leaderboard's default ranking: "
    "an order-independent fit of every counted vote, overall and per prompt category."
)


@board_app.command("refresh", short_help="Refit batch boards now (overall and per category).")
def board_refresh(
    arena: Annotated[
        str | None, typer.Option("--arena", "-a", help="Arena slug (default: every arena).")
    ] = None,
    database_url: DbOpt = None,
) -> None:
    """Refit the batch boards of an arena (or of every arena) from its counted votes now.

    The server refits them in the background (KARENA_BATCH_BOARD_* settings); this fits them
    at once, whether due or not. An arena another worker is fitting right now is skipped.
    """
    from karena.cli.common import open_store

    store = open_store(database_url)
    try:
        slugs = [arena] if arena is not None else [a.slug for a in store.catalog.list_arenas()]
        for slug in slugs:
            done = store.boards.refresh_batch_board(arena=slug)
            if not done.fitted:
                typer.echo(f"{slug}: skipped ({done.reason})")
                continue
            cats = f" and {len(done.categories)} categories" if done.categories else ""
            typer.echo(
                f"{slug}: fitted {done.votes} votes, overall board{cats}, in {done.seconds:.2f} s"
            )
    finally:
        store.close()


@board_app.command("show", short_help="Print an arena's batch board.")
def board_show(
    arena: Annotated[str, typer.Option("--arena", "-a", help="Arena slug.")],
    category: Annotated[
        str, typer.Option("--category", "-c", help="A prompt category (default: overall).")
    ] = "",
    database_url: DbOpt = None,
) -> None:
    """Print the stored batch board: rank, Rank (UB), rating, 95% bootstrap interval, votes."""
    from rich.table import Table

    from karena.cli.common import open_store, print_table

    store = open_store(database_url)
    try:
        board = store.boards.batch_board(arena=arena, category=category)
    finally:
        store.close()
    if board.fitted_at is None:
        typer.echo(f"{arena}: no batch board yet; run `karena board refresh --arena {arena}`")
        return
    where = f"{arena} / {category}" if category else arena
    title = (
        f"{where}: batch board of {board.votes} votes, fitted "
        f"{board.fitted_at:%Y-%m-%d %H:%M:%S} UTC ({board.votes_since} votes since)"
    )
    table = Table("rank", "rank (UB)", "model", "rating", "95% interval", "votes", title=title)
    for r in board.rows:
        mark = " (provisional)" if r.provisional else ""
        table.add_row(
            str(r.rank), str(r.rank_ub), r.model_name + mark, f"{r.mu:.2f}",
            f"[{r.ci_low:.2f}, {r.ci_high:.2f}]", str(r.votes),
        )  # fmt: skip
    print_table(table)


def register(app: typer.Typer) -> None:
    """Register the batch board commands."""
    app.add_typer(board_app, name="board")
