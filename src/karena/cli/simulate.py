"""``karena simulate``: the K-Sort Arena convergence study on simulated arenas."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from karena.sim.noise import NoiseModel


@dataclass(frozen=True)
class Preset:
    """The study's size when a flag is not given."""

    n: int
    seeds: int
    budget: int
    methods: str
    noise: str


#: The full study, and what ``--quick`` runs (small enough for under a minute on 2 busy cores).
FULL = Preset(
    n=50,
    seeds=20,
    budget=12000,
    methods="elo,thurstone-k2,random,skill,ucb,ucb-k2,ucb-k6,window,window-tuned",
    noise="0,0.05",
)
QUICK = Preset(n=30, seeds=8, budget=3000, methods="elo,random,ucb,window-tuned", noise="0.05")
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
            typer.Option(
                "--quick",
                help="A small study (30 models, 8 seeds), under a minute; flags given beside "
                "it still apply.",
            ),
        ] = False,
        n: Annotated[
            int | None,
            typer.Option(
                "--n", min=4, help=f"Models in each simulated arena [{FULL.n}; quick {QUICK.n}]."
            ),
        ] = None,
        k: Annotated[int, typer.Option("--k", min=2, max=8, help="K of the K-wise methods.")] = 4,
        noise: Annotated[
            str | None,
            typer.Option(
                help="Comma-separated: flip probabilities (0,0.05), thurstone:β, judge[:name] "
                f"[{FULL.noise}; quick {QUICK.noise}]."
            ),
        ] = None,
        seeds: Annotated[
            int | None,
            typer.Option(
                min=1, help=f"Shuffled worlds per method [{FULL.seeds}; quick {QUICK.seeds}]."
            ),
        ] = None,
        budget: Annotated[
            int | None,
            typer.Option(
                min=10,
                help="Pairwise comparisons per run, the same for all "
                f"[{FULL.budget}; quick {QUICK.budget}].",
            ),
        ] = None,
        methods: Annotated[
            str | None,
            typer.Option(
                help="Comma-separated method keys; 'list' prints them "
                f"[{FULL.methods}; quick {QUICK.methods}]."
            ),
        ] = None,
        output: Annotated[
            Path, typer.Option("--output", "-o", help="Folder for simulate.png and simulate.json.")
        ] = Path("simulate-results"),
        seed: Annotated[int, typer.Option(help="Master seed: same seed, same figures.")] = 0,
        judge_csv: Annotated[
            Path, typer.Option(help="GenAI-Bench judge votes, for judge noise.")
        ] = DEFAULT_JUDGE_CSV,
    ) -> None:
        """Compare rating methods and matchmakers in simulation.

        Counts the votes until the ranking is exactly right and stays so.
        """
        import json

        import numpy as np
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
        from rich.table import Table

        from karena.cli.common import print_table
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

        # --quick changes the defaults only: a flag given beside it wins.
        preset = QUICK if quick else FULL
        n = preset.n if n is None else n
        seeds = preset.seeds if seeds is None else seeds
        budget = preset.budget if budget is None else budget
        methods = preset.methods if methods is None else methods
        noise = preset.noise if noise is None else noise
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
        print_table(table)
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
