"""``karena simulate``: the K-Sort Arena convergence study on simulated arenas."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from karena.sim.noise import NoiseModel

#: What ``--quick`` runs: small enough for under a minute on 2 busy cores.
QUICK_N, QUICK_SEEDS, QUICK_BUDGET = 30, 8, 3000
QUICK_METHODS, QUICK_NOISE = "elo,random,ucb,window-tuned", "0.05"
DEFAULT_METHODS = "elo,thurstone-k2,random,skill,ucb,ucb-k2,ucb-k6,window,window-tuned"
DEFAULT_JUDGE_CSV = Path("../shared/data/genai_bench_judge_votes.csv")


def parse_noise(spec: str, judge_csv: Path) -> tuple[str, NoiseModel]:
    """``0.05`` → flip noise; ``thurstone:1.5`` → Thurstonian β; ``judge[:name]`` → real judge."""
    from karena.errors import InvalidInput
    from karena.sim.noise import FlipNoise, JudgeNoise, ThurstonianNoise

    spec = spec.strip()
    if spec.startswith("judge"):
        judge = spec.split(":", 1)[1] if ":" in spec else "gpt4o"
        return f"judge:{judge}", JudgeNoise.from_csv(judge_csv, judge)
    if spec.startswith("thurstone:"):
        try:
            beta = float(spec.split(":", 1)[1])
        except ValueError:
            raise InvalidInput(
                f"bad Thurstonian noise {spec!r}; write e.g. thurstone:1.5"
            ) from None
        return f"β={beta:g}", ThurstonianNoise(beta)
    try:
        p = float(spec)
    except ValueError:
        raise InvalidInput(
            f"bad noise {spec!r}: give a flip probability (0.05), thurstone:β or judge[:name]"
        ) from None
    return f"{p:.0%}" if p * 100 == round(p * 100) else f"{p:g}", FlipNoise(p)


def register(app: typer.Typer) -> None:
    """Add ``karena simulate``."""

    @app.command()
    def simulate(
        quick: Annotated[
            bool,
            typer.Option("--quick", help="A small study (30 models, 8 seeds), under a minute."),
        ] = False,
        n: Annotated[int, typer.Option("--n", min=4, help="Models in each simulated arena.")] = 50,
        k: Annotated[int, typer.Option("--k", min=2, max=8, help="K of the K-wise methods.")] = 4,
        noise: Annotated[
            str,
            typer.Option(
                help="Comma-separated: flip probabilities (0,0.05), thurstone:β, judge[:name]."
            ),
        ] = "0,0.05",
        seeds: Annotated[int, typer.Option(min=1, help="Shuffled worlds per method.")] = 20,
        budget: Annotated[
            int,
            typer.Option(min=10, help="Pairwise comparisons per run (same for all)."),
        ] = 12000,
        methods: Annotated[
            str, typer.Option(help="Comma-separated method keys; 'list' prints them.")
        ] = DEFAULT_METHODS,
        output: Annotated[
            Path, typer.Option("--output", "-o", help="Folder for simulate.png and simulate.json.")
        ] = Path("simulate-results"),
        seed: Annotated[int, typer.Option(help="Master seed: same seed, same figures.")] = 0,
        judge_csv: Annotated[
            Path, typer.Option(help="GenAI-Bench judge votes, for judge noise.")
        ] = DEFAULT_JUDGE_CSV,
    ) -> None:
        """Compare rating methods and matchmakers: votes until the ranking is exactly right."""
        import json

        import numpy as np
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
        from rich.table import Table

        from karena.errors import InvalidInput
        from karena.rating.models.factor_graph import FactorGraphFFA
        from karena.sim.protocol import (
            MethodResult,
            information_floor,
            method_catalog,
            run_convergence,
            shuffled_worlds,
        )
        from karena.sim.report import convergence_json, convergence_rows, plot_convergence

        if quick:
            n, seeds, budget = QUICK_N, QUICK_SEEDS, QUICK_BUDGET
            methods, noise = QUICK_METHODS, QUICK_NOISE
        catalog = method_catalog(k, factor_graph=FactorGraphFFA())
        if methods.strip() == "list":
            for key, method in catalog.items():
                typer.echo(f"{key:<14} {method.label}")
            return
        keys = [m.strip() for m in methods.split(",") if m.strip()]
        unknown = [m for m in keys if m not in catalog]
        if unknown or not keys:
            raise InvalidInput(
                f"unknown method(s) {', '.join(unknown) or '(none given)'}; "
                f"choose from {', '.join(catalog)}"
            )
        too_big = [key for key in keys if catalog[key].k > n]
        if too_big:
            raise InvalidInput(f"methods {', '.join(too_big)} need more than --n={n} models")
        noises = [parse_noise(spec, judge_csv) for spec in noise.split(",") if spec.strip()]
        if not noises:
            raise InvalidInput("give at least one noise model")

        console = Console(stderr=True)
        worlds = shuffled_worlds(n, seeds, np.random.default_rng(seed))
        total = sum(max(budget // catalog[key].pairs_per_vote, 1) for key in keys) * len(noises)
        results: dict[str, list[MethodResult]] = {}
        with Progress(
            TextColumn("{task.description:<34}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("simulating", total=total)
            for label, model in noises:
                results[label] = []
                for i, key in enumerate(keys):
                    bar.update(task, description=f"{label} · {catalog[key].label}")
                    results[label].append(
                        run_convergence(
                            catalog[key],
                            worlds,
                            model,
                            budget,
                            seed + 1 + i,
                            progress=lambda done: bar.advance(task, done),
                        )
                    )

        floor = information_floor(n, k)
        ucb_label = catalog["ucb"].label
        table = Table(
            title=f"Votes until the ranking stays exact — N={n}, {seeds} seeds, "
            f"{budget:,} comparisons per run (floor {floor:.0f} K={k} votes)"
        )
        for col in (
            "noise",
            "method",
            "K-wise votes [IQR]",
            "pairs [IQR]",
            "converged",
            "Elo/this",
            "this/UCB",
        ):
            table.add_column(col, justify="right" if col not in ("noise", "method") else "left")
        for label, res in results.items():
            for row in convergence_rows(res, floor, ucb_label):
                name = row["method"] + (f" (k={row['elo_k']:g})" if row["elo_k"] else "")
                table.add_row(
                    label,
                    name,
                    row["votes"],
                    row["pairs"],
                    row["converged"],
                    row.get("elo_over_this_votes", "-"),
                    row.get("this_over_ucb_votes", "-"),
                )
        Console().print(table)
        output.mkdir(parents=True, exist_ok=True)
        plot_convergence(results, output / "simulate.png", f"N={n}, {seeds} seeds")
        payload: dict[str, object] = {
            "n": n,
            "k": k,
            "seeds": seeds,
            "budget_pairs": budget,
            "seed": seed,
        }
        payload["study"] = convergence_json(results, floor, ucb_label)
        (output / "simulate.json").write_text(json.dumps(payload, indent=2, default=str))
        typer.echo(f"wrote {output / 'simulate.png'} and {output / 'simulate.json'}")
