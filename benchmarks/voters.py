"""Voter reliability: how much of the Kendall τ that spammers cost does down-weighting win back?

Each world has 20 models whose true Plackett–Luce strengths are 0.1 logits apart (neighbours
≈ 17 Elo points, a crowded board), shuffled. A crowd of 100 voters casts votes on uniformly
random K = 4 sets of models (honest voters rank by strength + Gumbel noise: every ranking is
Plackett–Luce in the truth; karena.sim.crowd):

- **clean**: all 100 voters honest (the baseline: what the board would be without spammers);
- **spammed**: 20 % of the voters rank at random and 5 % rank the weakest model first whenever
  it is shown (and the rest honestly, so they look honest elsewhere); the same battles and the
  same honest perceptions as the clean crowd;
- **unweighted**: the batch board's fit of the spammed votes, every vote weight 1;
- **weighted**: the same fit with each vote weighted by karena.rating.voters (EM over voter
  classes: honest, blind, partisan for or against one model).

The board is the batch board's point estimate (its Plackett–Luce MAP fit, its ridge), fitted on
the first V votes for a grid of V; τ is Kendall's τ of its order against the truth. Reported:
mean τ over worlds at each V (τ moves in steps of 1/95 with 20 models, so a median over a dozen
worlds sits on those steps; the JSON has the medians too), the votes until τ ≥ 0.9 for good
(per world, then the median), and the share of the spammers' cost that weighting recovers,

    recovered = Σ (τ_weighted − τ_unweighted) / Σ (τ_clean − τ_unweighted),

summed over worlds: at the final budget (the headline: the lasting damage, once each voter has
cast enough votes to be judged; goal ≥ 0.8), at each budget, and over every budget of the grid
at once (the area won back between the curves, with a 95 % percentile bootstrap over worlds),
which counts the early votes too, when a voter has cast too few to be judged by. A crowd-size
sweep (full mode) spreads the same votes over more voters, fewer votes each.

    python benchmarks/voters.py --quick   # < 1 minute: 4 worlds, up to 4,000 votes
    python benchmarks/voters.py           # 12 worlds, up to 32,000 votes (~15 min on 2 cores)
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from karena.rating.pl_arrays import pad_rankings
from karena.rating.plackett_luce import rankings_from_votes
from karena.rating.voters import board_ridge, fit_voter_reliability
from karena.sim.crowd import Crowd, CrowdVotes, VoterKind, crowd_votes
from karena.sim.metrics import kendall_tau, positions, settle_point

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

MODELS, GAP, K, VOTERS = 20, 0.1, 4, 100
ARMS = ("clean", "clean_weighted", "unweighted", "weighted")
GOAL = 0.8


def tau(theta: np.ndarray, truth: np.ndarray) -> float:
    """Kendall τ of the order of ``theta`` against the order of ``truth``."""
    return float(kendall_tau(positions(theta[None, :]), positions(truth[None, :]))[0])


def board(cast: CrowdVotes, stop: int, weights: np.ndarray | None = None) -> np.ndarray:
    """The batch board's MAP strengths of the first ``stop`` votes."""
    _, rankings = rankings_from_votes(cast.votes(stop), models=range(MODELS))
    w = np.ones(stop) if weights is None else weights
    return pad_rankings(rankings, MODELS).fit(w, board_ridge())


def casts(seed: int, voters: int, budget: int) -> tuple[np.ndarray, Crowd, CrowdVotes, CrowdVotes]:
    """A world's truth, its spammed crowd, and the clean and spammed votes.

    The same seed for both crowds: the same battles, voters and honest perceptions.
    """
    truth = np.random.default_rng(seed).permutation(MODELS) * GAP
    honest = voters - voters // 5 - voters // 20
    spam = Crowd(honest, voters // 5, voters // 20, target=int(np.argmin(truth)))
    clean_cast = crowd_votes(truth, Crowd(voters), budget, np.random.default_rng(seed + 1000))
    spam_cast = crowd_votes(truth, spam, budget, np.random.default_rng(seed + 1000))
    return truth, spam, clean_cast, spam_cast


def crowd_sizes(seed: int, budget: int, sizes: tuple[int, ...], top: int) -> dict[str, list[float]]:
    """τ of the clean, unweighted and weighted boards after ``budget`` votes, for several crowd
    sizes (the same battles spread over more voters: fewer votes each to judge a voter by).
    Votes are cast as in :func:`world` (``top`` of them), so the first size repeats its figures."""
    out: dict[str, list[float]] = {"clean": [], "unweighted": [], "weighted": []}
    for size in sizes:
        truth, _, clean_cast, spam_cast = casts(seed, size, top)
        fit = fit_voter_reliability(
            spam_cast.votes(budget), spam_cast.voters[:budget].tolist(), models=range(MODELS)
        )
        out["clean"].append(tau(board(clean_cast, budget), truth))
        out["unweighted"].append(tau(board(spam_cast, budget), truth))
        out["weighted"].append(tau(board(spam_cast, budget, np.asarray(fit.weights)), truth))
    return out


def world(seed: int, grid: list[int]) -> dict[str, Any]:
    """One world: τ of every arm at every V, and how the final fit sees each kind of voter."""
    truth, spam, clean_cast, spam_cast = casts(seed, VOTERS, grid[-1])
    target = spam.target
    out: dict[str, list[float]] = {arm: [] for arm in ARMS}
    em_seconds = 0.0
    fit = None
    for v in grid:
        out["clean"].append(tau(board(clean_cast, v), truth))
        out["unweighted"].append(tau(board(spam_cast, v), truth))
        started = time.perf_counter()
        fit = fit_voter_reliability(
            spam_cast.votes(v), spam_cast.voters[:v].tolist(), models=range(MODELS)
        )
        em_seconds += time.perf_counter() - started
        out["weighted"].append(tau(board(spam_cast, v, np.asarray(fit.weights)), truth))
        clean_fit = fit_voter_reliability(
            clean_cast.votes(v), clean_cast.voters[:v].tolist(), models=range(MODELS)
        )
        out["clean_weighted"].append(
            tau(board(clean_cast, v, np.asarray(clean_fit.weights)), truth)
        )
    assert fit is not None
    kinds = spam.kinds()[np.asarray(fit.voters, dtype=np.int64)]
    adversaries = kinds == VoterKind.ADVERSARIAL
    return {
        "tau": out,
        "em_seconds": em_seconds,
        "em_iterations_final": fit.iterations,
        "reliability_final": {
            kind.name.lower(): float(np.median(fit.reliability[kinds == kind]))
            for kind in VoterKind
        },
        "adversaries_named": float(
            np.mean((fit.suspect[adversaries] == target) & (fit.suspect_sign[adversaries] == 1))
        ),
        "mix_final": list(fit.mix),
    }


def recovery(
    taus: dict[str, np.ndarray], rng: np.random.Generator | None, rounds: int = 2000
) -> tuple[float, list[float]]:
    """Σ(τ_weighted − τ_unweighted) / Σ(τ_clean − τ_unweighted) over worlds and budgets (the
    area won back between the curves), with a percentile bootstrap over worlds if ``rng``."""

    def share(rows: np.ndarray) -> float:
        cost = float((taus["clean"][rows] - taus["unweighted"][rows]).sum())
        won = float((taus["weighted"][rows] - taus["unweighted"][rows]).sum())
        return won / cost if cost > 0 else float("nan")

    worlds = taus["clean"].shape[0]
    point = share(np.arange(worlds))
    if rng is None:
        return point, []
    boot = [share(rng.integers(0, worlds, worlds)) for _ in range(rounds)]
    lo, hi = np.nanquantile(boot, [0.025, 0.975])
    return point, [float(lo), float(hi)]


def fmt_votes(x: float, budget: int, sep: str = ",") -> str:
    """Votes for the table (``sep`` "," groups thousands) or the RESULT line (``sep`` "")."""
    text = f"{x:,.0f}" if np.isfinite(x) else f">{budget:,}"
    return text.replace(",", sep)


def plot(payload: dict[str, Any], path: Path) -> None:
    """Mean τ against votes for every arm; the share of the spammers' cost won back per budget."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = payload["grid"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    ax = axes[0]
    styles = {"clean": "k-", "clean_weighted": "k:", "unweighted": "r-", "weighted": "b-"}
    for arm in ARMS:
        ax.plot(grid, payload["mean_tau"][arm], styles[arm], label=arm.replace("_", " "))
    ax.axhline(0.9, color="grey", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("votes")
    ax.set_ylabel(f"Kendall τ to the truth (mean over {payload['worlds']} worlds)")
    ax.set_title(f"{payload['voters']} voters: 20 % random + 5 % adversarial")
    ax.legend()
    ax.grid(alpha=0.3)
    ax = axes[1]
    ax.plot(grid, payload["recovered_by_votes"], "bo-")
    ax.axhline(GOAL, color="grey", linestyle="--", label=f"goal {GOAL}")
    ax.set_xscale("log")
    ax.set_ylim(-0.2, 1.2)
    ax.set_xlabel("votes")
    ax.set_ylabel("share of the spammers' τ cost won back")
    ax.set_title(f"{payload['voters']} voters: votes per voter = votes / {payload['voters']}")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 worlds up to 4,000 votes")
    parser.add_argument("--worlds", type=int, default=None)
    parser.add_argument("--sizes-budget", type=int, default=8_000, help="crowd-size sweep votes")
    args = parser.parse_args(argv)
    quick = args.quick
    worlds = args.worlds if args.worlds is not None else (4 if quick else 12)
    top = 4_000 if quick else 32_000
    grid = [v for v in (250, 350, 500, 700, 1000, 1400, 2000, 2800, 4000) if v <= top]
    if not quick:
        grid += [5_600, 8_000, 11_300, 16_000, 22_600, 32_000]
    started = time.perf_counter()
    runs = [world(seed, grid) for seed in range(worlds)]
    sizes = (VOTERS,) if quick else (VOTERS, 400, 1_600)
    sweep_budget = min(args.sizes_budget, grid[-1])
    sweeps = (
        []
        if quick
        else [crowd_sizes(seed, sweep_budget, sizes, grid[-1]) for seed in range(worlds)]
    )
    sweep = (
        {
            arm: [statistics.mean(s[arm][i] for s in sweeps) for i in range(len(sizes))]
            for arm in ("clean", "unweighted", "weighted")
        }
        if sweeps
        else {}
    )
    steps = np.asarray(grid, dtype=np.int64)
    taus = {arm: np.array([r["tau"][arm] for r in runs]) for arm in ARMS}  # (worlds, grid)
    mean_tau = {arm: taus[arm].mean(axis=0).tolist() for arm in ARMS}
    median_tau = {arm: np.median(taus[arm], axis=0).tolist() for arm in ARMS}
    reach = {arm: settle_point(taus[arm] >= 0.9, steps) for arm in ARMS}
    reach_median = {arm: float(np.median(reach[arm])) for arm in ARMS}
    final = {arm: mean_tau[arm][-1] for arm in ARMS}
    recovered_all, interval = recovery(taus, np.random.default_rng(0))
    recovered, _ = recovery({a: t[:, -1:] for a, t in taus.items()}, None)
    per_v = [
        recovery({a: t[:, i : i + 1] for a, t in taus.items()}, None)[0] for i in range(len(grid))
    ]
    payload: dict[str, Any] = {
        "mode": "quick" if quick else "full",
        "models": MODELS,
        "gap_logits": GAP,
        "k": K,
        "voters": VOTERS,
        "crowd": {"random": 0.2, "adversarial": 0.05, "target": "weakest model"},
        "worlds": worlds,
        "grid": grid,
        "mean_tau": mean_tau,
        "median_tau": median_tau,
        "recovered_by_votes": per_v,
        "recovered_all_budgets": recovered_all,
        "recovered_all_budgets_interval_95": interval,
        "votes_to_tau_0_9": {arm: [float(x) for x in reach[arm]] for arm in ARMS},
        "votes_to_tau_0_9_median": reach_median,
        "final": final,
        "recovered": recovered,
        "goal": GOAL,
        "goal_met": bool(recovered >= GOAL),
        "em_seconds_median_per_world": statistics.median(r["em_seconds"] for r in runs),
        "em_iterations_final": [r["em_iterations_final"] for r in runs],
        "reliability_final_by_world": [r["reliability_final"] for r in runs],
        "adversaries_named_by_world": [r["adversaries_named"] for r in runs],
        "mix_final_by_world": [r["mix_final"] for r in runs],
        "crowd_sizes": {"budget": sweep_budget, "voters": list(sizes), "mean_tau": sweep},
        "seconds": time.perf_counter() - started,
    }
    name = "voters_quick" if quick else "voters"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    plot(payload, RESULTS / f"{name}.png")

    print(f"Voter reliability ({payload['mode']}: {worlds} worlds, {MODELS} models, K={K}, "
          f"{VOTERS} voters, 20% random + 5% adversarial)")  # fmt: skip
    head = f"{'votes':>7} " + " ".join(f"{arm:>15}" for arm in ARMS) + f" {'recovered':>10}"
    print(head)
    print("-" * len(head))
    for i, v in enumerate(grid):
        cells = " ".join(f"{mean_tau[arm][i]:>15.3f}" for arm in ARMS)
        print(f"{v:>7,} {cells} {per_v[i]:>10.2f}")
    print(
        f"{'τ≥0.9 at':>7} " + " ".join(f"{fmt_votes(reach_median[a], grid[-1]):>15}" for a in ARMS)
    )
    rel = payload["reliability_final_by_world"]
    print(
        "median reliability at the final budget: "
        + ", ".join(f"{k} {statistics.median(w[k] for w in rel):.2f}" for k in rel[0])
        + f"; adversaries named with their target: "
        f"{statistics.median(payload['adversaries_named_by_world']):.0%}"
    )
    if sweep:
        print(f"crowd size at {sweep_budget:,} votes (mean τ clean / unweighted / weighted):")
        for i, size in enumerate(sizes):
            c, u, w = (sweep[a][i] for a in ("clean", "unweighted", "weighted"))
            share = (w - u) / (c - u) if c > u else float("nan")
            print(f"  {size:>5} voters ({sweep_budget // size:>3} votes each): "
                  f"{c:.3f} / {u:.3f} / {w:.3f}  recovered {share:.2f}")  # fmt: skip
    lo, hi = interval
    print(
        f"recovered at the final budget: {recovered:.2f} (goal ≥ {GOAL}); over all budgets: "
        f"{recovered_all:.2f} [{lo:.2f}–{hi:.2f}] (95% bootstrap over worlds)"
    )
    print(f"EM seconds per world (all budgets): {payload['em_seconds_median_per_world']:.1f}")
    print(f"\nwrote {RESULTS / (name + '.json')} and {RESULTS / (name + '.png')}")
    print(
        f"RESULT tau_clean={final['clean']:.3f} tau_unweighted={final['unweighted']:.3f} "
        f"tau_weighted={final['weighted']:.3f} recovered={recovered:.2f} "
        f"recovered_all_budgets={recovered_all:.2f} "
        f"votes_tau90_clean={fmt_votes(reach_median['clean'], grid[-1], '')} "
        f"votes_tau90_unweighted={fmt_votes(reach_median['unweighted'], grid[-1], '')} "
        f"votes_tau90_weighted={fmt_votes(reach_median['weighted'], grid[-1], '')} "
        f"goal_met={payload['goal_met']}"
    )


if __name__ == "__main__":
    main()
