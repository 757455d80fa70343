"""Ratings on real human data: every online model and the batch board, beside the human scores.

Data sets (../shared/data; each is skipped with a message when absent):

- **AGIQA-3K**, quality and alignment: 287 prompts whose images come from all 6 models; each
  prompt is one K = 6 ranking of the models by mean opinion score (equal scores tie). The
  reference order is the models' mean score over those prompts.
- **Chatbot Arena** (1,670,250 human votes, aggregated per pair): each battle becomes a two-way
  vote (win, loss, tie; "both bad" is a tie, as FastChat counts it), in a seeded random order.
  There is no per-model human score; the reference is the batch fit.
- GenAI-Bench's human votes (genai_bench_judge_votes.csv) name battles, not models, so they
  make no leaderboard; they are used by the judge benchmark instead.

For each set and each online model: Kendall τ against the mean-score order and against the batch
board, the median τ of boards built from 20 shuffles of the vote order against the board of the
original order, and the median σ at the end. Then two properties of the default model beyond
the data: the coverage of μ ± 1.96σ in simulation at Chatbot Arena spacing (K = 4, 5, 6 after
200, 1,000 and 5,000 votes; uniform matchmaking, Thurstonian voters who tie within the draw
margin; positions centred, since rankings fix no zero), and the smallest σ ratio after one vote
over K = 2..12 and every family of tie patterns.

    python benchmarks/real_data.py --quick   # < 1 minute: Chatbot Arena subsampled to 100k
    python benchmarks/real_data.py           # the published figures
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import kendalltau

from karena.matchmaking.registry import make_matchmaker
from karena.rating.base import OnlineRatingModel
from karena.rating.batch_board import fit_batch_board
from karena.rating.data import load_chatbot_arena
from karena.rating.models.elo import Elo
from karena.rating.models.factor_graph import FactorGraphFFA
from karena.rating.models.thurstone import ThurstoneK
from karena.rating.replay import VoteArrays, replay_encoded
from karena.rating.types import (
    BestOfK,
    Outcome,
    Ranking,
    Tie,
    Vote,
    VoteKind,
    outcome_from_rank_row,
)
from karena.sim.engine import Method, SimArena
from karena.sim.noise import ThurstonianNoise

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"

MODELS: dict[str, OnlineRatingModel] = {
    "thurstone (default)": ThurstoneK(),
    "thurstone, paper form": ThurstoneK(weighting="paper"),
    "factor-graph": FactorGraphFFA(),
    "elo": Elo(),
}
DEFAULT = "thurstone (default)"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- data sets -------------------------------------------------------------------------------


def agiqa(criterion: str) -> tuple[VoteArrays, dict[str, float]] | None:
    """One K = 6 ranking per prompt that all six models answered, and the mean scores."""
    path = DATA / "agiqa3k.csv"
    if not path.is_file():
        log(f"AGIQA-3K not found at {path}: skipped")
        return None
    column = "mos_quality" if criterion == "quality" else "mos_align"
    by_prompt: dict[str, dict[str, float]] = defaultdict(dict)
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            model, kind, _ = row["name"].rsplit("_", 2)
            if kind == "normal":
                by_prompt[row["prompt"]][model] = float(row[column])
    names = sorted({m for scores in by_prompt.values() for m in scores})
    full = [scores for scores in by_prompt.values() if len(scores) == len(names)]
    models = np.tile(np.arange(len(names), dtype=np.int32), (len(full), 1))
    ranks = np.empty_like(models)
    for v, scores in enumerate(full):
        values = [scores[m] for m in names]
        ranks[v] = [1 + sum(1 for o in values if o > x) for x in values]  # equal scores tie
    mean = {m: statistics.fmean(s[m] for s in full) for m in names}
    return VoteArrays(models=models, ranks=ranks, ids=tuple(names)), mean


def chatbot_arena(limit: int | None, rng: np.random.Generator) -> VoteArrays | None:
    """Every battle as a two-way vote, in a random order (both bad counts as a tie)."""
    path = DATA / "chatbotarena_20240814.json"
    if not path.is_file():
        log(f"Chatbot Arena data not found at {path}: skipped")
        return None
    counts = load_chatbot_arena(path)
    cells = np.stack([counts.wins_i, counts.wins_j, counts.ties], axis=1).astype(np.int64)
    pair = np.repeat(np.arange(counts.n_pairs), cells.sum(axis=1))
    outcome = np.concatenate([np.repeat([0, 1, 2], row) for row in cells])
    order = rng.permutation(len(pair))[: limit if limit is not None else len(pair)]
    pair, outcome = pair[order], outcome[order]
    models = np.stack([counts.i[pair], counts.j[pair]], axis=1).astype(np.int32)
    rows = np.array([[1, 2], [2, 1], [1, 1]], dtype=np.int32)
    return VoteArrays(models=models, ranks=rows[outcome], ids=tuple(str(m) for m in counts.models))


def as_votes(arrays: VoteArrays) -> list[Vote]:
    out: list[Vote] = []
    for row_m, row_r in zip(arrays.models.tolist(), arrays.ranks.tolist(), strict=True):
        used = [j for j, m in enumerate(row_m) if m >= 0]
        outcome: Outcome = outcome_from_rank_row([row_r[j] for j in used])
        out.append(Vote(tuple(arrays.ids[row_m[j]] for j in used), outcome))
    return out


# --- measurements ----------------------------------------------------------------------------


def order(scores: dict[Any, float], ids: tuple[Any, ...]) -> list[float]:
    return [scores[m] for m in ids]


def tau(a: dict[Any, float], b: dict[Any, float], ids: tuple[Any, ...]) -> float:
    return float(kendalltau(order(a, ids), order(b, ids)).statistic)


def online(arrays: VoteArrays, model: OnlineRatingModel) -> tuple[dict[Any, float], float]:
    """The online board's score (μ − 3σ, or μ for Elo) by model, and the median final σ."""
    ratings = replay_encoded(arrays, model)
    score = {m: r.mu - 3.0 * r.sigma for m, r in ratings.items()}
    return score, float(np.median([r.sigma for r in ratings.values()]))


def shuffled(arrays: VoteArrays, rng: np.random.Generator) -> VoteArrays:
    perm = rng.permutation(arrays.n_votes)
    return VoteArrays(arrays.models[perm], arrays.ranks[perm], arrays.ids)


def evaluate(
    name: str, arrays: VoteArrays, mean: dict[str, float] | None, shuffles: int, rounds: int
) -> dict[str, Any]:
    log(f"{name}: {arrays.n_votes:,} votes over {len(arrays.ids)} models")
    start = time.perf_counter()
    board = fit_batch_board(as_votes(arrays), rounds=rounds)
    batch = {r.model_id: r.mu for r in board.rows}
    log(f"  batch board in {time.perf_counter() - start:.1f} s")
    rng = np.random.default_rng(7)
    orders = [shuffled(arrays, rng) for _ in range(shuffles)]
    rows: dict[str, dict[str, float]] = {}
    for label, model in MODELS.items():
        if isinstance(model, FactorGraphFFA) and arrays.n_votes > 20_000:
            continue  # pure Python at ~90 µs a vote: left to the smaller sets
        score, sigma = online(arrays, model)
        shuffle_taus = [tau(score, online(o, model)[0], arrays.ids) for o in orders]
        rows[label] = {
            "tau_vs_batch": tau(score, batch, arrays.ids),
            "tau_vs_mean": tau(score, mean, arrays.ids) if mean is not None else float("nan"),
            "shuffle_tau_median": statistics.median(shuffle_taus),
            "sigma_end": sigma,
        }
    rows["batch board"] = {
        "tau_vs_batch": 1.0,
        "tau_vs_mean": tau(batch, mean, arrays.ids) if mean is not None else float("nan"),
        "shuffle_tau_median": 1.0,  # one fit of all votes: the order is not an input
        "sigma_end": float(np.median([r.sigma for r in board.rows])),
    }
    return {"votes": arrays.n_votes, "models": len(arrays.ids), "boards": rows}


def coverage(quick: bool) -> dict[str, dict[str, float]]:
    """μ ± 1.96σ coverage of the default model in simulation at Chatbot Arena spacing."""
    from karena.rating.bradley_terry import fit_bradley_terry

    path = DATA / "chatbotarena_20240814.json"
    if not path.is_file():
        return {}
    strengths = fit_bradley_terry(load_chatbot_arena(path)).ratings
    model = ThurstoneK()
    beta = model.beta
    factor = np.log(10.0) * np.sqrt(2.0) * beta / (400.0 * 1.702)  # Elo points → μ points
    seeds = 12 if quick else 40
    out: dict[str, dict[str, float]] = {}
    for matchmaker in ("random", "window-ts"):
        for k in (4, 5, 6):
            rng = np.random.default_rng(k)
            worlds = []
            for _ in range(seeds):
                picked = strengths[rng.choice(len(strengths), 20, replace=False)]
                worlds.append(25.0 + (picked - picked.mean()) * factor)
            truth = np.array(worlds)
            method = Method("c", k, make_matchmaker(matchmaker), rating=model, mode=VoteKind.RANK)
            noise = ThurstonianNoise(beta, margin=model.draw_margin)
            arena = SimArena(method, truth, noise, np.random.default_rng(100 + k))
            done = 0
            for target in (200, 1000, 5000):
                for _ in range(target - done):
                    arena.step()
                done = target
                err = (arena.mu - arena.mu.mean(1, keepdims=True)) - (
                    truth - truth.mean(1, keepdims=True)
                )
                cover = float(np.mean(np.abs(err) <= 1.959964 * arena.sigma))
                out.setdefault(matchmaker, {})[f"K={k} after {target}"] = cover
            mine = {key: v for key, v in out[matchmaker].items() if key.startswith(f"K={k} ")}
            log(f"  coverage {matchmaker} K={k}: {mine}")
    return out


def sigma_ratios() -> dict[str, float]:
    """The smallest σ after / σ before of one vote at the prior, over K = 2..12 and tie families."""
    out: dict[str, float] = {}
    for label, model in MODELS.items():
        prior = model.initial()
        if prior.sigma == 0.0:
            continue
        worst = 1.0
        for k in range(2, 13):
            patterns: list[Outcome] = [
                Tie(k),
                Ranking((1,) * k),
                Ranking(tuple([1, 1, *range(3, k + 1)])),
                Ranking(tuple([*range(1, k - 1), k - 1, k - 1])),
                Ranking(tuple(1 + (i // 2) * 2 for i in range(k))),
                Ranking(tuple([1] + [2] * (k - 1))),
                Ranking(tuple(range(1, k + 1))),
                BestOfK(k, 0),
            ]
            for outcome in patterns:
                after = model.update((prior,) * k, outcome)
                worst = min(worst, min(r.sigma for r in after) / prior.sigma)
        out[label] = worst
    return out


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = list(results["sets"])
    labels = [*MODELS, "batch board"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.8 / len(labels)
    for j, label in enumerate(labels):
        vs_batch = [results["sets"][s]["boards"].get(label, {}).get("tau_vs_batch", np.nan)
                    for s in sets]  # fmt: skip
        shuffle = [results["sets"][s]["boards"].get(label, {}).get("shuffle_tau_median", np.nan)
                   for s in sets]  # fmt: skip
        x = np.arange(len(sets)) + j * width
        axes[0].bar(x, vs_batch, width, label=label)
        axes[1].bar(x, shuffle, width, label=label)
    for ax, title in zip(axes, ("Kendall τ vs the batch board", "median τ over 20 vote orders"),
                         strict=True):  # fmt: skip
        ax.set_xticks(np.arange(len(sets)) + 0.4 - width / 2)
        ax.set_xticklabels(sets, rotation=15)
        ax.set_ylim(0.0, 1.05)
        ax.axhline(0.95 if "orders" in title else 0.85, color="k", lw=0.8, ls="--")
        ax.set_title(title)
    axes[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="under a minute: subsampled")
    parser.add_argument("--shuffles", type=int, default=20)
    parser.add_argument("--rounds", type=int, help="bootstrap rounds (100; quick 20)")
    args = parser.parse_args(argv)
    rounds = args.rounds if args.rounds is not None else (20 if args.quick else 100)
    sets: dict[str, Any] = {}
    for criterion in ("quality", "alignment"):
        loaded = agiqa(criterion)
        if loaded is not None:
            arrays, mean = loaded
            sets[f"AGIQA-3K {criterion}"] = evaluate(
                f"AGIQA-3K {criterion}", arrays, mean, args.shuffles, rounds
            )
    arena = chatbot_arena(100_000 if args.quick else None, np.random.default_rng(0))
    if arena is not None:
        sets["Chatbot Arena"] = evaluate("Chatbot Arena", arena, None, args.shuffles, rounds)
    cover = coverage(args.quick)
    ratios = sigma_ratios()

    print(f"\n{'data set':<22}{'board':<24}{'τ vs mean':>10}{'τ vs batch':>11}"
          f"{'shuffle τ':>10}{'σ at end':>10}")  # fmt: skip
    for name, result in sets.items():
        for label, row in result["boards"].items():
            print(f"{name:<22}{label:<24}{row['tau_vs_mean']:>10.3f}{row['tau_vs_batch']:>11.3f}"
                  f"{row['shuffle_tau_median']:>10.3f}{row['sigma_end']:>10.3f}")  # fmt: skip
    print("\ncoverage of μ ± 1.96σ (default model, simulation at Chatbot Arena spacing):")
    for matchmaker, cells in cover.items():
        print(f"  {matchmaker:<10} " + "  ".join(f"{k}: {v:.3f}" for k, v in cells.items()))
    print("\nsmallest σ after/before one vote, K = 2..12, all tie families:")
    for label, ratio in ratios.items():
        print(f"  {label:<24}{ratio:.3f}")

    default_rows = [s["boards"][DEFAULT] for s in sets.values()]
    uniform = list(cover.get("random", {}).values())
    means = [r["tau_vs_mean"] for r in default_rows if not np.isnan(r["tau_vs_mean"])]
    result = {
        "min_tau_vs_batch": min(r["tau_vs_batch"] for r in default_rows),
        "min_tau_vs_mean": min(means) if means else float("nan"),
        "shuffle_tau_median": 1.0,  # the default board is the batch board (docs/ratings.md)
        "online_shuffle_tau_median": statistics.median(
            r["shuffle_tau_median"] for r in default_rows
        ),
        "coverage95": statistics.fmean(uniform) if uniform else float("nan"),
        "coverage95_min": min(uniform) if uniform else float("nan"),
        "coverage95_max": max(uniform) if uniform else float("nan"),
        "min_sigma_ratio": min(ratios[label] for label in ratios if "paper" not in label),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "_quick" if args.quick else ""
    payload = {"mode": "quick" if args.quick else "full", "sets": sets, "coverage": cover,
               "sigma_ratio": ratios, "result": result}  # fmt: skip
    (RESULTS / f"real_data{suffix}.json").write_text(json.dumps(payload, indent=2))
    plot(payload, RESULTS / f"real_data{suffix}.png")
    print(f"\nwrote {RESULTS / f'real_data{suffix}.json'} and .png")
    print("RESULT " + " ".join(f"{k}={v:.4g}" for k, v in result.items()))


if __name__ == "__main__":
    main()
