"""``karena generate`` (fill a gallery ahead of time) and ``karena worker`` (run queued jobs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from karena.cli.common import print_table

DbOpt = Annotated[
    str | None,
    typer.Option("--database-url", help="SQLAlchemy URL [KARENA_DATABASE_URL; default SQLite]."),
]


def generate(
    arena: Annotated[str, typer.Option("--arena", "-a", help="Arena slug.")],
    prompts: Annotated[
        Path | None,
        typer.Option(
            "--prompts",
            "-p",
            help="Prompt set: .jsonl/.json/.csv/.tsv (id, text, category) or .txt (one a "
            "line). Default: the arena's own prompts.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            help="A model to run (repeat). Default: every enabled model with a generator config.",
        ),
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-j", min=1, max=256, help="Calls in flight at once.")
    ] = 4,
    retries: Annotated[
        int, typer.Option(min=0, max=20, help="Retries of a call that failed transiently.")
    ] = 3,
    backoff: Annotated[
        float, typer.Option(min=0.0, max=600.0, help="Seconds before the first retry; doubles.")
    ] = 1.0,
    database_url: DbOpt = None,
) -> None:
    """Fill an arena's gallery: each model's generator on each prompt it has no output for.

    Outputs are stored as they arrive, so a run that is stopped or killed can simply be run
    again: what is stored is skipped, nothing is generated twice. Exits 1 when some failed.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
    from rich.table import Table

    from karena.cli.common import open_store
    from karena.generators.gallery import read_prompt_file
    from karena.services.generate import fill_gallery

    store = open_store(database_url)
    try:
        prompt_set = read_prompt_file(prompts, store.settings.max_upload_bytes) if prompts else None
        columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
        with Progress(*columns, TimeElapsedColumn(), transient=True) as bar:
            task = bar.add_task(f"generating for {arena}", total=None)
            report = fill_gallery(
                store,
                arena=arena,
                prompts=prompt_set,
                models=model or (),
                concurrency=concurrency,
                retries=retries,
                backoff=backoff,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    finally:
        store.close()
    typer.echo(report.summary())
    if report.failures:
        table = Table(title="failed")
        for column in ("model", "prompt", "attempts", "error"):
            table.add_column(column)
        for f in sorted(report.failures, key=lambda f: (f.model, f.prompt_key)):
            table.add_row(f.model, f.prompt_key, str(f.attempts), f.error)
        print_table(table)
        raise typer.Exit(1)


def worker(
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-j", min=1, max=256, help="Jobs run at once.")
    ] = 1,
    arena: Annotated[
        str | None, typer.Option("--arena", "-a", help="Only this arena's jobs.")
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Exit when the queue is empty instead of waiting.")
    ] = False,
    database_url: DbOpt = None,
) -> None:
    """Run queued generation jobs (typed prompts) until stopped (Ctrl-C or SIGTERM).

    Start as many as you like, on this machine or on GPU machines that share the database:
    each job is taken by one worker at a time, under a lease its heartbeat renews; the job of a
    worker that is killed is taken again once its lease runs out. Runs only models with a
    stored generator config.
    """
    import logging
    import signal
    import threading

    from karena.cli.common import open_store
    from karena.services.live import LiveGenerators
    from karena.services.queue import WorkerStats, default_worker_name, run_worker, warm_up

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    # The job log is karena's; Alembic's start-up chatter (plugin set-up) is not news here.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    store = open_store(database_url)
    warm_up()
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    live = LiveGenerators(store)
    totals = WorkerStats()
    lock = threading.Lock()
    base = default_worker_name()

    def one(i: int) -> None:
        stats = run_worker(store, live, name=f"{base}:{i}", stop=stop, arena=arena,
                           configured_only=True, exit_when_idle=once)  # fmt: skip
        with lock:
            totals.done += stats.done
            totals.retried += stats.retried
            totals.failed += stats.failed

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(concurrency)]
    typer.echo(f"worker {base}: {concurrency} at a time" + (f", arena {arena}" if arena else ""))
    try:
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            for t in threads:
                t.join(timeout=0.2)
    except KeyboardInterrupt:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    finally:
        signal.signal(signal.SIGTERM, previous)
        store.close()
    typer.echo(f"{totals.done} jobs done, {totals.retried} retried, {totals.failed} failed")


def register(app: typer.Typer) -> None:
    """Add ``generate`` and ``worker`` to the CLI."""
    app.command("generate", short_help="Fill a gallery from a prompt set with live generators.")(
        generate
    )
    app.command("worker", short_help="Run queued generation jobs (typed prompts).")(worker)
