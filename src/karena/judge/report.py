"""The evaluation report: JSON, Markdown and a μ ± σ plot, plus the optional board entry."""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from karena.rating.rank_interval import RankInterval
from karena.rating.types import Rating

__all__ = ["Placement", "place", "write_report"]


@dataclass(frozen=True, slots=True)
class Placement:
    """Where the new model lands on the board, scored both ways, with its 90% rank interval."""

    rating: Rating
    board_mean_sigma: float
    score_paper: float
    score_own: float
    rank_paper: int
    rank_own: int
    board_size: int
    interval: RankInterval | None = None
    method: str = "paper"
    #: 99 quantiles of the posterior over θ behind the interval (for a leaderboard placement).
    skill_quantiles: tuple[float, ...] = ()


def place(rating: Rating, board: Mapping[str, Rating]) -> Placement:
    """Score the new model (μ − 3·mean σ of the board, and its own μ − 3σ) and rank it.

    The rank is 1 + the number of board models whose conservative score μ − 3σ is higher.
    """
    mean_sigma = statistics.fmean(r.sigma for r in board.values())
    paper = rating.mu - 3.0 * mean_sigma
    own = rating.conservative
    scores = [r.conservative for r in board.values()]
    return Placement(
        rating,
        mean_sigma,
        paper,
        own,
        1 + sum(s > paper for s in scores),
        1 + sum(s > own for s in scores),
        len(board),
    )


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _plot(
    path: Path,
    history: Sequence[Mapping[str, Any]],
    title: str,
    stop_sigma: float,
    board_size: int,
) -> None:
    """Left: μ ± σ against runs. Right: the point rank and its 90% interval against runs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [h["run"] for h in history]
    mu = [h["mu"] for h in history]
    sd = [h["sigma"] for h in history]
    fig, (ax, ax3) = plt.subplots(1, 2, figsize=(11, 4))
    ax.plot(runs, mu, color="C0", label="μ")
    ax.fill_between(
        runs,
        [m - s for m, s in zip(mu, sd, strict=True)],
        [m + s for m, s in zip(mu, sd, strict=True)],
        color="C0",
        alpha=0.25,
        label="μ ± σ",
    )
    ax2 = ax.twinx()
    ax2.plot(runs, sd, color="C1", linestyle="--", label="σ")
    ax2.axhline(stop_sigma, color="C1", linewidth=0.8, linestyle=":")
    ax.set_xlabel("run")
    ax.set_ylabel("μ")
    ax2.set_ylabel("σ")
    ax.set_title(title)
    ax.legend(loc="upper left")
    ax2.legend(loc="upper right")
    if all("rank_low" in h for h in history):
        # Steps hold each run's interval until the next run; the last one gets a width of one run.
        x = [*runs, runs[-1] + 1]
        last = history[-1]
        ax3.fill_between(
            x,
            [h["rank_low"] for h in history] + [last["rank_low"]],
            [h["rank_high"] for h in history] + [last["rank_high"]],
            step="post",
            color="C2",
            alpha=0.3,
            label="90% rank interval",
        )
        ranks = [h["rank"] for h in history] + [last["rank"]]
        ax3.step(x, ranks, where="post", color="C2", label="rank")
        ax3.set_ylim(board_size + 1.5, 0.5)  # rank 1 at the top
        ax3.set_xlabel("run")
        ax3.set_ylabel("rank on the board")
        ax3.set_title("Rank and its 90% interval")
        ax3.legend(loc="lower right")
    else:
        ax3.set_axis_off()
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def write_report(
    out_dir: Path,
    *,
    model_name: str,
    placement: Placement,
    history: Sequence[Mapping[str, Any]],
    stop_reason: str,
    runs: int,
    scored: int,
    skipped: int,
    judge: Mapping[str, Any],
    config: Mapping[str, Any],
    reference: Mapping[str, Any],
    board: Mapping[str, Rating],
    write_board_entry: bool = False,
) -> dict[str, Path]:
    """Write report.json, report.md, mu_sigma.png (and leaderboard_entry.json); return paths.

    ``history`` holds one mapping per run (run 0 is the prior) with ``run``, ``mu``, ``sigma``
    and, when the method reports one, ``rank``, ``rank_low`` and ``rank_high``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / "report.json",
        "markdown": out_dir / "report.md",
        "plot": out_dir / "mu_sigma.png",
    }
    p = placement
    iv = p.interval
    body: dict[str, Any] = {
        "model": model_name,
        "method": p.method,
        "mu": p.rating.mu,
        "sigma": p.rating.sigma,
        "score_paper": p.score_paper,
        "score_own": p.score_own,
        "board_mean_sigma": p.board_mean_sigma,
        "predicted_rank": p.rank_paper,
        "predicted_rank_own": p.rank_own,
        "rank_interval": iv.to_dict() if iv is not None else None,
        "board_size": p.board_size,
        "stop_reason": stop_reason,
        "runs": runs,
        "scored_runs": scored,
        "skipped_runs": skipped,
        "judge": dict(judge),
        "config": dict(config),
        "reference": dict(reference),
        "history": [dict(h) for h in history],
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    _atomic_write(paths["json"], json.dumps(body, indent=2, ensure_ascii=False).encode("utf-8"))
    if history:
        _plot(
            paths["plot"],
            history,
            f"K-Sort Eval ({p.method}): {model_name}",
            float(config.get("stop_sigma", 0.75)),
            p.board_size,
        )
    else:
        paths.pop("plot")
    rows = sorted(((n, r) for n, r in board.items()), key=lambda x: -x[1].conservative)
    table = ["| rank | model | score μ−3σ | μ | σ |", "|---|---|---|---|---|"]
    inserted = False
    span = f", 90% interval {iv.low}–{iv.high}" if iv is not None else ""
    own_row = (
        f"| **{p.rank_paper}** | **{model_name} (placed by judge{span})** | **{p.score_paper:.2f}**"
        f" | {p.rating.mu:.2f} | {p.rating.sigma:.3f} |"
    )
    for i, (name, r) in enumerate(rows, start=1):
        if not inserted and i == p.rank_paper:
            table.append(own_row)
            inserted = True
        table.append(
            f"| {i + (1 if inserted else 0)} | {name} | {r.conservative:.2f} | {r.mu:.2f}"
            f" | {r.sigma:.3f} |"
        )
    if not inserted:
        table.append(own_row)
    md = [
        f"# K-Sort Eval: {model_name}",
        "",
        f"- Final rating: μ = {p.rating.mu:.3f}, σ = {p.rating.sigma:.3f}"
        f" ({stop_reason} after {runs} runs;"
        f" {scored} scored, {skipped} skipped)",
        f"- Score (paper, μ − 3·mean σ of the board = {p.board_mean_sigma:.3f}):"
        f" **{p.score_paper:.2f}**"
        f" → predicted rank **{p.rank_paper}** of {p.board_size + 1}",
        *(
            [
                f"- **90% rank interval: {iv.low}–{iv.high}** (posterior mass {iv.mass:.2f}):"
                " the exact posterior of every judged ranking, with the judge's noise learnt;"
                " in simulation the true rank falls inside for about 9 models in 10"
            ]
            if iv is not None
            else []
        ),
        f"- Method: {p.method}",
        f"- Score (own μ − 3σ): {p.score_own:.2f} → rank {p.rank_own}",
        f"- Judge: {judge.get('name')}"
        + (f" at {judge.get('base_url')}" if judge.get("base_url") else ""),
        f"- Reference set: {reference.get('instances')} instances ({reference.get('source')})",
        "",
        "![μ ± σ against runs](mu_sigma.png)" if "plot" in paths else "",
        "",
        "## Predicted leaderboard",
        "",
        *table,
        "",
    ]
    _atomic_write(paths["markdown"], "\n".join(md).encode("utf-8"))
    if write_board_entry:
        entry = {
            "model": model_name,
            "mu": p.rating.mu,
            "sigma": p.rating.sigma,
            "score": p.score_paper,
            "rank": p.rank_paper,
            "rank_interval": iv.to_dict() if iv is not None else None,
            "skill_quantiles": list(p.skill_quantiles),
            "method": p.method,
            "placed_by": "judge",
            "note": "Placed by K-Sort Eval with a VLM judge, not by human votes.",
            "judge_model": judge.get("name"),
            "runs": runs,
            "created_at": body["created_at"],
        }
        paths["board_entry"] = out_dir / "leaderboard_entry.json"
        _atomic_write(
            paths["board_entry"], json.dumps(entry, indent=2, ensure_ascii=False).encode("utf-8")
        )
    return paths
