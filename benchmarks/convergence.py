"""Convergence study: K-Sort Arena §4 reproduced on karena's code, and the matchmaker that beats it.

Runs every method side by side on the same shuffled 50-model worlds (flip noise 0% and 5%, plus
real-judge noise in full mode), the new-model experiment (Fig. 6) and the real-scale scenario
(Bradley–Terry truth fitted on 1.67M Chatbot Arena votes). Prints the table, writes
benchmarks/results/convergence.json and PNG plots, and ends with the RESULT line.

    python benchmarks/convergence.py --quick  # < 1 min: 5% noise, 4 methods -> convergence_quick.*
    python benchmarks/convergence.py          # full mode, ~15 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from karena.rating.models.factor_graph import FactorGraphFFA
from karena.sim.metrics import summarize
from karena.sim.noise import FlipNoise, GumbelNoise, JudgeNoise, NoiseModel
from karena.sim.protocol import (
    MethodResult,
    information_floor,
    method_catalog,
    run_convergence,
    run_new_model,
    run_real_scale,
    shuffled_worlds,
)
from karena.sim.report import (
    convergence_json,
    format_table,
    plot_convergence,
    plot_new_model,
    plot_real_scale,
    result_line,
)

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"


def log(msg: str) -> None:
    print(msg, flush=True)


def study(args: argparse.Namespace) -> tuple[dict[str, list[MethodResult]], str]:
    """The main table: method × noise → votes to converge."""
    fg = FactorGraphFFA() if not args.quick else None
    catalog = method_catalog(4, factor_graph=fg)
    quick_keys = ["elo", "random", "ucb", "window-ts", "ucb-cal", "window-ts-cal"]
    keys = quick_keys if args.quick else list(catalog)
    noises: dict[str, NoiseModel] = {"5%": FlipNoise(0.05)}
    if not args.quick:
        noises = {"0%": FlipNoise(0.0), **noises}
    judge_csv = DATA / "genai_bench_judge_votes.csv"
    if not args.quick and judge_csv.is_file():
        noises["judge"] = JudgeNoise.from_csv(judge_csv, "gpt4o")
    worlds = shuffled_worlds(args.n, args.seeds, np.random.default_rng(args.seed))
    out: dict[str, list[MethodResult]] = {}
    for noise_label, noise in noises.items():
        out[noise_label] = []
        # Judge noise is far noisier: run the K=4 contenders only.
        noise_keys = (
            keys
            if noise_label != "judge"
            else [
                "random",
                "ucb",
                "ucb-tuned",
                "window",
                "window-tuned",
                "ucb-wl",
                "window-wl",
                "window-ts",
                "ucb-cal",
                "window-ts-cal",
            ]
        )
        for i, key in enumerate(noise_keys):
            method = catalog[key]
            seeds = worlds
            if key == "factor-graph":
                # The factor graph runs vote by vote in Python: fewer seeds keep the run short.
                seeds = worlds[: args.fg_seeds]
            t0 = time.perf_counter()
            # K=2 runs are 6× longer; checking their MSE every 3rd vote keeps them affordable.
            every = 3 if method.k == 2 else 1
            res = run_convergence(
                method, seeds, noise, args.budget_pairs, args.seed + 100 + i, every=every
            )
            out[noise_label].append(res)
            extra = f" best Elo k={res.elo_k:g}" if res.elo_k else ""
            log(
                f"  [{noise_label}] {method.label:<24} {res.summary.fmt():<28} "
                f"({res.summary.converged}/{res.summary.runs} converged){extra} "
                f"{time.perf_counter() - t0:5.1f}s"
            )
            for factor, s in res.sweep:
                log(f"      Elo k={factor:<4g} {s.fmt():<28} ({s.converged}/{s.runs})")
    return out, catalog["ucb"].label


def new_model(args: argparse.Namespace) -> dict[str, object]:
    """K-Sort Arena Fig. 6: a newcomer with true rank 31 joins a converged 50-model board."""
    catalog = method_catalog(4)
    methods = [catalog["ucb"], catalog["random"], catalog["window"], catalog["window-tuned"]]
    summary: dict[str, object] = {}
    for noise_label, noise in (("0%", FlipNoise(0.0)), ("5%", FlipNoise(0.05))):
        results = run_new_model(
            methods, args.n, 31, noise, args.warmup, args.newcomer_votes, args.new_seeds, args.seed
        )
        plot_new_model(results, 31, RESULTS / f"convergence_new_model_{noise_label[:-1]}pct.png")
        for r in results:
            first = summarize(r.first, args.newcomer_votes)
            settled = summarize(r.settled, args.newcomer_votes)
            log(
                f"  [{noise_label}] {r.label:<24} first at rank 31: {first.fmt():<22} "
                f"settled: {settled.fmt():<22} (board converged in {r.board_converged:.0%})"
            )
            summary[f"{noise_label} {r.label}"] = {
                "first_median": first.median if math.isfinite(first.median) else None,
                "settled_median": settled.median if math.isfinite(settled.median) else None,
                "settled_converged": settled.converged,
                "runs": settled.runs,
                "board_converged": r.board_converged,
            }
    return summary


def real_scale(args: argparse.Namespace) -> dict[str, object]:
    """Ground truth = Bradley–Terry strengths fitted on 1.67M Chatbot Arena votes."""
    path = DATA / "chatbotarena_20240814.json"
    if not path.is_file():
        log(f"  skipped: {path} not found")
        return {"skipped": "data file absent"}
    from karena.rating.bradley_terry import fit_bradley_terry
    from karena.rating.data import load_chatbot_arena

    fit = fit_bradley_terry(load_chatbot_arena(path))
    strengths = np.asarray(fit.strengths, dtype=np.float64)
    catalog = method_catalog(4)
    keys = [
        "elo",
        "random",
        "ucb",
        "ucb-tuned",
        "window-tuned",
        "ucb-wl",
        "window-wl",
        "ucb-cal",
        "window-ts-cal",
    ]
    results = run_real_scale(
        [catalog[k] for k in keys],
        strengths,
        GumbelNoise(),
        args.real_budget_pairs,
        args.real_seeds,
        args.seed,
        every=args.real_every,
    )
    plot_real_scale(results, 0.95, RESULTS / "convergence_real_scale.png")
    out: dict[str, object] = {"models": len(strengths), "budget_pairs": args.real_budget_pairs}
    for r, key in zip(results, keys, strict=True):
        ppv = catalog[key].pairs_per_vote
        tau = summarize(r.tau_votes, r.budget)
        tau80 = summarize(r.tau80_votes, r.budget)
        top = summarize(r.top_votes, r.budget)
        final_tau = float(r.mean_tau[-1])
        log(
            f"  {r.label:<20} τ≥0.95: {tau.fmt():<16} τ≥0.8: {tau80.fmt():<24} "
            f"({tau80.fmt(scale=ppv)} pairs)  top-10 exact: {top.fmt():<16} "
            f"({top.converged}/{top.runs})  τ at budget {final_tau:.3f}"
        )
        out[r.label] = {
            "tau80_votes_median": tau80.median if math.isfinite(tau80.median) else None,
            "tau80_pairs_median": tau80.median * ppv if math.isfinite(tau80.median) else None,
            "final_mean_tau": final_tau,
            "tau_votes_median": tau.median if math.isfinite(tau.median) else None,
            "tau_pairs_median": tau.median * ppv if math.isfinite(tau.median) else None,
            "top10_votes_median": top.median if math.isfinite(top.median) else None,
            "top10_converged": top.converged,
            "runs": top.runs,
        }
    return out


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="small version, under a minute")
    p.add_argument("--n", type=int, default=50, help="models (default 50, as the paper)")
    p.add_argument("--seeds", type=int, default=None, help="worlds per method (full 24, quick 6)")
    p.add_argument("--budget-pairs", type=int, default=None, help="pairwise comparisons per run")
    p.add_argument("--seed", type=int, default=2025)
    p.add_argument("--skip-extra", action="store_true", help="main table only")
    args = p.parse_args(argv)
    q = args.quick
    # Quick runs never overwrite the published full-mode figures.
    args.name = "convergence_quick" if q else "convergence"
    args.seeds = args.seeds if args.seeds is not None else (4 if q else 20)
    args.budget_pairs = (
        args.budget_pairs if args.budget_pairs is not None else (6000 if q else 24000)
    )
    args.fg_seeds = min(args.seeds, 12)
    args.warmup = 1000 if q else 1500
    args.newcomer_votes = 150 if q else 400
    args.new_seeds = 4 if q else 20
    args.real_budget_pairs = 3000 if q else 24000
    args.real_seeds = 2 if q else 6
    args.real_every = 50
    return args


def main(argv: list[str]) -> None:
    args = parse(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    floor = information_floor(args.n, 4)
    t0 = time.perf_counter()
    log(
        f"Convergence study: N={args.n}, {args.seeds} seeds, "
        f"{args.budget_pairs} pairwise comparisons per run"
    )
    results, ucb_label = study(args)
    title = f"N={args.n}, {args.seeds} seeds"
    plot_convergence(results, RESULTS / f"{args.name}.png", title)
    payload: dict[str, object] = {
        "mode": "quick" if args.quick else "full",
        "n": args.n,
        "seeds": args.seeds,
        "budget_pairs": args.budget_pairs,
        "study": convergence_json(results, floor, ucb_label),
    }
    if not args.skip_extra and not args.quick:
        log("New model joins a converged board (true rank 31):")
        payload["new_model"] = new_model(args)
        log("Real scale: Bradley–Terry truth from Chatbot Arena (Plackett–Luce voters):")
        payload["real_scale"] = real_scale(args)
    payload["seconds"] = time.perf_counter() - t0
    payload["cpu_seconds"] = time.process_time()
    (RESULTS / f"{args.name}.json").write_text(json.dumps(payload, indent=2, default=str))
    log("")
    log(
        "Votes to converge (MSE of ranked positions stays 0 to the end of the budget); "
        f"floor log(N!)/log(4!) = {floor:.1f} K=4 votes"
    )
    log(format_table(results, floor, ucb_label))
    log(
        f"wrote {RESULTS / (args.name + '.json')} and PNG plots; "
        f"{payload['seconds']:.0f}s wall, {payload['cpu_seconds']:.0f}s CPU"
    )
    log(result_line(results["5%"], floor, ucb_label))


if __name__ == "__main__":
    main(sys.argv[1:])
