"""K-Sort Eval in the paper's setting, simulated: 35-model board, 500 reference instances, and a
judge whose disagreement with humans is sampled from GPT-4o's real verdicts on GenAI-Arena votes
(the world: benchmarks/judge_world.py; docs/judge.md, "Benchmark").

Methods (karena.judge.methods), each with the ablations no dynamic matching, no correction (ours:
the judge's noise is not learnt but trusted at its minimum), no swapping (the new output always
shown last), and a noiseless judge:

* ``full``: karena's default, ``karena eval --method output``;
* ``paper``: the paper's loop as its figures were measured (ThurstoneK's paper form, sequential);
  ``paper_calibrated_joint`` is the same loop on the calibrated ThurstoneK with the joint update.

Every row reports its 90% rank interval's coverage (the share of models whose true rank lies
inside). Two more runs per model compare at equal runs: the paper's loop and a noiseless judge with
ours, each stopped after exactly the runs ours used (``rank_mae_over_paper``,
``within1_over_oracle``). All rows share each new model's θ, outputs and judge. In full mode a few
models run 300 runs without a stopping rule (the information floor).

Goals (issue 15): coverage90 in [0.86, 0.94] for each method; median runs ≤ 60;
rank_mae_over_paper ≤ 0.75; ablations in the expected order.

Run: ``python benchmarks/judge_eval.py [--quick]``. Quick: 40 new models on one board; full: 3 × 40.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from judge_world import (
    World,
    fit_judge,
    human_agreement,
    judge_order,
    load_counts,
    make_world,
    sample_agreement,
)
from karena.judge.loop import LoopConfig, ranks_from_order, swap_permutation
from karena.judge.matching import MatchingTable
from karena.judge.methods import Placer, make_placer
from karena.judge.placement import PlacementConfig, infer_output_qualities, output_matching_table
from karena.judge.posterior import (
    DEFAULT_HUMAN_NOISE_SHARE,
    GridPosterior,
    OutputQuality,
    split_beta,
)
from karena.rating.base import OnlineRatingModel
from karena.rating.models.thurstone import DEFAULT_BETA, ThurstoneK
from karena.rating.rank_interval import BoardRanks
from karena.rating.types import Rating

#: The paper's Eqs. 7-10 with γ = 1, where the paper's figures were measured.
PAPER_FORM = ThurstoneK(weighting="paper", gamma="paper")
ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "genai_bench_judge_votes.csv"
RESULTS = ROOT / "benchmarks" / "results"
OURS = ("full", "no_matching", "no_correction", "no_swap", "oracle_judge")
PAPER = ("paper", "paper_no_matching", "paper_no_correction", "paper_no_swap", "paper_oracle")
EXTRA = ("paper_calibrated_joint", "paper_at_our_runs", "oracle_at_our_runs", "bayes_bound")
VARIANTS = OURS + PAPER + EXTRA
BUDGETS = (30, 60, 90, 150, 300)
NEVER = 1e-9  # a stop σ no belief reaches: the run count decides


@dataclass(frozen=True)
class Variant:
    """One row: a method's config, its rating model (paper), and whether the judge is noiseless."""

    config: LoopConfig | PlacementConfig
    rating_model: OnlineRatingModel | None = None
    noiseless: bool = False


def variants(share: float) -> dict[str, Variant]:
    ours = PlacementConfig(human_noise_share=share)
    paper = LoopConfig()
    return {
        "full": Variant(ours),
        "no_matching": Variant(replace(ours, matching=False)),
        "no_correction": Variant(replace(ours, reliability=False)),
        "no_swap": Variant(replace(ours, swapping=False)),
        "oracle_judge": Variant(ours, noiseless=True),
        "paper": Variant(paper, PAPER_FORM),
        "paper_no_matching": Variant(replace(paper, matching=False), PAPER_FORM),
        "paper_no_correction": Variant(replace(paper, correction=False), PAPER_FORM),
        "paper_no_swap": Variant(replace(paper, swapping=False), PAPER_FORM),
        "paper_oracle": Variant(paper, PAPER_FORM, noiseless=True),
        "paper_calibrated_joint": Variant(replace(paper, update="joint"), ThurstoneK()),
    }


class Board:
    """One simulated world with what every placement on it shares (qualities, matching tables)."""

    def __init__(self, world: World, share: float) -> None:
        self.world = world
        self.ratings = [
            Rating(float(m), float(s))
            for m, s in zip(world.board_mu, world.board_sigma, strict=True)
        ]
        self.inst_ratings = [[self.ratings[j] for j in row] for row in world.inst_models]
        self.human = world.inst_ranks.tolist()
        self.base = PlacementConfig(human_noise_share=share)
        self.qualities = infer_output_qualities(self.inst_ratings, self.human, self.base)
        self.tables = {
            "output": output_matching_table(self.qualities, self.base.alpha, self.base.uncertainty),
            "paper": MatchingTable.build(self.inst_ratings, LoopConfig().alpha),
        }
        self.ranks = BoardRanks(self.ratings)

    def place(
        self,
        v: Variant,
        x_new: np.ndarray,
        judge: tuple[float, float],
        seed: int,
        log: list[tuple[int, tuple[int, ...]]] | None = None,
    ) -> Placer:
        """Run one placement to its stop against the simulated judge (``log``: its rankings)."""
        cfg = replace(v.config, seed=seed)
        paper = isinstance(cfg, LoopConfig)
        placer = make_placer(
            "paper" if paper else "output",
            instance_ratings=self.inst_ratings,
            human_ranks=self.human,
            board=self.ratings,
            paper=cfg if isinstance(cfg, LoopConfig) else None,
            output=cfg if isinstance(cfg, PlacementConfig) else self.base,
            rating_model=v.rating_model,
            qualities=self.qualities,
            table=self.tables["paper" if paper else "output"],
        )
        jd = (0.0, 0.0) if v.noiseless else judge
        rng = np.random.default_rng([seed, 99])
        while placer.stop_reason() is None:
            idx = placer.select(1)[0]
            shown = swap_permutation(5, placer.seed, placer.runs, placer.swapping)
            x = np.append(self.world.inst_x[idx], x_new[idx])[list(shown)]
            ranks = ranks_from_order(judge_order(x, jd, rng), shown)
            placer.record(idx, ranks)
            if log is not None:
                log.append((idx, ranks))
        return placer

    def bound(
        self, log: list[tuple[int, tuple[int, ...]]], judge: tuple[float, float], theta: float
    ) -> dict[str, Any]:
        """The exact posterior of the same rankings given what no method knows: every existing
        output's true quality and the judge's noise. No estimator using these runs does better."""
        s, b = judge
        noise = float(np.sqrt(s**2 + b**2 / 8.0))  # the swapped primacy bias is noise of var b²/8
        grid = GridPosterior(
            self.base.mu0, self.base.sigma0, self.world.beta_output, noise_grid=(noise,)
        )
        for idx, ranks in log:
            grid.update(OutputQuality(self.world.inst_x[idx], np.full(4, 1e-6)), ranks)
        iv = self.ranks.interval(grid.theta, grid.theta_weights())
        mu, sd = grid.moments()
        true_rank = int(self.ranks.rank(theta))
        return {
            "runs": len(log),
            "rank_error": int(self.ranks.rank(mu)) - true_rank,
            "covered": iv.contains(true_rank),
            "low": iv.low,
            "high": iv.high,
            "mass": iv.mass,
            "own_covered": iv.contains(true_rank),
            "mu_error": mu - theta,
            "sigma": sd,
            "true_rank": true_rank,
        }

    def row(self, placer: Placer, theta: float, true_rank: int) -> dict[str, Any]:
        iv = placer.interval()
        return {
            "runs": placer.runs,
            "rank_error": placer.rank() - true_rank,
            "covered": iv.contains(true_rank),
            "low": iv.low,
            "high": iv.high,
            "mass": iv.mass,
            "own_covered": self.ranks.gaussian_interval(placer.rating).contains(true_rank),
            "mu_error": placer.rating.mu - theta,
            "sigma": placer.rating.sigma,
            "true_rank": true_rank,
        }


def _summarise(rows: list[dict[str, Any]]) -> dict[str, float]:
    runs = np.array([r["runs"] for r in rows])
    err = np.array([r["rank_error"] for r in rows])
    mu_err = np.array([r["mu_error"] for r in rows])
    return {
        "median_runs": float(np.median(runs)),
        "p90_runs": float(np.percentile(runs, 90)),
        "within1_rank": float(np.mean(np.abs(err) <= 1)),
        "within3_rank": float(np.mean(np.abs(err) <= 3)),
        "mean_abs_rank_error": float(np.mean(np.abs(err))),
        "mean_rank_bias": float(np.mean(err)),
        "rmse_mu": float(np.sqrt(np.mean(mu_err**2))),
        "coverage90": float(np.mean([r["covered"] for r in rows])),
        "interval_mass": float(np.mean([r["mass"] for r in rows])),
        "median_width": float(np.median([r["high"] - r["low"] + 1 for r in rows])),
        "own_sigma_coverage90": float(np.mean([r["own_covered"] for r in rows])),
    }


def _ablations(s: dict[str, dict[str, float]], prefix: str, full: str) -> dict[str, bool]:
    """Each ablation does what it should, against its method's full row (docs/judge.md)."""
    f = s[full]
    oracle = "paper_oracle" if prefix else "oracle_judge"

    def worse(v: str) -> bool:  # the skill's error: finer than the rank's at 40-120 models
        return s[v]["rmse_mu"] > f["rmse_mu"]

    return {
        "no_matching_costs_runs_or_accuracy": worse(f"{prefix}no_matching")
        or s[f"{prefix}no_matching"]["median_runs"] > f["median_runs"],
        "no_correction_is_less_accurate_or_overconfident": worse(f"{prefix}no_correction")
        or s[f"{prefix}no_correction"]["coverage90"] < f["coverage90"],
        "no_swap_is_biased": abs(s[f"{prefix}no_swap"]["mean_rank_bias"])
        > abs(f["mean_rank_bias"]) + 0.5,
        "noiseless_judge_is_faster_or_more_accurate": (
            s[oracle]["rmse_mu"] < f["rmse_mu"] or s[oracle]["median_runs"] < 0.5 * f["median_runs"]
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 new models on one board")
    parser.add_argument("--models", type=int, default=None, help="new models per board")
    parser.add_argument("--boards", type=int, default=None, help="independent boards (repeats)")
    parser.add_argument(
        "--floor-models", type=int, default=None, help="models per board run 300 runs, no stop"
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
    per_board = args.models if args.models is not None else 40
    n_floor = args.floor_models if args.floor_models is not None else (0 if args.quick else 20)
    share = args.human_noise_share
    counts = load_counts(args.data)
    table = variants(share)
    rows: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    floor: dict[str, list[list[tuple[int, bool]]]] = {"gpt4o": [], "oracle": [], "paper": []}
    judges, worlds = [], []
    started = time.perf_counter()
    for b in range(boards):
        rng = np.random.default_rng([args.seed, b])
        board = Board(make_world(rng, share), share)
        w = board.world
        q_mean = np.array([q.mean for q in board.qualities])
        worlds.append({
            "acceptance": w.acceptance,
            "rmse_x_board": float(np.sqrt(np.mean((w.inst_x - w.board_mu[w.inst_models]) ** 2))),
            "rmse_x_output_posterior": float(np.sqrt(np.mean((w.inst_x - q_mean) ** 2))),
            "human_human_agreement": human_agreement(w.human_noise, w.pair_gaps),
        })  # fmt: skip
        for m in range(per_board):
            theta = float(rng.uniform(18.0, 30.0))
            x_new = theta + rng.normal(0.0, w.beta_output, len(w.inst_x))
            p_l, p_r = sample_agreement(counts.left, rng), sample_agreement(counts.right, rng)
            judge = fit_judge(p_l, p_r, w.pair_gaps, w.pair_human_left)
            judges.append((p_l, p_r, *judge))
            true_rank = int(board.ranks.rank(theta))
            seed = b * 1000 + m
            log: list[tuple[int, tuple[int, ...]]] = []
            for name, v in table.items():
                placer = board.place(v, x_new, judge, seed, log if name == "full" else None)
                rows[name].append(board.row(placer, theta, true_rank))
            rows["bayes_bound"].append(board.bound(log, judge, theta))
            n = rows["full"][-1]["runs"]  # equal runs: the paper's loop and a noiseless judge
            at_n = {
                "paper_at_our_runs": Variant(LoopConfig(stop_sigma=NEVER, max_runs=n), PAPER_FORM),
                "oracle_at_our_runs": Variant(
                    replace(board.base, stop_sigma=NEVER, max_runs=n), noiseless=True
                ),
            }
            for name, v in at_n.items():
                rows[name].append(board.row(board.place(v, x_new, judge, seed), theta, true_rank))
            if m < n_floor:  # the information floor: no stopping rule
                never = max(BUDGETS)
                runs = {
                    "gpt4o": Variant(replace(board.base, stop_sigma=NEVER, max_runs=never)),
                    "oracle": Variant(
                        replace(board.base, stop_sigma=NEVER, max_runs=never), noiseless=True
                    ),
                    "paper": Variant(LoopConfig(stop_sigma=NEVER, max_runs=never), PAPER_FORM),
                }
                for name, v in runs.items():
                    hist = board.place(v, x_new, judge, seed).history
                    floor[name].append([
                        (abs(h.rank - true_rank), h.rank_low <= true_rank <= h.rank_high)
                        for h in hist[1:]
                    ])  # fmt: skip
            done = f"board {b + 1}/{boards} model {m + 1}/{per_board}"
            print(f"{done} {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - started
    report(args, rows, floor, judges, worlds, elapsed, boards, per_board, n_floor)


def report(args: Any, rows: dict[str, list[dict[str, Any]]], floor: dict[str, Any],
           judges: list[tuple[float, ...]], worlds: list[dict[str, float]], elapsed: float,
           boards: int, per_board: int, n_floor: int) -> None:  # fmt: skip
    """Print the tables, write JSON and PNG, and end with the RESULT line."""
    summary = {v: _summarise(rows[v]) for v in VARIANTS}
    full, paper = summary["full"], summary["paper"]
    within1_over_oracle = full["within1_rank"] / max(
        summary["oracle_at_our_runs"]["within1_rank"], 1e-9
    )
    mae_ratio = full["mean_abs_rank_error"] / summary["paper_at_our_runs"]["mean_abs_rank_error"]
    ablations = {
        "ours": _ablations(summary, "", "full"),
        "paper": _ablations(summary, "paper_", "paper"),
    }
    goals = {
        "coverage90_ours_in_86_94": 0.86 <= full["coverage90"] <= 0.94,
        "coverage90_paper_in_86_94": 0.86 <= paper["coverage90"] <= 0.94,
        "median_runs_at_most_60": full["median_runs"] <= 60,
        "rank_mae_over_paper_at_most_0_75": mae_ratio <= 0.75,
        "ablations_in_order": all(all(a.values()) for a in ablations.values()),
    }
    floor_table = {
        name: {
            str(n): {
                "within1": float(np.mean([t[n - 1][0] <= 1 for t in trajs])),
                "mae": float(np.mean([t[n - 1][0] for t in trajs])),
                "coverage90": float(np.mean([t[n - 1][1] for t in trajs])),
            }
            for n in BUDGETS
        }
        for name, trajs in floor.items()
        if trajs
    }
    j = np.array(judges)
    share = args.human_noise_share
    beta_o, human = split_beta(DEFAULT_BETA, share)
    meta = {
        "boards": boards, "models_per_board": per_board, "new_models": boards * per_board,
        "floor_models": boards * n_floor, "human_noise_share": share, "beta_output": beta_o,
        "human_noise": human, "worlds": worlds,
        "human_human_agreement": float(np.mean([w["human_human_agreement"] for w in worlds])),
        "judge_agreement_left_median": float(np.median(j[:, 0])),
        "judge_agreement_right_median": float(np.median(j[:, 1])),
        "judge_noise_s_median": float(np.median(j[:, 2])),
        "judge_primacy_bias_b_median": float(np.median(j[:, 3])),
        "within1_over_oracle": within1_over_oracle, "rank_mae_over_paper": mae_ratio,
        "ablations": ablations, "goals": goals, "floor": floor_table, "seconds": elapsed,
        "paper": {"within90_runs_image": 0.91,
                  "ablation_flux_runs": {"full": 81, "no_matching": 500, "no_correction": 70}},
    }  # fmt: skip
    print(
        f"K-Sort Eval simulation: {boards} board(s) × {per_board} new models, 35-model board,"
        f" 500 instances; human noise share {share:.2f} (β_o={beta_o:.2f}, h={human:.2f};"
        f" two humans agree on {meta['human_human_agreement']:.0%} of random pairs)"
    )
    print(
        f"judge: GPT-4o agreement left {meta['judge_agreement_left_median']:.3f} / right"
        f" {meta['judge_agreement_right_median']:.3f} → noise s={meta['judge_noise_s_median']:.2f},"
        f" primacy bias b={meta['judge_primacy_bias_b_median']:.2f} (μ units; β={DEFAULT_BETA:.2f})"
    )
    header = (
        f"{'variant':<24}{'median runs':>12}{'p90':>6}{'±1 rank':>9}{'±3 rank':>9}"
        f"{'|rank err|':>11}{'bias':>7}{'RMSE μ':>8}{'cover 90%':>10}{'width':>7}{'own σ':>7}"
    )
    print(header)
    print("-" * len(header))
    for v in VARIANTS:
        s = summary[v]
        print(
            f"{v:<24}{s['median_runs']:>12.0f}{s['p90_runs']:>6.0f}{s['within1_rank']:>9.0%}"
            f"{s['within3_rank']:>9.0%}{s['mean_abs_rank_error']:>11.2f}{s['mean_rank_bias']:>7.2f}"
            f"{s['rmse_mu']:>8.2f}{s['coverage90']:>10.0%}{s['median_width']:>7.0f}"
            f"{s['own_sigma_coverage90']:>7.0%}"
        )
    print(
        "(cover 90%: the report's 90% rank interval; own σ: the method's μ ± 1.645σ as an interval)"
    )
    if floor_table:
        print(f"after a fixed number of runs, no stopping rule ({boards * n_floor} models):"
              " within ±1 rank / mean |rank error| / 90% coverage")  # fmt: skip
        print(f"  {'runs':<8}" + "".join(f"{n:>18}" for n in BUDGETS))
        for name, by_n in floor_table.items():
            cells = "".join(
                f"{c['within1']:>7.0%} {c['mae']:>4.2f} {c['coverage90']:>4.0%}"
                for c in by_n.values()
            )
            print(f"  {name:<8}{cells}")
    for name, ok in goals.items():
        print(f"goal {name}: {'met' if ok else 'NOT met'}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {"summary": summary, "meta": meta, "rows": rows}
    (RESULTS / "judge_eval.json").write_text(json.dumps(out, indent=1))
    _plot(rows, RESULTS / "judge_eval.png")
    print(
        f"RESULT median_runs={full['median_runs']:.0f} within1_rank={full['within1_rank']:.3f}"
        f" within1_over_oracle={within1_over_oracle:.3f} coverage90={full['coverage90']:.3f}"
        f" rank_mae_over_paper={mae_ratio:.3f} paper_median_runs={paper['median_runs']:.0f}"
    )


def _plot(rows: dict[str, list[dict[str, Any]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(15, 4.5))
    main = ("full", "no_correction", "oracle_judge", "paper", "paper_calibrated_joint")
    for v in main:
        runs = np.sort([r["runs"] for r in rows[v]])
        a1.step(runs, np.arange(1, len(runs) + 1) / len(runs), where="post", label=v)
    a1.axvline(60, color="grey", linestyle=":")
    a1.set_xlabel("runs until stop")
    a1.set_ylabel("fraction of new models")
    a1.legend(fontsize=8)
    names = [v for v in VARIANTS if not v.endswith("_at_our_runs")]
    cover = [np.mean([r["covered"] for r in rows[v]]) for v in names]
    own = [np.mean([r["own_covered"] for r in rows[v]]) for v in names]
    y = np.arange(len(names))
    a2.axvspan(0.86, 0.94, color="C2", alpha=0.15, label="goal 86–94%")
    a2.barh(y + 0.2, cover, height=0.4, label="90% rank interval (report)")
    a2.barh(y - 0.2, own, height=0.4, label="method's μ ± 1.645σ")
    a2.set_yticks(y, names, fontsize=8)
    a2.invert_yaxis()
    a2.set_xlim(0, 1)
    a2.set_xlabel("share of models whose true rank is inside")
    a2.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)
    full = sorted(rows["full"], key=lambda r: r["true_rank"])
    x = np.arange(len(full))
    a3.vlines(x, [r["low"] for r in full], [r["high"] for r in full], color="C0", alpha=0.6,
              label="90% interval (ours)")  # fmt: skip
    a3.plot(x, [r["true_rank"] for r in full], "k.", markersize=4, label="true rank")
    miss = [i for i, r in enumerate(full) if not r["covered"]]
    a3.plot(miss, [full[i]["true_rank"] for i in miss], "rx", label="outside")
    a3.invert_yaxis()
    a3.set_xlabel("new models, by true rank")
    a3.set_ylabel("rank")
    a3.legend(fontsize=8)
    fig.suptitle("K-Sort Eval, simulated (35 models, 500 instances, GPT-4o-level judge noise)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
