"""``karena rewards`` (ArenaPO per-pair rewards) and ``karena train-dpo`` (Diffusion-DPO)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from karena.errors import InvalidInput


def register(app: typer.Typer) -> None:
    """Register ``rewards`` and ``train-dpo``."""
    app.command("rewards")(rewards)


def rewards(
    source: Annotated[
        Path,
        typer.Argument(
            help="Preference file: Pick-a-Pic v2 schema or HPD v3-style (.parquet/.jsonl/.json), "
            "or aggregated arena counts (.json)."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("rewards"),
    fmt: Annotated[
        str, typer.Option("--format", help="auto, pickapic, hpd or arena-counts.")
    ] = "auto",
    traversal: Annotated[
        str, typer.Option(help="'shuffled' (several passes, averaged) or 'data' (file order).")
    ] = "shuffled",
    passes: Annotated[int, typer.Option(min=1, help="Shuffled passes to average.")] = 4,
    seed: Annotated[int, typer.Option(help="Seed of the shuffles.")] = 0,
    beta: Annotated[float, typer.Option(help="Per-image noise β.")] = 25.0 / 6.0,
    tau: Annotated[float, typer.Option(min=0.0, help="Variance inflation τ per update.")] = 0.0,
    draw_probability: Annotated[
        float, typer.Option(min=0.0, max=0.99, help="Draw chance of equal models (sets ε).")
    ] = 0.10,
    jsonl: Annotated[bool, typer.Option(help="Also write rewards.jsonl.")] = True,
) -> None:
    """Fit model capabilities and export per-pair ArenaPO rewards (truncated-normal gaps).

    Writes OUT/rewards.parquet, OUT/rewards.jsonl, OUT/capabilities.{csv,md}, OUT/gaps_hist.png
    and OUT/summary.json.
    """
    import numpy as np
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from karena.rating.thurstone import ThurstoneK, draw_margin_for
    from karena.reward.capabilities import fit_capabilities
    from karena.reward.export import compute_rewards, write_jsonl, write_parquet, write_summary
    from karena.reward.loaders import FORMATS, load_pairs

    if fmt not in FORMATS:
        raise InvalidInput(f"unknown --format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if traversal not in ("shuffled", "data"):
        raise InvalidInput("--traversal must be 'shuffled' or 'data'")
    if not beta > 0.0:
        raise InvalidInput("--beta must be positive")
    if traversal == "data" and passes != 1:
        passes = 1
    console = Console(stderr=True)
    with console.status(f"reading {source}"):
        pairs = load_pairs(source, fmt)  # type: ignore[arg-type]
    console.print(f"{len(pairs):,} pairs, {pairs.n_models} models, {int(pairs.tie.sum()):,} ties")
    margin = draw_margin_for(draw_probability, beta) if draw_probability > 0 else 0.0
    model = ThurstoneK(beta=beta, tau=tau, draw_margin=margin)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("fitting capabilities", total=len(pairs) * passes)
        caps = fit_capabilities(
            pairs,
            model,
            traversal=traversal,  # type: ignore[arg-type]
            passes=passes,
            rng=np.random.default_rng(seed),
            progress=lambda n: bar.advance(task, n),
        )
        table = compute_rewards(pairs, caps)
        written = [write_parquet(table, out / "rewards.parquet")]
        if jsonl:
            task = bar.add_task("writing rewards.jsonl", total=len(table))
            written.append(
                write_jsonl(table, out / "rewards.jsonl", progress=lambda n: bar.advance(task, n))
            )
    written += write_summary(caps, table, out)
    top = caps.table()[:5]
    for row in top:
        console.print(
            f"  {row['rank']:>3}  {row['model']:<30} μ={row['mu']:.3f} σ={row['sigma']:.3f}"
        )
    for path in written:
        typer.echo(str(path))
