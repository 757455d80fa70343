"""Tables, JSON and plots of the convergence study (shared by ``karena simulate`` and benchmarks).

matplotlib is imported inside the plotting functions only, so the pure core never loads it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from karena.rating.models.elo import Elo
from karena.sim.metrics import Summary, summarize
from karena.sim.protocol import MethodResult, NewModelResult, RealScaleResult

__all__ = [
    "convergence_json",
    "convergence_rows",
    "format_table",
    "plot_convergence",
    "plot_new_model",
    "plot_real_scale",
    "result_line",
]

PAPER_UCB_LABEL_PREFIX = "UCB"


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _ratio(a: Summary, b: Summary, scale_a: float = 1.0, scale_b: float = 1.0) -> str:
    """a/b of two medians; a censored median (> budget) turns the ratio into a bound."""
    fa, fb = math.isfinite(a.median), math.isfinite(b.median)
    if fa and fb:
        return f"{a.median * scale_a / (b.median * scale_b):.2f}"
    if not fa and fb:
        return f">{a.budget * scale_a / (b.median * scale_b):.1f}"
    if fa and not fb:
        return f"<{a.median * scale_a / (b.budget * scale_b):.2f}"
    return "?"


def convergence_rows(
    results: Sequence[MethodResult], floor_votes: float, ucb_label: str
) -> list[dict[str, Any]]:
    """One dict per method: votes and pairwise comparisons to converge, and the ratios."""
    elo = next((r for r in results if isinstance(r.method.rating, Elo)), None)
    ucb = next((r for r in results if r.method.label == ucb_label), None)
    rows = []
    for r in results:
        pairs = r.summary.median * r.pairs_per_vote
        row: dict[str, Any] = {
            "method": r.method.label,
            "k": r.method.k,
            "votes": r.summary.fmt(),
            "pairs": r.summary.fmt(scale=r.pairs_per_vote),
            "converged": f"{r.summary.converged}/{r.summary.runs}",
            "median_votes": _num(r.summary.median),
            "median_pairs": _num(pairs),
            "q25_votes": _num(r.summary.q25),
            "q75_votes": _num(r.summary.q75),
            "budget_votes": r.summary.budget,
            "elo_k": r.elo_k,
        }
        if elo is not None:
            row["elo_over_this_votes"] = _ratio(elo.summary, r.summary)
            row["elo_over_this_pairs"] = _ratio(
                elo.summary, r.summary, elo.pairs_per_vote, r.pairs_per_vote
            )
        if ucb is not None:
            row["this_over_ucb_votes"] = _ratio(r.summary, ucb.summary)
        floor = Summary(floor_votes, floor_votes, floor_votes, 1, 1, floor_votes)
        # The floor is for K = 4 votes: other K have another floor.
        row["this_over_floor"] = _ratio(r.summary, floor) if r.method.k == 4 else "-"
        rows.append(row)
    return rows


def format_table(
    results_by_noise: Mapping[str, Sequence[MethodResult]], floor_votes: float, ucb_label: str
) -> str:
    """The study as a plain-text table: method × noise → votes to converge (median [IQR])."""
    header = (
        f"{'noise':<8} {'method':<24} {'K-wise votes med [IQR]':<26} {'pairs med [IQR]':<28} "
        f"{'conv':>6} {'Elo/this v':>10} {'Elo/this p':>10} {'this/UCB':>9} {'this/floor':>10}"
    )
    lines = [header, "-" * len(header)]
    for noise, results in results_by_noise.items():
        for row in convergence_rows(results, floor_votes, ucb_label):
            label = row["method"] + (f" (k={row['elo_k']:g})" if row["elo_k"] else "")
            lines.append(
                f"{noise:<8} {label:<24} {row['votes']:<26} {row['pairs']:<28} "
                f"{row['converged']:>6} {row.get('elo_over_this_votes', '-'):>10} "
                f"{row.get('elo_over_this_pairs', '-'):>10} "
                f"{row.get('this_over_ucb_votes', '-'):>9} "
                f"{row['this_over_floor']:>10}"
            )
    return "\n".join(lines)


def result_line(results: Sequence[MethodResult], floor_votes: float, ucb_label: str) -> str:
    """``RESULT elo_votes=… ucb_votes=… best_votes=… best_method=… …`` (median K-wise votes).

    A censored median (more than half the runs never converged) is printed as ``>budget`` and
    ratios involving it as bounds (``>x`` or ``<x``), never as a made-up number.
    """
    elo = next(r for r in results if isinstance(r.method.rating, Elo))
    ucb = next(r for r in results if r.method.label == ucb_label)
    best = min(results, key=lambda r: (r.summary.median, r.summary.q75))

    def fmt(s: Summary) -> str:
        return f"{s.median:.0f}" if math.isfinite(s.median) else f">{s.budget:.0f}"

    floor = Summary(floor_votes, floor_votes, floor_votes, 1, 1, floor_votes)
    name = best.method.label.replace(" ", "_")
    return (
        f"RESULT elo_votes={fmt(elo.summary)} ucb_votes={fmt(ucb.summary)} "
        f"best_votes={fmt(best.summary)} best_method={name} "
        f"elo_over_ucb={_ratio(elo.summary, ucb.summary)} "
        f"ucb_over_best={_ratio(ucb.summary, best.summary)} "
        f"best_over_floor={_ratio(best.summary, floor)}"
    )


def convergence_json(
    results_by_noise: Mapping[str, Sequence[MethodResult]], floor_votes: float, ucb_label: str
) -> dict[str, Any]:
    """Everything in the table plus per-seed votes and the Elo K-factor sweep, JSON-ready."""
    out: dict[str, Any] = {"floor_votes": floor_votes, "noise": {}}
    for noise, results in results_by_noise.items():
        rows = convergence_rows(results, floor_votes, ucb_label)
        for row, r in zip(rows, results, strict=True):
            row["per_seed_votes"] = [_num(v) for v in r.votes]
            if r.sweep:
                row["elo_sweep"] = [
                    {"k": f, "median": _num(s.median), "converged": s.converged, "runs": s.runs}
                    for f, s in r.sweep
                ]
        out["noise"][noise] = rows
    return out


def plot_convergence(
    results_by_noise: Mapping[str, Sequence[MethodResult]], path: Path, title: str
) -> None:
    """Mean MSE of ranked positions against votes and against pairwise comparisons (Figs. 3–5)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    noises = list(results_by_noise)
    # One colour and line style per method across every panel (tab20 has 20 distinct colours).
    labels: list[str] = []
    for results in results_by_noise.values():
        labels += [r.method.label for r in results if r.method.label not in labels]
    palette = plt.get_cmap("tab20")
    style = {
        label: (palette(i % 20), "-" if i % 2 == 0 else "--") for i, label in enumerate(labels)
    }
    fig, axes = plt.subplots(len(noises), 2, figsize=(14, 4.4 * len(noises)), squeeze=False)
    for row, noise in enumerate(noises):
        for col, unit in enumerate(("K-wise votes", "pairwise comparisons")):
            ax = axes[row][col]
            for r in results_by_noise[noise]:
                scale = 1 if col == 0 else r.pairs_per_vote
                x = np.maximum(r.steps * scale, 1)
                label = r.method.label + (f" (k={r.elo_k:g})" if r.elo_k else "")
                color, dash = style[r.method.label]
                ax.plot(x, r.curve, label=label, linewidth=1.3, color=color, linestyle=dash)
            ax.set_xscale("log")
            ax.set_yscale("symlog", linthresh=0.1)
            ax.set_ylim(bottom=0.0)
            ax.set_xlabel(unit)
            ax.set_ylabel("MSE of ranked positions (mean over seeds)")
            ax.set_title(f"{title} — noise {noise}")
            ax.grid(alpha=0.3)
        axes[row][1].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_new_model(results: Sequence[NewModelResult], true_rank: int, path: Path) -> None:
    """The newcomer's mean leaderboard position against votes since it joined (Fig. 6)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for r in results:
        ax.plot(np.maximum(r.steps, 0), r.mean_position, label=r.label)
    ax.axhline(true_rank, color="black", linestyle=":", label=f"true rank {true_rank}")
    ax.invert_yaxis()
    ax.set_xlabel("K-wise votes since the new model joined")
    ax.set_ylabel("new model's position (mean over seeds)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_real_scale(results: Sequence[RealScaleResult], threshold: float, path: Path) -> None:
    """Mean Kendall τ against pairwise-equivalent comparisons, real-scale scenario."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for r in results:
        ax.plot(np.maximum(r.steps, 1), r.mean_tau, label=r.label)
    ax.axhline(threshold, color="black", linestyle=":", label=f"τ = {threshold}")
    ax.set_xscale("log")
    ax.set_xlabel("K-wise votes")
    ax.set_ylabel("Kendall τ vs Bradley–Terry truth (mean)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summary_text(values: np.ndarray, budget: float) -> str:
    """'median [q25–q75]' of per-seed values with '>budget' for censored ones."""
    return summarize(np.asarray(values, dtype=np.float64), budget).fmt()
