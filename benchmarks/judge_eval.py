"""K-Sort Eval in the paper's setting, simulated: 35-model board, 500 reference instances, and a
judge whose disagreement with humans is sampled from GPT-4o's real verdicts on GenAI-Arena votes.

The simulated world (all documented in docs/judge.md, "Benchmark"):

* Board: 35 models, μ uniform on [17, 31] (the span of K-Sort Arena's image board: about 0.4 μ
  between neighbours), σ ~ U(0.75, 0.85). Each model's true skill is θ_k ~ N(μ_k, σ_k²): the
  board is an estimate, as a real one is.
* An output's quality X = θ + N(0, β_o²); one human vote sees X + N(0, h²), β_o² + h² = β² with
  β = 25/6 and h² = share·β² (``--human-noise-share``, default 0.5: an assumption).
* Reference set: 500 instances of 4 distinct models whose human ranking (one noisy vote) agrees
  with the board (Spearman > 0.75): rejection sampling, as K-Sort Eval's released set was filtered.
* New model: θ ~ U(18, 30); one fresh output X per instance.
* Judge: ranks Y = X + N(0, s²) + b·(½ − position/(n−1)) (Thurstonian noise plus a primacy bias).
  (s, b) are fitted, per new model, so that on random, unfiltered board pairs the judge agrees with
  a noisy human vote as often as GPT-4o did in ``genai_bench_judge_votes.csv`` (image generation,
  strict human votes; a judge tie counts as a coin flip), separately for "left better" and
  "right better"; the rates are drawn from their posteriors, so every new model meets a slightly
  different judge.

Methods: ours (output-level placement, :mod:`karena.judge.placement`) and the paper's
(:mod:`karena.judge.loop`), each with the ablations no dynamic matching, no correction (ours: the
judge's noise is not learnt but trusted at its minimum), no swapping (the new output always shown
last), and a noiseless judge. All rows share each new model's θ, outputs and judge. The floor
table runs ours without a stopping rule for 300 runs.

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
from karena.judge.placement import (
    PlacementConfig,
    PlacementState,
    infer_output_qualities,
    output_matching_table,
)
from karena.judge.posterior import DEFAULT_HUMAN_NOISE_SHARE, OutputQuality, split_beta
from karena.judge.reference import agreement_with_board
from karena.judge.report import place
from karena.rating.models.thurstone import DEFAULT_BETA, ThurstoneK
from karena.rating.types import Rating

#: The paper's Eqs. 7-10 with γ = 1, as these figures were measured.
PAPER_FORM = ThurstoneK(weighting="paper", gamma="paper")
ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "genai_bench_judge_votes.csv"
RESULTS = ROOT / "benchmarks" / "results"
#: Ours (output-level placement) and its ablations, then the paper's method and its ablations.
OURS = ("full", "no_matching", "no_correction", "no_swap", "oracle_judge")
PAPER = ("paper", "paper_no_matching", "paper_no_correction", "paper_no_swap", "paper_oracle")
VARIANTS = OURS + PAPER
BUDGETS = (30, 60, 90, 150, 300, 500)


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


def fit_judge(
    p_left: float, p_right: float, gaps: np.ndarray, human_left: np.ndarray
) -> tuple[float, float]:
    """(s, b): judge noise and primacy bias that reproduce GPT-4o's agreement with human votes.

    ``gaps`` are quality differences X_left − X_right of unfiltered random board pairs and
    ``human_left`` whether a (noisy) human vote preferred the left one: the judge's disagreement
    with a vote is then split between the vote's own noise and the judge's.
    """
    gl, gr = gaps[human_left], -gaps[~human_left]

    def eqs(v: np.ndarray) -> list[float]:
        s, b = math.exp(v[0]), v[1]
        z = math.sqrt(2.0) * s
        return [
            float(special.ndtr((gl + b) / z).mean() - p_left),
            float(special.ndtr((gr - b) / z).mean() - p_right),
        ]

    sol = optimize.fsolve(eqs, [math.log(3.0), 0.0], full_output=True)
    v = sol[0]
    return max(math.exp(float(v[0])), 0.05), float(v[1])


@dataclass(frozen=True)
class World:
    board_mu: np.ndarray
    board_sigma: np.ndarray
    true_skill: np.ndarray  # θ_k ~ N(μ_k, σ_k²): the board is an estimate, not the truth
    inst_models: np.ndarray  # (N, 4) model indices
    inst_x: np.ndarray  # (N, 4) qualities of the stored outputs (what a noiseless eye sees)
    inst_ranks: np.ndarray  # (N, 4) human ranks, 1 = best (one noisy vote, filtered)
    pair_gaps: np.ndarray  # X_left − X_right of random, unfiltered board pairs
    pair_human_left: np.ndarray  # a noisy human vote on that pair preferred the left output
    beta_output: float
    human_noise: float
    acceptance: float  # share of sampled instances that passed the Spearman > 0.75 filter


def make_world(
    rng: np.random.Generator, share: float, n_models: int = 35, n_instances: int = 500
) -> World:
    """Board, true skills, and the filtered reference set (rejection sampling, as K-Sort Eval)."""
    beta_o, human = split_beta(DEFAULT_BETA, share)
    mu = np.sort(rng.uniform(17.0, 31.0, n_models))[::-1]
    sigma = rng.uniform(0.75, 0.85, n_models)
    skill = mu + sigma * rng.standard_normal(n_models)
    models, xs, ranks = [], [], []
    tried = 0
    while len(models) < n_instances:
        tried += 1
        pick = rng.choice(n_models, 4, replace=False)
        x = skill[pick] + rng.normal(0.0, beta_o, 4)
        z = x + rng.normal(0.0, human, 4)
        r = np.argsort(np.argsort(-z)) + 1
        ratings = [Rating(float(mu[j]), float(sigma[j])) for j in pick]
        if agreement_with_board([float(v) for v in r], ratings) > 0.75:
            models.append(pick)
            xs.append(x)
            ranks.append(r)
    a = rng.integers(0, n_models, 20000)
    b = (a + rng.integers(1, n_models, 20000)) % n_models
    gaps = skill[a] - skill[b] + rng.normal(0.0, beta_o * math.sqrt(2.0), a.size)
    human_left = gaps + rng.normal(0.0, human * math.sqrt(2.0), a.size) > 0
    return World(mu, sigma, skill, np.array(models), np.array(xs), np.array(ranks), gaps,
                 human_left, beta_o, human, n_instances / tried)  # fmt: skip


def judge_order(
    x: np.ndarray, judge: tuple[float, float], rng: np.random.Generator
) -> tuple[int, ...]:
    """A simulated judge's order (best first) of the displayed qualities ``x``."""
    s, b = judge
    bias = b * (0.5 - np.arange(x.size) / (x.size - 1))
    y = x + rng.normal(0.0, s, x.size) + bias
    return tuple(int(i) for i in np.argsort(-y))


def simulate_paper(world: World, x_new: np.ndarray, judge: tuple[float, float],
                   config: LoopConfig, seed: int) -> tuple[Rating, int, list[float]]:  # fmt: skip
    """The paper's loop against the simulated judge; returns the final rating, runs and μ's."""
    ratings = [
        [Rating(float(world.board_mu[j]), float(world.board_sigma[j])) for j in row]
        for row in world.inst_models
    ]
    state = LoopState(MatchingTable.build(ratings, config.alpha, config.uncertainty), ratings,
                      world.inst_ranks.tolist(), config, PAPER_FORM)  # fmt: skip
    rng = np.random.default_rng([seed, 99])
    while state.stop_reason() is None:
        idx = state.select(1)[0]
        shown = swap_permutation(5, config.seed, state.runs, config.swapping)
        x = np.append(world.inst_x[idx], x_new[idx])[list(shown)]
        state.apply(idx, state.score(idx, ranks_from_order(judge_order(x, judge, rng), shown)))
    return state.rating, state.runs, [h[1] for h in state.history[1:]]


def simulate_ours(
    world: World,
    qualities: list[OutputQuality],
    table: MatchingTable,
    board: list[Rating],
    x_new: np.ndarray,
    judge: tuple[float, float],
    config: PlacementConfig,
    swapping: bool,
    seed: int,
) -> tuple[Rating, int, list[float]]:
    """The output-level loop; returns the final rating, runs and μ after every run."""
    state = PlacementState(qualities, board, config, table)
    rng = np.random.default_rng([seed, 99])
    mus: list[float] = []
    while state.stop_reason() is None:
        idx = state.select()
        shown = swap_permutation(5, config.seed, state.runs, swapping)
        x = np.append(world.inst_x[idx], x_new[idx])[list(shown)]
        state.apply(idx, ranks_from_order(judge_order(x, judge, rng), shown))
        mus.append(state.rating.mu)
    return state.rating, state.runs, mus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="16 new models on one board (< 1 min)")
    parser.add_argument("--models", type=int, default=None, help="new models per board")
    parser.add_argument("--boards", type=int, default=None, help="independent boards (repeats)")
    parser.add_argument(
        "--floor-models",
        type=int,
        default=None,
        help="new models per board run on all 500 instances without stopping",
    )
    parser.add_argument(
        "--human-noise-share",
        type=float,
        default=DEFAULT_HUMAN_NOISE_SHARE,
        help="share of β² that is human vote noise (the rest: output spread)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=DATA, help="genai_bench_judge_votes.csv")
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"missing {args.data}: the judge-noise data is needed (--data)")
    boards = args.boards if args.boards is not None else (1 if args.quick else 3)
    per_board = args.models if args.models is not None else (12 if args.quick else 30)
    n_floor = args.floor_models if args.floor_models is not None else (2 if args.quick else 8)
    share = args.human_noise_share
    counts = load_counts(args.data)
    paper_base = LoopConfig()
    paper_cfgs = {
        "paper": paper_base,
        "paper_no_matching": replace(paper_base, matching=False),
        "paper_no_correction": replace(paper_base, correction=False),
        "paper_no_swap": replace(paper_base, swapping=False),
        "paper_oracle": paper_base,
    }
    ours_base = PlacementConfig(human_noise_share=share)
    ours_cfgs = {
        "full": ours_base,
        "no_matching": replace(ours_base, matching=False),
        "no_correction": replace(ours_base, reliability=False),
        "no_swap": ours_base,
        "oracle_judge": ours_base,
    }
    rows: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    # |rank error| after every run, without a stopping rule: ours with a noiseless judge and with
    # the GPT-4o-level judge, and the paper's method with the same judge.
    floor: dict[str, list[list[int]]] = {"oracle": [], "gpt4o": [], "paper_gpt4o": []}
    judges, worlds = [], []
    started = time.perf_counter()
    for board in range(boards):
        rng = np.random.default_rng([args.seed, board])
        world = make_world(rng, share)
        board_list = [
            Rating(float(m), float(s))
            for m, s in zip(world.board_mu, world.board_sigma, strict=True)
        ]
        board_ratings = {f"m{i}": r for i, r in enumerate(board_list)}
        inst_ratings = [[board_list[j] for j in row] for row in world.inst_models]
        qualities = infer_output_qualities(inst_ratings, world.inst_ranks.tolist(), ours_base)
        table = output_matching_table(qualities, ours_base.alpha)
        q_mean = np.array([q.mean for q in qualities])
        worlds.append({
            "acceptance": world.acceptance,
            "rmse_x_board": float(np.sqrt(np.mean(
                (world.inst_x - world.board_mu[world.inst_models]) ** 2))),
            "rmse_x_output_posterior": float(np.sqrt(np.mean((world.inst_x - q_mean) ** 2))),
            "human_human_agreement": _human_agreement(world.human_noise, world.pair_gaps),
        })  # fmt: skip
        for m in range(per_board):
            theta = float(rng.uniform(18.0, 30.0))
            x_new = theta + rng.normal(0.0, world.beta_output, len(world.inst_x))
            p_l, p_r = sample_agreement(counts.left, rng), sample_agreement(counts.right, rng)
            judge = fit_judge(p_l, p_r, world.pair_gaps, world.pair_human_left)
            judges.append((p_l, p_r, *judge))
            true_rank = place(Rating(theta, 0.0), board_ratings).rank_paper
            seed = board * 1000 + m
            for v, cfg in paper_cfgs.items():
                this_judge = (0.0, 0.0) if v.endswith("oracle") else judge
                rating, runs, _ = simulate_paper(
                    world, x_new, this_judge, replace(cfg, seed=seed), seed
                )
                rows[v].append(_row(rating, runs, theta, true_rank, board_ratings))
            for v, pcfg in ours_cfgs.items():
                this_judge = (0.0, 0.0) if v == "oracle_judge" else judge
                pcfg = replace(pcfg, seed=seed)
                rating, runs, _ = simulate_ours(
                    world,
                    qualities,
                    table,
                    board_list,
                    x_new,
                    this_judge,
                    pcfg,
                    v != "no_swap",
                    seed,
                )
                rows[v].append(_row(rating, runs, theta, true_rank, board_ratings))
            if m < n_floor:  # the information floor: no stopping rule, all 500 instances
                never = replace(ours_base, seed=seed, stop_sigma=1e-9, max_runs=max(BUDGETS))
                paper_never = replace(paper_base, seed=seed, stop_sigma=1e-9, max_runs=max(BUDGETS))
                _, _, mus = simulate_paper(world, x_new, judge, paper_never, seed)
                floor["paper_gpt4o"].append([
                    abs(place(Rating(mu, 0.0), board_ratings).rank_paper - true_rank)
                    for mu in mus
                ])  # fmt: skip
                for name, jd in (("oracle", (0.0, 0.0)), ("gpt4o", judge)):
                    _, _, mus = simulate_ours(world, qualities, table, board_list, x_new, jd, never,
                                              True, seed)  # fmt: skip
                    floor[name].append([
                        abs(place(Rating(mu, 0.0), board_ratings).rank_paper - true_rank)
                        for mu in mus
                    ])  # fmt: skip
            done = f"board {board + 1}/{boards} model {m + 1}/{per_board}"
            print(f"{done} {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - started
    summary = {v: _summarise(rows[v]) for v in VARIANTS}
    floor_within1 = {
        name: {str(n): float(np.mean([t[n - 1] <= 1 for t in trajs])) for n in BUDGETS}
        for name, trajs in floor.items()
    }
    j = np.array(judges)
    beta_o, human = split_beta(DEFAULT_BETA, share)
    meta = {
        "boards": boards,
        "models_per_board": per_board,
        "new_models": boards * per_board,
        "floor_models": boards * n_floor,
        "human_noise_share": share,
        "beta_output": beta_o,
        "human_noise": human,
        "human_human_agreement": float(np.mean([w["human_human_agreement"] for w in worlds])),
        "worlds": worlds,
        "gpt4o_counts": {"left": counts.left, "right": counts.right},
        "judge_agreement_left_median": float(np.median(j[:, 0])),
        "judge_agreement_right_median": float(np.median(j[:, 1])),
        "judge_noise_s_median": float(np.median(j[:, 2])),
        "judge_primacy_bias_b_median": float(np.median(j[:, 3])),
        "floor_within1_by_runs": floor_within1,
        "seconds": elapsed,
        "paper": {
            "within90_runs_image": 0.91,
            "ablation_flux_runs": {"full": 81, "no_matching": 500, "no_correction": 70},
        },
    }
    print(
        f"K-Sort Eval simulation: {boards} board(s) × {per_board} new models,"
        f" 35-model board, 500 instances; human noise share {share:.2f}"
        f" (β_o={beta_o:.2f}, h={human:.2f}; two humans agree on"
        f" {meta['human_human_agreement']:.0%} of random pairs)"
    )
    print(
        f"judge: GPT-4o agreement left {meta['judge_agreement_left_median']:.3f} / right"
        f" {meta['judge_agreement_right_median']:.3f} → noise s={meta['judge_noise_s_median']:.2f},"
        f" primacy bias b={meta['judge_primacy_bias_b_median']:.2f}"
        f" (μ units; β={DEFAULT_BETA:.2f});"
        f" reference filter acceptance {np.mean([w['acceptance'] for w in worlds]):.2f}"
    )
    print(
        "existing-output quality error: board μ"
        f" {np.mean([w['rmse_x_board'] for w in worlds]):.2f},"
        f" output posterior {np.mean([w['rmse_x_output_posterior'] for w in worlds]):.2f} (RMSE)"
    )
    header = (
        f"{'variant':<20}{'median runs':>12}{'p90 runs':>10}{'≤90 runs':>10}{'±1 rank':>9}"
        f"{'±3 rank':>9}{'|rank err|':>11}{'rank bias':>10}{'RMSE μ':>8}"
    )
    print(header)
    print("-" * len(header))
    for v in VARIANTS:
        s = summary[v]
        print(
            f"{v:<20}{s['median_runs']:>12.0f}{s['p90_runs']:>10.0f}{s['within90']:>10.0%}"
            f"{s['within1_rank']:>9.0%}{s['within3_rank']:>9.0%}{s['mean_abs_rank_error']:>11.2f}"
            f"{s['mean_rank_bias']:>10.2f}{s['rmse_mu']:>8.2f}"
        )
    print(
        f"within ±1 rank after a fixed number of runs (no stopping rule, {boards * n_floor} models;"
        " oracle and gpt4o: ours, with a noiseless and the GPT-4o-level judge):"
    )
    print(f"  {'runs':<12}" + "".join(f"{n:>6}" for n in BUDGETS))
    for name, by_n in floor_within1.items():
        print(f"  {name:<12}" + "".join(f"{p:>6.0%}" for p in by_n.values()))
    print(
        "paper (K-Sort Eval, images): 91% of models within 90 runs; FLUX.1-dev: 81 runs full,"
        " 500 without matching, 70 without correction"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {"summary": summary, "meta": meta, "rows": rows, "floor": floor}
    (RESULTS / "judge_eval.json").write_text(json.dumps(out, indent=2))
    _plot(rows, RESULTS / "judge_eval.png")
    f, p = summary["full"], summary["paper"]
    print(
        f"RESULT median_runs={f['median_runs']:.0f} p90_runs={f['p90_runs']:.0f}"
        f" within1_rank={f['within1_rank']:.3f}"
        f" no_matching_median_runs={summary['no_matching']['median_runs']:.0f}"
        f" no_correction_within1_rank={summary['no_correction']['within1_rank']:.3f}"
        f" no_swap_within1_rank={summary['no_swap']['within1_rank']:.3f}"
        f" paper_median_runs={p['median_runs']:.0f} paper_p90_runs={p['p90_runs']:.0f}"
        f" paper_within1_rank={p['within1_rank']:.3f}"
    )


def _row(rating: Rating, runs: int, theta: float, true_rank: int,
         board: dict[str, Rating]) -> dict[str, float]:  # fmt: skip
    p = place(rating, board)
    return {"runs": runs, "rank_error": p.rank_paper - true_rank,
            "mu_error": rating.mu - theta, "sigma": rating.sigma}  # fmt: skip


def _summarise(rows: list[dict[str, float]]) -> dict[str, float]:
    runs = np.array([r["runs"] for r in rows])
    err = np.array([r["rank_error"] for r in rows])
    mu_err = np.array([r["mu_error"] for r in rows])
    return {
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


def _human_agreement(human: float, gaps: np.ndarray) -> float:
    """P(two independent human votes agree) on pairs with these quality gaps."""
    p = special.ndtr(gaps / (math.sqrt(2.0) * human)) if human > 0 else (gaps > 0).astype(float)
    return float(np.mean(p**2 + (1.0 - p) ** 2))


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
