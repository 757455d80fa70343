"""``karena eval``: place a new model on a leaderboard with a VLM judge (K-Sort Eval)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from karena.errors import InvalidInput


class Uncertainty(StrEnum):
    mean = "mean"
    sum = "sum"


class VideoModeOpt(StrEnum):
    auto = "auto"
    frames = "frames"
    video_url = "video_url"


class UpdateOpt(StrEnum):
    sequential = "sequential"
    joint = "joint"


def register(app: typer.Typer) -> None:
    """Register ``karena eval``."""
    app.command(name="eval")(eval_command)


def eval_command(
    model: Annotated[str, typer.Option("--model", help="Name of the new model being placed.")],
    reference: Annotated[
        Path | None,
        typer.Option("--reference", help="K-Sort Eval dataset folder (result.json + 0..3.jpg)."),
    ] = None,
    arena: Annotated[
        str | None, typer.Option("--arena", help="Use this arena's voted battles instead.")
    ] = None,
    leaderboard: Annotated[
        Path | None, typer.Option("--leaderboard", help="Board JSON for --reference.")
    ] = None,
    modality: Annotated[str, typer.Option(help="image or video (for --reference).")] = "image",
    min_agreement: Annotated[
        float | None,
        typer.Option(help="Keep instances with Spearman(human, board) above this [arena: 0.75]."),
    ] = None,
    skip_bad_instances: Annotated[
        bool, typer.Option(help="Skip broken instance folders instead of stopping.")
    ] = False,
    outputs: Annotated[
        Path | None, typer.Option("--outputs", help="Folder of the new model's outputs by prompt.")
    ] = None,
    generator: Annotated[
        str | None,
        typer.Option("--generator", help="Live generator 'package.module:attr' (prompt -> image)."),
    ] = None,
    generator_url: Annotated[
        str | None,
        typer.Option(help="Live OpenAI-compatible images endpoint (base URL up to /v1)."),
    ] = None,
    generator_model: Annotated[
        str, typer.Option(help="Model name for --generator-url.")
    ] = "dall-e-3",
    generator_key_env: Annotated[
        str, typer.Option(help="Env variable with --generator-url's API key ('' for none).")
    ] = "OPENAI_API_KEY",
    out: Annotated[
        Path | None, typer.Option("--out", help="Report folder [./ksort-eval/<model>].")
    ] = None,
    journal: Annotated[
        Path | None, typer.Option(help="Journal file [<out>/journal.jsonl].")
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue the journal's evaluation.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Discard an existing journal.")] = False,
    judge_url: Annotated[
        str | None, typer.Option(help="Chat-completions base URL [KARENA_JUDGE_BASE_URL].")
    ] = None,
    judge_model: Annotated[
        str | None, typer.Option(help="Judge model [KARENA_JUDGE_MODEL].")
    ] = None,
    api_key_env: Annotated[
        str | None,
        typer.Option(help="Name of the env variable with the API key [KARENA_JUDGE_API_KEY_ENV]."),
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="Judge calls in flight [KARENA_JUDGE_CONCURRENCY].")
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(min=0.01, help="Seconds per judge call [KARENA_JUDGE_TIMEOUT_SECONDS]."),
    ] = None,
    max_retries: Annotated[
        int | None,
        typer.Option(min=0, help="Retries per call and re-asks [KARENA_JUDGE_MAX_RETRIES]."),
    ] = None,
    rules: Annotated[
        Path | None, typer.Option(help="Rule-set override: JSON, or a text instruction template.")
    ] = None,
    print_rules: Annotated[
        bool, typer.Option(help="Print the built-in rule set as JSON and exit.")
    ] = False,
    max_runs: Annotated[int, typer.Option(min=1, help="Stop after this many runs.")] = 150,
    stop_sigma: Annotated[float, typer.Option(help="Stop when σ falls below this.")] = 0.75,
    alpha: Annotated[float, typer.Option(help="Weight of diversity in matching.")] = 0.5,
    kappa: Annotated[float, typer.Option(help="Slope κ of the correction sigmoid.")] = 5.0,
    uncertainty: Annotated[
        Uncertainty, typer.Option(help="mean: |mean μ_k − μ| (code); sum: Σ|μ − μ_k| (paper).")
    ] = Uncertainty.mean,
    matching: Annotated[bool, typer.Option(help="Dynamic matching (off: random).")] = True,
    correction: Annotated[bool, typer.Option(help="Posterior correction.")] = True,
    swap: Annotated[bool, typer.Option(help="Shuffle outputs before judging.")] = True,
    update: Annotated[UpdateOpt, typer.Option(help="New-model update.")] = UpdateOpt.sequential,
    judge_beta: Annotated[
        float | None,
        typer.Option(help="β of the judge update [the arena's β, 25/6]; larger for noisy judges."),
    ] = None,
    batch: Annotated[
        int, typer.Option(min=1, help="Instances judged at once (1 = the paper's loop).")
    ] = 1,
    seed: Annotated[int, typer.Option(help="Seed of swaps and random matching.")] = 0,
    video_mode: Annotated[
        VideoModeOpt, typer.Option(help="auto, frames (needs PyAV) or video_url.")
    ] = VideoModeOpt.auto,
    frames: Annotated[int, typer.Option(min=1, help="Frames sampled per video.")] = 8,
    write_leaderboard_entry: Annotated[
        bool, typer.Option(help="Also write leaderboard_entry.json marked 'placed by judge'.")
    ] = False,
) -> None:
    """Place a new model on a leaderboard (K-Sort Eval).

    A VLM judge compares it with reference battles; its answers are corrected.
    """
    from karena.judge.prompts import load_rules, rules_for

    if print_rules:
        typer.echo(json.dumps(rules_for(modality).to_dict(), indent=2))
        return
    from karena.judge.loop import LoopConfig
    from karena.settings import Settings

    settings = Settings()
    updates: dict[str, Any] = {
        "judge_base_url": judge_url,
        "judge_model": judge_model,
        "judge_api_key_env": api_key_env,
        "judge_concurrency": concurrency,
        "judge_timeout_seconds": timeout,
        "judge_max_retries": max_retries,
    }
    settings = settings.model_copy(update={k: v for k, v in updates.items() if v is not None})
    ref_set, source_note = _reference(
        settings, reference, arena, leaderboard, modality, min_agreement, skip_bad_instances
    )
    rule_set = rules_for(ref_set.modality)
    if rules is not None:
        rule_set = load_rules(rules, rule_set)
    source = _outputs(
        outputs, generator, generator_url, generator_model, generator_key_env, settings
    )
    config = LoopConfig(
        max_runs=max_runs,
        stop_sigma=stop_sigma,
        alpha=alpha,
        kappa=kappa,
        uncertainty=uncertainty.value,
        matching=matching,
        correction=correction,
        swapping=swap,
        update=update.value,
        seed=seed,
        beta=judge_beta,
    )
    out_dir = out if out is not None else Path("ksort-eval") / _safe(model)
    typer.echo(
        f"reference: {source_note}; judge {settings.judge_model} at {settings.judge_base_url}"
    )
    summary = _run_with_progress(
        ref_set, source, model, rule_set, settings, config, out_dir, journal, resume, overwrite,
        batch, video_mode.value, frames, write_leaderboard_entry,
    )  # fmt: skip
    p = summary.placement
    typer.echo(
        f"{model}: μ={p.rating.mu:.2f} σ={p.rating.sigma:.3f} after {summary.runs} runs"
        f" ({summary.stop_reason}; {summary.skipped} skipped, {summary.resumed_runs} resumed)"
    )
    typer.echo(
        f"score {p.score_paper:.2f} (μ − 3·mean σ of board) → rank {p.rank_paper} of"
        f" {p.board_size + 1}; own μ − 3σ = {p.score_own:.2f} → rank {p.rank_own}"
    )
    for kind, path in summary.paths.items():
        typer.echo(f"{kind}: {path}")


def _safe(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip("._")
    return cleaned or "model"


def _reference(
    settings: Any,
    folder: Path | None,
    arena: str | None,
    leaderboard: Path | None,
    modality: str,
    min_agreement: float | None,
    skip_bad: bool,
) -> tuple[Any, str]:
    if (folder is None) == (arena is None):
        raise InvalidInput("give exactly one of --reference DIR or --arena SLUG")
    if modality not in ("image", "video"):
        raise InvalidInput(f"--modality must be image or video, got {modality!r}")
    if folder is not None:
        from karena.judge.reference import load_ksort_folder

        ref, problems = load_ksort_folder(
            folder,
            leaderboard=leaderboard,
            modality=modality,
            min_agreement=min_agreement,
            skip_bad=skip_bad,
        )
        note = f"{len(ref.instances)} instances from {folder}"
        if problems:
            note += f" ({len(problems)} broken folders skipped)"
        return ref, note
    from karena.cli.common import open_store
    from karena.judge.reference import DEFAULT_MIN_AGREEMENT
    from karena.judge.store_source import load_from_store

    store = open_store(settings=settings)
    try:
        threshold = min_agreement if min_agreement is not None else DEFAULT_MIN_AGREEMENT
        ref, counts = load_from_store(store, arena=str(arena), min_agreement=threshold)
    finally:
        store.close()
    return ref, f"{counts['kept']} of {counts['battles']} battles of arena {arena} ({counts})"


def _outputs(
    folder: Path | None,
    generator: str | None,
    url: str | None,
    model: str,
    key_env: str,
    settings: Any,
) -> Any:
    given = [x for x in (folder, generator, url) if x is not None]
    if len(given) != 1:
        raise InvalidInput(
            "give exactly one of --outputs DIR, --generator module:attr or --generator-url URL"
        )
    from karena.judge.outputs import CallableOutputs, FolderOutputs, load_callable

    if folder is not None:
        return FolderOutputs(folder)
    if url is not None:
        from karena.generators.openai_images import OpenAIImagesGenerator

        gen = OpenAIImagesGenerator(
            base_url=url,
            model=model,
            api_key_env=key_env or None,
            timeout=settings.generator_timeout_seconds,
        )
        return CallableOutputs(gen.generate, name=f"{model} at {url}")
    return CallableOutputs(load_callable(str(generator)), name=str(generator))


def _run_with_progress(
    ref_set: Any, source: Any, model: str, rule_set: Any, settings: Any, config: Any,
    out_dir: Path, journal: Path | None, resume: bool, overwrite: bool, batch: int,
    video_mode: str, frames: int, write_entry: bool,
) -> Any:  # fmt: skip
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from karena.judge.run import evaluate

    with Progress(
        TextColumn("[bold]K-Sort Eval[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        transient=False,
    ) as progress:
        task = progress.add_task("eval", total=config.max_runs, status="")

        def status(state: Any) -> str:
            r = state.rating
            return f"μ={r.mu:6.2f} σ={r.sigma:5.3f} (stop < {config.stop_sigma})"

        def on_start(state: Any, resumed: int) -> None:
            progress.update(task, completed=resumed, status=status(state))

        def on_run(entry: dict[str, Any], state: Any) -> None:
            note = " skipped" if entry["type"] == "skip" else ""
            progress.update(task, completed=state.runs, status=status(state) + note)

        return evaluate(
            reference=ref_set,
            outputs=source,
            model_name=model,
            rules=rule_set,
            settings=settings,
            config=config,
            out_dir=out_dir,
            journal_path=journal,
            resume=resume,
            overwrite=overwrite,
            batch=batch,
            video_mode=video_mode,  # type: ignore[arg-type]
            frames=frames,
            write_board_entry=write_entry,
            on_start=on_start,
            on_run=on_run,
        )
