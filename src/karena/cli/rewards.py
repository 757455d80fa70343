"""``karena rewards`` (ArenaPO per-pair rewards) and ``karena train-dpo`` (Diffusion-DPO)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from karena.errors import InvalidInput


def register(app: typer.Typer) -> None:
    """Register ``rewards`` and ``train-dpo``."""
    app.command("rewards")(rewards)
    app.command("train-dpo")(train_dpo)


def rewards(
    source: Annotated[
        Path | None,
        typer.Argument(
            help="Preference file: an arena vote export, Pick-a-Pic v2 schema or HPD v3-style "
            "(.parquet/.jsonl/.json), or aggregated pair counts (.json)."
        ),
    ] = None,
    from_store: Annotated[
        str | None,
        typer.Option(help="Read the counted votes of this arena (slug) from the database."),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="SQLAlchemy URL for --from-store [KARENA_DATABASE_URL; default SQLite]."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("rewards"),
    fmt: Annotated[
        str, typer.Option("--format", help="auto, arena-votes, pickapic, hpd or arena-counts.")
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
    """Fit capabilities and export per-pair ArenaPO rewards.

    Rewards are truncated-normal gaps between the capabilities of each pair's two models.

    Writes rewards.parquet, rewards.jsonl, capabilities.csv/.md, gaps_hist.png, summary.json to OUT.
    """
    import numpy as np
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from karena.rating.models.thurstone import ThurstoneK, draw_margin_for
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
    if (source is None) == (from_store is None):
        raise InvalidInput("give a SOURCE file or --from-store ARENA (exactly one)")
    console = Console(stderr=True)
    with console.status(f"reading {source if source is not None else from_store}"):
        if source is not None:
            pairs = load_pairs(source, fmt)  # type: ignore[arg-type]
        else:
            assert from_store is not None
            pairs = _pairs_from_store(from_store, database_url)
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


def train_dpo(
    rewards_file: Annotated[
        Path, typer.Argument(help="rewards.parquet or rewards.jsonl written by `karena rewards`.")
    ],
    root: Annotated[
        Path, typer.Option(help="Folder the image_w/image_l references resolve against.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Checkpoints and final model.")] = Path(
        "dpo-run"
    ),
    kind: Annotated[
        str, typer.Option(help="'latents' (.npy VAE latents, C×H×W) or 'pixels' (image files).")
    ] = "latents",
    model: Annotated[
        Path | None,
        typer.Option(help="Local diffusers UNet2DConditionModel folder (save_pretrained layout)."),
    ] = None,
    tiny: Annotated[
        bool, typer.Option(help="Train a tiny randomly initialised UNet (CPU smoke run).")
    ] = False,
    variant: Annotated[
        str, typer.Option(help="adaptive_margin, gap_weighted, fixed_margin or plain.")
    ] = "adaptive_margin",
    beta: Annotated[float, typer.Option(help="β_dpo·T·ω(λ_t), one constant.")] = 2500.0,
    gamma: Annotated[float, typer.Option(help="Adaptive-margin scale γ (margin γ·g).")] = 1.0,
    margin: Annotated[float, typer.Option(help="Fixed margin m (fixed_margin only).")] = 1.0,
    lr: Annotated[float, typer.Option(help="AdamW learning rate.")] = 1e-5,
    batch_size: Annotated[int, typer.Option(min=1, help="Pairs per micro-batch.")] = 4,
    grad_accum: Annotated[int, typer.Option(min=1, help="Micro-batches per step.")] = 1,
    steps: Annotated[int, typer.Option(min=1, help="Total optimizer steps.")] = 1000,
    checkpoint_every: Annotated[int, typer.Option(min=0, help="Steps between saves.")] = 100,
    resume: Annotated[
        bool, typer.Option(help="Continue from the latest checkpoint in OUT/checkpoints.")
    ] = False,
    text_embeddings: Annotated[
        Path | None,
        typer.Option(help=".npz with 'captions' (N,) and 'embeddings' (N,S,D); else zeros."),
    ] = None,
    resolution: Annotated[int, typer.Option(min=8, help="Image side for --kind pixels.")] = 64,
    seed: Annotated[int, typer.Option(help="Seed of batches, noise and timesteps.")] = 0,
    device: Annotated[str, typer.Option(help="torch device, e.g. cpu or cuda.")] = "cpu",
) -> None:
    """Fine-tune a diffusion UNet with Diffusion-DPO.

    ArenaPO gaps set the margin or weight of each pair; needs the train extra.

    Inputs are precomputed: each untied pair's image_w/image_l must exist under ROOT.

    Use .npy latents (default) or image files (--kind pixels); captions need --text-embeddings.

    Use --tiny for a CPU smoke run; --resume continues from OUT/checkpoints.
    """
    from karena.errors import ConfigError
    from karena.reward.dpo.config import DPOConfig, require_train_extra

    require_train_extra()
    import numpy as np
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from karena.reward.dpo.data import PreferenceDataset
    from karena.reward.dpo.trainer import DiffusionDPOTrainer, tiny_unet

    if (model is None) == (not tiny):
        raise ConfigError("pass exactly one of --model PATH or --tiny")
    config = DPOConfig(
        variant=variant,  # type: ignore[arg-type]
        beta=beta, gamma=gamma, margin=margin, learning_rate=lr, batch_size=batch_size,
        grad_accum=grad_accum, max_steps=steps, checkpoint_every=checkpoint_every, seed=seed,
    )  # fmt: skip
    console = Console(stderr=True)
    net: Any = None
    if tiny:
        cross_dim = 8
    else:
        assert model is not None
        net = _load_unet(model)
        cross_dim = int(net.config.cross_attention_dim)
    dataset = PreferenceDataset(
        rewards_file, root, kind=kind,  # type: ignore[arg-type]
        resolution=resolution, text_embeddings=text_embeddings,
        null_embedding_shape=(1, cross_dim),
    )  # fmt: skip
    if tiny:
        sample = dataset.batch(np.arange(1)).x_w
        net = tiny_unet(in_channels=sample.shape[1], sample_size=sample.shape[-1], seed=seed)
    trainer = DiffusionDPOTrainer(net, config, device=device)
    ckpt_dir = out / "checkpoints"
    if resume:
        trainer.load_checkpoint(ckpt_dir)
        console.print(f"resumed at step {trainer.step}")
    console.print(f"{len(dataset):,} untied pairs; variant={config.variant}; steps={steps}")
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} {task.fields[info]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("training", total=steps, completed=trainer.step, info="")

        def on_step(m: dict[str, float]) -> None:
            bar.update(task, advance=1, info=f"loss={m['loss']:.4f} acc={m['accuracy']:.2f}")

        trainer.fit(dataset, checkpoint_dir=ckpt_dir, on_step=on_step)
    final = out / "model"
    trained: Any = trainer.model
    if hasattr(trained, "save_pretrained"):
        trained.save_pretrained(final)
        typer.echo(str(final))
    typer.echo(str(ckpt_dir))


def _load_unet(path: Path) -> Any:
    """A UNet2DConditionModel from a local folder (or its ``unet`` subfolder); never downloads."""
    from diffusers import UNet2DConditionModel

    from karena.errors import ConfigError

    folder = path / "unet" if (path / "unet" / "config.json").is_file() else path
    if not (folder / "config.json").is_file():
        raise ConfigError(f"{path} is not a diffusers UNet folder (no config.json)")
    try:
        unet_class: Any = UNet2DConditionModel  # diffusers is untyped
        return unet_class.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load a UNet from {folder}: {exc}") from exc


def _pairs_from_store(arena: str, database_url: str | None) -> Any:
    """The counted votes of ``arena`` expanded to pairs, read through the Store API."""
    from karena.cli.common import open_store
    from karena.reward.loaders import pairs_from_vote_records
    from karena.store.export import vote_record

    with open_store(database_url) as store:
        records = (vote_record(v) for v in store.voting.iter_votes(arena=arena, counted_only=True))
        pairs = pairs_from_vote_records(records, where=f"arena {arena!r}")
    if len(pairs) == 0:
        raise InvalidInput(f"arena {arena!r} has no counted votes yet")
    return pairs
