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


class MethodOpt(StrEnum):
    paper = "paper"
    output = "output"


def register(app: typer.Typer) -> None:
    """Register ``karena eval``."""
    app.command(name="eval")(eval_command)


def eval_command(
    model: Annotated[str, typer.Option("--model", help="Name of the new model being placed.")],
    method: Annotated[
        MethodOpt,
        typer.Option(
            help="output: karena's calibrated output-level placement; paper: K-Sort Eval's loop."
        ),
    ] = MethodOpt.output,
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
    judge_callable: Annotated[
        str | None,
        typer.Option(help="Judge with a local Python function 'package.module:attr' instead."),
    ] = None,
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
    stop_sigma: Annotated[
        float | None, typer.Option(help="Stop when σ falls below this [output 1.4; paper 0.75].")
    ] = None,
    alpha: Annotated[
        float | None, typer.Option(help="Weight of diversity in matching [output 0; paper 0.5].")
    ] = None,
    kappa: Annotated[float, typer.Option(help="paper: slope κ of the correction sigmoid.")] = 5.0,
    uncertainty: Annotated[
        Uncertainty | None,
        typer.Option(help="mean: |mean μ_k − μ|; sum: Σ|μ − μ_k| [output sum; paper mean]."),
    ] = None,
    matching: Annotated[bool, typer.Option(help="Dynamic matching (off: random).")] = True,
    correction: Annotated[
        bool, typer.Option(help="paper: posterior correction; output: learn the judge's noise.")
    ] = True,
    swap: Annotated[bool, typer.Option(help="Shuffle outputs before judging.")] = True,
    update: Annotated[
        UpdateOpt, typer.Option(help="paper: new-model update.")
    ] = UpdateOpt.sequential,
    judge_beta: Annotated[
        float | None,
        typer.Option(help="paper: β of the judge update [the arena's β, 25/6]."),
    ] = None,
    human_noise_share: Annotated[
        float, typer.Option(help="Share of β² that is human vote noise (output-quality model).")
    ] = 0.5,
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
    place: Annotated[
        bool,
        typer.Option(
            "--place",
            help="Put the model on the arena's leaderboard, marked 'placed by judge' (--arena).",
        ),
    ] = False,
) -> None:
    """Place a new model on a leaderboard (K-Sort Eval).

    A VLM judge compares it with reference battles; its answers are corrected.
    """
    from karena.judge.prompts import load_rules, rules_for

    if print_rules:
        typer.echo(json.dumps(rules_for(modality).to_dict(), indent=2))
        return
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
    if place and arena is None:
        raise InvalidInput("--place puts the model on an arena's leaderboard: give --arena SLUG")
    ref_set, source_note = _reference(
        settings, reference, arena, leaderboard, modality, min_agreement, skip_bad_instances
    )
    rule_set = rules_for(ref_set.modality)
    if rules is not None:
        rule_set = load_rules(rules, rule_set)
    source = _outputs(
        outputs, generator, generator_url, generator_model, generator_key_env, settings
    )
    config = _config(
        method, max_runs=max_runs, stop_sigma=stop_sigma, alpha=alpha, kappa=kappa,
        uncertainty=uncertainty, matching=matching, correction=correction, swap=swap,
        update=update, seed=seed, judge_beta=judge_beta, human_noise_share=human_noise_share,
    )  # fmt: skip
    judge = None
    if judge_callable is not None:
        from karena.judge.backends import load_judge_callable

        judge = load_judge_callable(judge_callable)
    out_dir = out if out is not None else Path("ksort-eval") / _safe(model)
    judge_note = (
        judge.name
        if judge is not None
        else (f"{settings.judge_model} at {settings.judge_base_url}")
    )
    typer.echo(f"reference: {source_note}; method {method.value}; judge {judge_note}")
    summary = _run_with_progress(
        ref_set, source, model, rule_set, settings, config, out_dir, journal, resume, overwrite,
        batch, video_mode.value, frames, write_leaderboard_entry, judge,
    )  # fmt: skip
    p = summary.placement
    iv = summary.interval
    typer.echo(
        f"{model}: μ={p.rating.mu:.2f} σ={p.rating.sigma:.3f} after {summary.runs} runs"
        f" ({summary.stop_reason}; {summary.skipped} skipped, {summary.resumed_runs} resumed)"
    )
    typer.echo(
        f"score {p.score_paper:.2f} (μ − 3·mean σ of board) → rank {p.rank_paper} of"
        f" {p.board_size + 1}, 90% interval {iv.low}–{iv.high};"
        f" own μ − 3σ = {p.score_own:.2f} → rank {p.rank_own}"
    )
    if place:
        _place(settings, str(arena), model, summary)
    for kind, path in summary.paths.items():
        typer.echo(f"{kind}: {path}")


def _config(method: MethodOpt, **o: Any) -> Any:
    """The method's config from the options; unset options take that method's defaults."""
    unset = {k for k in ("stop_sigma", "alpha", "uncertainty") if o[k] is None}
    cfg: Any
    if method is MethodOpt.output:
        from karena.judge.placement import PlacementConfig

        cfg = PlacementConfig(
            max_runs=o["max_runs"], matching=o["matching"], reliability=o["correction"],
            swapping=o["swap"], seed=o["seed"], human_noise_share=o["human_noise_share"],
        )  # fmt: skip
    else:
        from karena.judge.loop import LoopConfig

        cfg = LoopConfig(
            max_runs=o["max_runs"], kappa=o["kappa"], matching=o["matching"],
            correction=o["correction"], swapping=o["swap"], update=o["update"].value,
            seed=o["seed"], beta=o["judge_beta"],
        )  # fmt: skip
    from dataclasses import replace

    given = {k: o[k] for k in ("stop_sigma", "alpha", "uncertainty") if k not in unset}
    if "uncertainty" in given:
        given["uncertainty"] = given["uncertainty"].value
    return replace(cfg, **given)


def _place(settings: Any, arena: str, model: str, summary: Any) -> None:
    """Record the judge's placement on the arena's leaderboard (never as human votes)."""
    from karena.rating.leaderboard import JudgePlacement
    from karena.store.api import Store

    p, iv = summary.placement, summary.interval
    placement = JudgePlacement(
        mu=p.rating.mu,
        sigma=p.rating.sigma,
        skill_quantiles=p.skill_quantiles,
        rank=p.rank_paper,
        rank_low=iv.low,
        rank_high=iv.high,
        method=summary.method,
        judge=summary.judge_name,
        runs=summary.runs,
    )
    store = Store.open(settings)
    try:
        known = {m.name for m in store.catalog.list_models(arena=arena)}
        if model not in known:  # on the board from now on; human votes need its outputs added
            store.catalog.add_model(arena=arena, name=model, exist_ok=True)
            typer.echo(f"added model {model} to arena {arena} (no outputs yet)")
        row = store.boards.place_model(arena=arena, model=model, placement=placement)
    finally:
        store.close()
    typer.echo(
        f"placed {model} on arena {arena}'s leaderboard by judge: rank {row.rank}"
        f" (90% interval {iv.low}–{iv.high}); it gives way to its human rating once that is"
        f" at least as certain (σ ≤ {p.rating.sigma:.2f})"
    )


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
    video_mode: str, frames: int, write_entry: bool, judge: Any,
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
            r, h = state.rating, state.history[-1]
            return (
                f"μ={r.mu:6.2f} σ={r.sigma:5.3f} (stop < {config.stop_sigma})"
                f" rank {h.rank} [{h.rank_low}–{h.rank_high}]"
            )

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
            judge=judge,
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
