"""K-Sort Eval in the paper's setting, simulated: 35-model board, 500 reference instances, and a
judge whose disagreement with humans is sampled from GPT-4o's real verdicts on GenAI-Arena votes.

The simulated world (all documented in docs/judge.md):

* Board: 35 models, μ uniform on [17, 31] (the span of K-Sort Arena's image board),
  σ ~ U(0.75, 0.85).
* An output's quality as people see it: X = θ + N(0, β²), β = 25/6 (the rating model's β).
* Reference set: 500 instances of 4 distinct models whose human ranking (the order of X) agrees
  with the board (Spearman > 0.75), as K-Sort Eval's released set was filtered.
* New model: θ ~ U(18, 30); one fresh output X per instance.
* Judge: ranks Y = X + N(0, s²) + b·(½ − position/(n−1)), a Thurstonian judge with a primacy
  bias b between the first and the last position. (s, b) are fitted, per new model, so that in
  our instances' pairs the judge agrees with the human order as often as GPT-4o did in
  ``genai_bench_judge_votes.csv`` (image generation, strict human votes; a judge tie counts as a
  coin flip), separately for "left image better" and "right image better": the agreement rates are
  drawn from their Beta posteriors, so every new model meets a slightly different judge.

Ablations share each new model's θ, outputs and judge: no dynamic matching (a seeded random
instance order), no posterior correction (μ, σ ← μ̂, σ̂), no swapping (the new output always
shown last, where the position bias penalises it).

Run: ``python benchmarks/judge_eval.py [--quick]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy import optimize, special

from karena.judge.loop import LoopConfig, LoopState, ranks_from_order, swap_permutation
from karena.judge.matching import MatchingTable
from karena.judge.reference import agreement_with_board
from karena.judge.report import place
from karena.rating.thurstone import DEFAULT_BETA, ThurstoneK
from karena.rating.types import Rating

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "genai_bench_judge_votes.csv"
RESULTS = ROOT / "benchmarks" / "results"
VARIANTS = ("full", "no_matching", "no_correction", "no_swap", "oracle_judge", "judge_beta")


@dataclass(frozen=True)
class JudgeCounts:
    """GPT-4o's verdicts on strict human votes: agree / disagree / tie, per human side."""

    left: tuple[int, int, int]
    right: tuple[int, int, int]


def load_counts(path: Path, judge: str = "gpt4o", task: str = "image_generation") -> JudgeCounts:
    """Count the judge's verdicts against strict human votes (leftvote / rightvote)."""
    c: Counter[tuple[str, str]] = Counter()
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["judge"] == judge and row["task"] == task:
                c[(row["human_vote"], row["judge_vote"])] += 1
    ties = ("[[A=B=Good]]", "[[A=B=Bad]]")
    left = (
        c[("leftvote", "[[A>B]]")],
        c[("leftvote", "[[B>A]]")],
        sum(c[("leftvote", t)] for t in ties),
    )
    right = (
        c[("rightvote", "[[B>A]]")],
        c[("rightvote", "[[A>B]]")],
        sum(c[("rightvote", t)] for t in ties),
    )
    return JudgeCounts(left, right)


def sample_agreement(counts: tuple[int, int, int], rng: np.random.Generator) -> float:
    """An agreement rate drawn from its posterior; a judge tie is a coin flip for a ranker."""
    agree, disagree, tie = counts
    p = rng.dirichlet([agree + 1, disagree + 1, tie + 1])
    return float(p[0] + 0.5 * p[2])


def fit_judge(p_left: float, p_right: float, gaps: np.ndarray) -> tuple[float, float]:
    """(s, b): noise and primacy bias that give these agreement rates on pairs with these gaps."""

    def eqs(v: np.ndarray) -> list[float]:
        s, b = math.exp(v[0]), v[1]
        z = math.sqrt(2.0) * s
        return [
            float(special.ndtr((gaps + b) / z).mean() - p_left),
            float(special.ndtr((gaps - b) / z).mean() - p_right),
        ]

    sol = optimize.fsolve(eqs, [math.log(3.0), 0.0], full_output=True)
    v = sol[0]
    return math.exp(float(v[0])), float(v[1])


@dataclass(frozen=True)
class World:
    board_mu: np.ndarray
    board_sigma: np.ndarray
    inst_models: np.ndarray  # (N, 4) model indices
    inst_x: np.ndarray  # (N, 4) perceived qualities of the stored outputs
    inst_ranks: np.ndarray  # (N, 4) human ranks, 1 = best
    gaps: np.ndarray  # |X_i − X_j| over pairs within instances


def make_world(rng: np.random.Generator, n_models: int = 35, n_instances: int = 500) -> World:
    mu = np.sort(rng.uniform(17.0, 31.0, n_models))[::-1]
    sigma = rng.uniform(0.75, 0.85, n_models)
    models, xs, ranks = [], [], []
    while len(models) < n_instances:
        pick = rng.choice(n_models, 4, replace=False)
        x = mu[pick] + rng.normal(0.0, DEFAULT_BETA, 4)
        r = np.argsort(np.argsort(-x)) + 1
        ratings = [Rating(float(mu[j]), float(sigma[j])) for j in pick]
        if agreement_with_board([float(v) for v in r], ratings) > 0.75:
            models.append(pick)
            xs.append(x)
            ranks.append(r)
    inst_x = np.array(xs)
    gaps = np.abs(inst_x[:, :, None] - inst_x[:, None, :])[
        :, np.triu_indices(4, 1)[0], np.triu_indices(4, 1)[1]
    ]
    return World(mu, sigma, np.array(models), inst_x, np.array(ranks), gaps.ravel())


def simulate(world: World, theta: float, x_new: np.ndarray, judge: tuple[float, float],
             config: LoopConfig, seed: int) -> tuple[Rating, int]:  # fmt: skip
    """Run one evaluation against the simulated judge; returns the final rating and runs."""
    ratings = [
        [Rating(float(world.board_mu[j]), float(world.board_sigma[j])) for j in row]
        for row in world.inst_models
    ]
    state = LoopState(MatchingTable.build(ratings, config.alpha, config.uncertainty), ratings,
                      world.inst_ranks.tolist(), config, ThurstoneK())  # fmt: skip
    s, b = judge
    rng = np.random.default_rng([seed, 99])
    while state.stop_reason() is None:
        idx = state.select(1)[0]
        shown = swap_permutation(5, config.seed, state.runs, config.swapping)
        x = np.append(world.inst_x[idx], x_new[idx])[list(shown)]
        bias = b * (0.5 - np.arange(5) / 4.0)
        y = x + rng.normal(0.0, s, 5) + bias
        order = tuple(int(i) for i in np.argsort(-y))
        state.apply(idx, state.score(idx, ranks_from_order(order, shown)))
    return state.rating, state.runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 new models on one board (< 1 min)")
    parser.add_argument("--models", type=int, default=None, help="new models per board")
    parser.add_argument("--boards", type=int, default=None, help="independent boards (repeats)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not DATA.is_file():
        sys.exit(f"missing {DATA}: the judge-noise data is needed")
    boards = args.boards if args.boards is not None else (1 if args.quick else 4)
    per_board = args.models if args.models is not None else (30 if args.quick else 50)
    counts = load_counts(DATA)
    base = LoopConfig()
    configs = {
        "full": base,
        "no_matching": replace(base, matching=False),
        "no_correction": replace(base, correction=False),
        "no_swap": replace(base, swapping=False),
        "oracle_judge": base,  # a noise- and bias-free judge: the ceiling any judge can reach
        "judge_beta": base,  # β of the update widened to √(β² + s²) for this judge's noise s
    }
    rows: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    judges = []
    started = time.perf_counter()
    for board in range(boards):
        rng = np.random.default_rng([args.seed, board])
        world = make_world(rng)
        board_ratings = {
            f"m{i}": Rating(float(m), float(s))
            for i, (m, s) in enumerate(zip(world.board_mu, world.board_sigma, strict=True))
        }
        gaps = world.gaps[rng.choice(world.gaps.size, 20000)]
        for m in range(per_board):
            theta = float(rng.uniform(18.0, 30.0))
            x_new = theta + rng.normal(0.0, DEFAULT_BETA, len(world.inst_x))
            p_l, p_r = sample_agreement(counts.left, rng), sample_agreement(counts.right, rng)
            judge = fit_judge(p_l, p_r, gaps)
            judges.append((p_l, p_r, *judge))
            true_rank = place(Rating(theta, 0.0), board_ratings).rank_paper
            for v, cfg in configs.items():
                cfg = replace(cfg, seed=board * 1000 + m)
                this_judge = (0.0, 0.0) if v == "oracle_judge" else judge
                if v == "judge_beta":
                    cfg = replace(cfg, beta=math.sqrt(DEFAULT_BETA**2 + judge[0] ** 2))
                rating, runs = simulate(world, theta, x_new, this_judge, cfg, seed=board * 1000 + m)
                p = place(rating, board_ratings)
                rows[v].append({"runs": runs, "rank_error": p.rank_paper - true_rank,
                                "mu_error": rating.mu - theta, "sigma": rating.sigma})  # fmt: skip
    elapsed = time.perf_counter() - started
    summary = {}
    for v in VARIANTS:
        runs = np.array([r["runs"] for r in rows[v]])
        err = np.array([r["rank_error"] for r in rows[v]])
        mu_err = np.array([r["mu_error"] for r in rows[v]])
        summary[v] = {
            "median_runs": float(np.median(runs)),
            "p90_runs": float(np.percentile(runs, 90)),
            "within90": float(np.mean(runs <= 90)),
            "within1_rank": float(np.mean(np.abs(err) <= 1)),
            "within3_rank": float(np.mean(np.abs(err) <= 3)),
            "mean_abs_rank_error": float(np.mean(np.abs(err))),
            "mean_rank_bias": float(np.mean(err)),
            "rmse_mu": float(np.sqrt(np.mean(mu_err**2))),
            "mean_mu_bias": float(np.mean(mu_err)),
        }
    j = np.array(judges)
    meta = {
        "boards": boards,
        "models_per_board": per_board,
        "new_models": boards * per_board,
        "gpt4o_counts": {"left": counts.left, "right": counts.right},
        "judge_agreement_left_median": float(np.median(j[:, 0])),
        "judge_agreement_right_median": float(np.median(j[:, 1])),
        "judge_noise_s_median": float(np.median(j[:, 2])),
        "judge_primacy_bias_b_median": float(np.median(j[:, 3])),
        "seconds": elapsed,
        "paper": {
            "within90_runs_image": 0.91,
            "ablation_flux_runs": {"full": 81, "no_matching": 500, "no_correction": 70},
        },
    }
    print(
        f"K-Sort Eval simulation: {boards} board(s) × {per_board} new models,"
        " 35-model board, 500 instances"
    )
    print(
        f"judge: GPT-4o agreement left {meta['judge_agreement_left_median']:.3f} / right"
        f" {meta['judge_agreement_right_median']:.3f} → noise s={meta['judge_noise_s_median']:.2f},"
        f" primacy bias b={meta['judge_primacy_bias_b_median']:.2f}"
        f" (μ units; β={DEFAULT_BETA:.2f})"
    )
    header = (
        f"{'variant':<14}{'median runs':>12}{'p90 runs':>10}{'≤90 runs':>10}{'±1 rank':>9}"
        f"{'±3 rank':>9}{'|rank err|':>11}{'rank bias':>10}{'RMSE μ':>8}"
    )
    print(header)
    print("-" * len(header))
    for v in VARIANTS:
        s = summary[v]
        print(
            f"{v:<14}{s['median_runs']:>12.0f}{s['p90_runs']:>10.0f}{s['within90']:>10.0%}"
            f"{s['within1_rank']:>9.0%}{s['within3_rank']:>9.0%}{s['mean_abs_rank_error']:>11.2f}"
            f"{s['mean_rank_bias']:>10.2f}{s['rmse_mu']:>8.2f}"
        )
    print(
        "paper (K-Sort Eval, images): 91% of models within 90 runs; FLUX.1-dev: 81 runs full,"
        " 500 without matching, 70 without correction"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {"summary": summary, "meta": meta, "rows": rows}
    (RESULTS / "judge_eval.json").write_text(json.dumps(out, indent=2))
    _plot(rows, RESULTS / "judge_eval.png")
    f = summary["full"]
    print(
        f"RESULT median_runs={f['median_runs']:.0f} p90_runs={f['p90_runs']:.0f}"
        f" within1_rank={f['within1_rank']:.3f}"
        f" no_matching_median_runs={summary['no_matching']['median_runs']:.0f}"
        f" no_correction_within1_rank={summary['no_correction']['within1_rank']:.3f}"
        f" no_swap_within1_rank={summary['no_swap']['within1_rank']:.3f}"
    )


def _plot(rows: dict[str, list[dict[str, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    for v in VARIANTS:
        runs = np.sort([r["runs"] for r in rows[v]])
        a1.step(runs, np.arange(1, len(runs) + 1) / len(runs), where="post", label=v)
        errs = np.array([r["rank_error"] for r in rows[v]])
        lo, hi = int(errs.min()), int(errs.max())
        bins = np.arange(lo - 0.5, hi + 1.5)
        a2.hist(errs, bins=bins, histtype="step", label=v)
    a1.axvline(90, color="grey", linestyle=":")
    a1.set_xlabel("runs until stop")
    a1.set_ylabel("fraction of new models")
    a1.legend()
    a2.set_xlabel("predicted rank − true rank")
    a2.set_ylabel("new models")
    a2.legend()
    fig.suptitle("K-Sort Eval, simulated (35 models, 500 instances, GPT-4o-level judge noise)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
