"""Storage commands: migrate, import, export, recompute, and small admin commands."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from karena.cli.common import command_group

if TYPE_CHECKING:
    from karena.store import Store

DbOpt = Annotated[
    str | None,
    typer.Option("--database-url", help="SQLAlchemy URL [KARENA_DATABASE_URL; default SQLite]."),
]
ArenaOpt = Annotated[str, typer.Option("--arena", "-a", help="Arena slug.")]


def _open(database_url: str | None) -> Store:
    from karena.cli.common import open_store

    return open_store(database_url)


def migrate(database_url: DbOpt = None) -> None:
    """Create or upgrade the database schema.

    The only command that creates one (``serve`` and ``demo`` do on an empty database); every
    other command refuses a database without karena's latest schema.
    """
    from karena.cli.common import load_settings
    from karena.store.db import Database, display_url

    url = load_settings(database_url).resolved_database_url()
    db = Database.connect(url)
    try:
        before, after = db.migrate()
    finally:
        db.dispose()
    if before is None:
        typer.echo(f"created the karena schema in {display_url(url)}")
    typer.echo(f"schema at revision {after} (was {before or 'empty'})")


def import_command(
    path: Annotated[Path, typer.Argument(help="Gallery folder, .zip file or .jsonl manifest.")],
    arena: ArenaOpt,
    layout: Annotated[
        str, typer.Option(help="auto, folder, manifest or ksort (K-Sort Eval dataset).")
    ] = "auto",
    create_arena: Annotated[
        bool, typer.Option("--create-arena", help="Create the arena if it does not exist.")
    ] = False,
    modality: Annotated[str, typer.Option(help="Modality of a created arena.")] = "image",
    k: Annotated[int | None, typer.Option("--k", help="K of a created arena.")] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace outputs that differ from stored ones.")
    ] = False,
    raw_model_names: Annotated[
        bool, typer.Option("--raw-model-names", help="K-Sort layout: keep models_name as is.")
    ] = False,
    database_url: DbOpt = None,
) -> None:
    """Import pre-generated outputs into an arena.

    For the K-Sort Eval layout, its human votes too. A layout that finds nothing is an error.
    """
    from rich.progress import Progress

    from karena.services.gallery import import_gallery

    store = _open(database_url)
    try:
        if create_arena:
            store.catalog.create_arena(slug=arena, modality=modality, k=k, exist_ok=True)
        with Progress(transient=True) as bar:
            task = bar.add_task(f"importing {path.name}", total=None)
            report = import_gallery(
                store,
                arena=arena,
                path=path,
                layout=layout,
                replace=replace,
                raw_model_names=raw_model_names,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    finally:
        store.close()
    typer.echo(report.summary())


def export(
    arena: ArenaOpt,
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="jsonl, csv or parquet.")] = "jsonl",
    category: Annotated[
        str | None,
        typer.Option("--category", "-c", help="Only votes on prompts of this category."),
    ] = None,
    database_url: DbOpt = None,
) -> None:
    """Export an arena's vote log (JSONL, CSV or Parquet).

    `karena replay` reads the JSONL; Hugging Face datasets loads the Parquet. --category keeps
    the votes on prompts of one category.
    """
    from karena.errors import InvalidInput

    if fmt not in ("jsonl", "csv", "parquet"):
        raise InvalidInput(f"--format must be jsonl, csv or parquet, got {fmt!r}")
    store = _open(database_url)
    try:
        rows = store.voting.export_votes(
            arena=arena,
            path=output,
            fmt=fmt,  # type: ignore[arg-type]
            category=category,
        )
    finally:
        store.close()
    typer.echo(f"wrote {rows} votes to {output}")


def recompute(
    arena: Annotated[
        str | None, typer.Option("--arena", "-a", help="Arena slug (default: every arena).")
    ] = None,
    database_url: DbOpt = None,
) -> None:
    """Rebuild ratings exactly from the vote log.

    Reports any drift from the live ratings (both read under the arena lock, so votes cast
    meanwhile do not count as drift).
    """
    store = _open(database_url)
    try:
        slugs = [arena] if arena is not None else [a.slug for a in store.catalog.list_arenas()]
        for slug in slugs:
            done = store.boards.recompute_report(arena=slug)
            typer.echo(
                f"{slug}: replayed {done.votes} votes; "
                f"largest change |Δμ|+|Δσ| = {done.largest_change:.3g}"
            )
    finally:
        store.close()


def leaderboard(arena: ArenaOpt, database_url: DbOpt = None) -> None:
    """Print an arena's online leaderboard.

    The batch board, the default ranking of the web page and API, is `karena board show`.
    """
    from rich.table import Table

    from karena.cli.common import print_table

    store = _open(database_url)
    try:
        rows = store.boards.leaderboard(arena=arena)
    finally:
        store.close()
    table = Table("rank", "model", "score", "μ", "σ", "95% interval", "votes", title=arena)
    for r in rows:
        mark = " (provisional)" if r.provisional else ""
        table.add_row(
            str(r.rank), r.model_name + mark, f"{r.score:.2f}", f"{r.mu:.2f}", f"{r.sigma:.2f}",
            f"[{r.ci_low:.2f}, {r.ci_high:.2f}]", str(r.votes),
        )  # fmt: skip
    print_table(table)


arena_app = command_group("Create and list arenas.")
model_app = command_group("Add, enable and disable models.")
prompt_app = command_group("Add prompts and set their categories.")
voter_app = command_group("Ban and unban voters; list the least reliable ones.")


@arena_app.command("add")
def arena_add(
    slug: Annotated[str, typer.Argument(help="Short id: lower-case letters, digits, - and _.")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    modality: Annotated[str, typer.Option(help="image, video or text.")] = "image",
    k: Annotated[int | None, typer.Option("--k", help="Contestants per battle.")] = None,
    rating_model: Annotated[str | None, typer.Option(help="e.g. thurstone, elo.")] = None,
    matchmaker: Annotated[str | None, typer.Option(help="e.g. ucb, random.")] = None,
    database_url: DbOpt = None,
) -> None:
    """Create an arena."""
    store = _open(database_url)
    try:
        a = store.catalog.create_arena(
            slug=slug, name=name, modality=modality, k=k, rating_model=rating_model,
            matchmaker=matchmaker,
        )  # fmt: skip
    finally:
        store.close()
    typer.echo(f"created arena {a.slug} (K={a.k}, {a.rating_model}, {a.matchmaker})")


@arena_app.command("paired", short_help="Seat variants with their parents (paired mode).")
def arena_paired(
    slug: Annotated[str, typer.Argument(help="Arena slug.")],
    share: Annotated[float, typer.Argument(help="Share of battles in [0, 1]; 0 turns it off.")],
    database_url: DbOpt = None,
) -> None:
    """Paired mode: seat undecided variants with their parents in a share of battles."""
    store = _open(database_url)
    try:
        store.catalog.set_paired_share(arena=slug, share=share)
    finally:
        store.close()
    state = f"{share:g} of battles" if share > 0 else "off"
    typer.echo(f"paired evaluation in {slug}: {state}")


@arena_app.command("list")
def arena_list(database_url: DbOpt = None) -> None:
    """List arenas."""
    store = _open(database_url)
    try:
        for a in store.catalog.list_arenas():
            typer.echo(f"{a.slug}\t{a.modality}\tK={a.k}\t{a.rating_model}\t{a.vote_count} votes")
    finally:
        store.close()


@model_app.command("add")
def model_add(
    arena: Annotated[str, typer.Argument(help="Arena slug.")],
    name: Annotated[str, typer.Argument(help="Model name.")],
    organization: Annotated[str, typer.Option(help="Who made it.")] = "",
    link: Annotated[str, typer.Option(help="http(s) link to the model.")] = "",
    parent: Annotated[
        str | None, typer.Option(help="The model of this arena it is a variant of.")
    ] = None,
    generator: Annotated[
        str | None,
        typer.Option(
            help='Live generator config as JSON, e.g. \'{"kind": "fal", ...}\' '
            "(docs/generation.md)."
        ),
    ] = None,
    database_url: DbOpt = None,
) -> None:
    """Add a model to an arena.

    With --generator it can make outputs on demand (typed prompts, karena generate).
    """
    import json

    from karena.errors import InvalidInput
    from karena.generators.registry import check_generator_config

    config = None
    if generator is not None:
        try:
            config = json.loads(generator)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"--generator is not valid JSON: {exc.msg}") from None
        if not isinstance(config, dict):
            raise InvalidInput("--generator must be a JSON object")
        check_generator_config(config)
    store = _open(database_url)
    try:
        m = store.catalog.add_model(
            arena=arena, name=name, organization=organization, link=link, parent=parent,
            generator=config,
        )  # fmt: skip
    finally:
        store.close()
    family = f" (a variant of {m.parent})" if m.parent else ""
    typer.echo(f"added model {m.name} to {arena}{family}")


@model_app.command("parent", short_help="Declare a model a variant of another.")
def model_parent(
    arena: Annotated[str, typer.Argument(help="Arena slug.")],
    name: Annotated[str, typer.Argument(help="The variant.")],
    parent: Annotated[str | None, typer.Argument(help="Its parent; omit to clear.")] = None,
    database_url: DbOpt = None,
) -> None:
    """Declare a model a variant of another (its page then shows the verdict against it)."""
    store = _open(database_url)
    try:
        m = store.catalog.set_model_parent(arena=arena, name=name, parent=parent)
    finally:
        store.close()
    typer.echo(f"{m.name} is a variant of {m.parent}" if m.parent else f"{m.name} has no parent")


def _set_enabled(arena: str, name: str, enabled: bool, database_url: str | None) -> None:
    store = _open(database_url)
    try:
        store.catalog.set_model_enabled(arena=arena, name=name, enabled=enabled)
    finally:
        store.close()
    typer.echo(f"{name} in {arena} is now {'enabled' if enabled else 'disabled'}")


@model_app.command("enable")
def model_enable(arena: str, name: str, database_url: DbOpt = None) -> None:
    """Enable a model (it can be matched again)."""
    _set_enabled(arena, name, True, database_url)


@model_app.command("disable")
def model_disable(arena: str, name: str, database_url: DbOpt = None) -> None:
    """Disable a model (it is never matched; its votes stay)."""
    _set_enabled(arena, name, False, database_url)


@prompt_app.command("add")
def prompt_add(
    arena: Annotated[str, typer.Argument(help="Arena slug.")],
    text: Annotated[str, typer.Argument(help="Prompt text.")],
    key: Annotated[str | None, typer.Option(help="External id (default: a text hash).")] = None,
    category: Annotated[str, typer.Option(help="Category label.")] = "",
    database_url: DbOpt = None,
) -> None:
    """Add a prompt to an arena."""
    store = _open(database_url)
    try:
        p = store.catalog.add_prompt(arena=arena, text=text, key=key, category=category)
    finally:
        store.close()
    typer.echo(f"prompt {p.key} in {arena}")


@prompt_app.command("category", short_help="Set or clear a prompt's category.")
def prompt_category(
    arena: Annotated[str, typer.Argument(help="Arena slug.")],
    key: Annotated[str, typer.Argument(help="The prompt's key.")],
    category: Annotated[str, typer.Argument(help="The category; omit it to clear.")] = "",
    database_url: DbOpt = None,
) -> None:
    """Set (or, without CATEGORY, clear) a prompt's category.

    The category batch boards follow at their next refit (karena board refresh).
    """
    store = _open(database_url)
    try:
        p = store.catalog.set_prompt_category(arena=arena, key=key, category=category)
    finally:
        store.close()
    typer.echo(f"prompt {p.key} in {arena}: category {p.category or '(none)'}")


@voter_app.command("ban")
def voter_ban(
    voter_hash: Annotated[str, typer.Argument(help="The voter hash (as exported).")],
    reason: Annotated[str, typer.Option(help="Why.")] = "",
    keep_past: Annotated[
        bool, typer.Option("--keep-past", help="Keep counting the voter's earlier votes.")
    ] = False,
    voter_only: Annotated[
        bool,
        typer.Option(
            "--voter-only",
            help="Ban the cookie only, not the addresses it voted from (shared addresses).",
        ),
    ] = False,
    database_url: DbOpt = None,
) -> None:
    """Ban a voter: their new votes are refused.

    By default their past votes stop counting too (ratings rebuilt), and the ban covers the
    addresses they voted from, so a fresh cookie from there is refused too.
    """
    store = _open(database_url)
    try:
        n = store.voting.ban_voter(
            voter_hash=voter_hash,
            reason=reason,
            discount_past=not keep_past,
            ban_addresses=not voter_only,
        )
    finally:
        store.close()
    typer.echo(f"banned; {n} earlier votes discounted and ratings rebuilt")


@voter_app.command("unban")
def voter_unban(
    voter_hash: Annotated[str, typer.Argument(help="The voter hash (as exported).")],
    keep_discounted: Annotated[
        bool,
        typer.Option(
            "--keep-discounted", help="Leave the votes the ban discounted out of the ratings."
        ),
    ] = False,
    database_url: DbOpt = None,
) -> None:
    """Lift a ban: the voter may vote again.

    By default the votes the ban discounted count again (ratings rebuilt).
    """
    store = _open(database_url)
    try:
        n = store.voting.unban_voter(voter_hash=voter_hash, restore_past=not keep_discounted)
    finally:
        store.close()
    if keep_discounted:
        typer.echo("unbanned; the votes the ban discounted stay discounted")
    else:
        typer.echo(f"unbanned; {n} discounted votes count again and ratings rebuilt")


@voter_app.command("list", short_help="The least reliable voters of an arena.")
def voter_list(
    arena: ArenaOpt,
    limit: Annotated[int, typer.Option(help="How many voters to show.")] = 20,
    recent: Annotated[
        int | None, typer.Option(help="Fit only the last N counted votes (default: all).")
    ] = None,
    database_url: DbOpt = None,
) -> None:
    """The least reliable voters of an arena: blind clickers and partisans first."""
    from rich.console import Console
    from rich.table import Table

    store = _open(database_url)
    try:
        report = store.voters.reliability(arena=arena, limit=limit, recent=recent)
    finally:
        store.close()
    honest, blind, partisan = report.mix
    table = Table(
        "voter hash", "votes", "reliability", "P(blind)", "likeliest partisan", "banned",
        title=f"{arena}: {report.voters_total} voters, {report.votes} counted votes "
        f"(honest {honest:.0%}, blind {blind:.0%}, partisan {partisan:.0%})",
    )  # fmt: skip
    for v in report.voters:
        push = f"{v.suspect} {v.direction} ({v.suspect_probability:.0%})" if v.suspect else "-"
        table.add_row(
            v.voter_hash, str(v.votes), f"{v.reliability:.2f}", f"{v.blind:.2f}", push,
            "yes" if v.banned else "",
        )  # fmt: skip
    Console(width=200).print(table)


def register(app: typer.Typer) -> None:
    """Register the storage commands."""
    app.command("migrate")(migrate)
    app.command("import")(import_command)
    app.command("export")(export)
    app.command("recompute")(recompute)
    app.command("leaderboard")(leaderboard)
    app.add_typer(arena_app, name="arena")
    app.add_typer(model_app, name="model")
    app.add_typer(prompt_app, name="prompt")
    app.add_typer(voter_app, name="voter")
