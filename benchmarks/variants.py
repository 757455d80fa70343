"""Variant families: votes until a variant's verdict, paired mode against default matchmaking.

Each simulated arena holds a parent at μ0 + 0.3β, its variant at the parent's strength minus a
true gap (0, or 0.5β ≈ 2.1 rating points) and other models evenly spread around μ0, on the
online models' scale (β = 25/6). Two boards:

- **crowded** (the headline): 50 models over μ0 ± 1.2β, about Chatbot Arena's density (its
  ~500 Elo points from top to bottom are ≈ 2.4β on this scale);
- **sparse**: 20 models over μ0 ± 2β, where a gap-0 pair is the board's one lasting
  uncertainty, so the default matchmaker already seats it often.
 Voters perceive strength + N(0, β²) (Thurstone's case V,
the scale the verdict's gap is read on) and rank K = 4 models; ratings are karena's default
ThurstoneK. After every vote the variant's head-to-head record against its parent gives a
verdict (karena.rating.variants: anytime-valid 95 % interval, margin δ = 1 rating point); the
run stops when it is reached:

- **default**: the production matchmaker (``window-ts``) alone;
- **paired**: the same matchmaker with ``paired=1.0``: every battle seats the variant and its
  parent until the verdict is in (the other two seats are the matchmaker's).

Reported per gap: median votes to the verdict over arenas (runs that never reach it within the
budget count as above it), the verdicts reached (gap 0 should be "indistinguishable", gap 0.5β
"worse"), and paired / default. Goal: paired ≤ 1/3 of default's votes.

    python benchmarks/variants.py --quick   # < 1 minute: 8 arenas per cell, smaller budgets
    python benchmarks/variants.py           # 40 arenas per cell
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from karena.matchmaking.registry import make_matchmaker
from karena.rating.models.thurstone import DEFAULT_BETA, DEFAULT_MU, ThurstoneK
from karena.rating.variants import DEFAULT_MARGIN, head_to_head
from karena.sim.engine import Method, SimArena
from karena.sim.metrics import summarize
from karena.sim.noise import ThurstonianNoise

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

K = 4
PARENT, VARIANT = 0, 1
#: Board name: (models, the others spread over μ0 ± spread·β).
BOARDS = {"crowded": (50, 1.2), "sparse": (20, 2.0)}
GAPS = {"gap0": 0.0, "gap0.5beta": 0.5 * DEFAULT_BETA}
EXPECTED = {"gap0": "indistinguishable", "gap0.5beta": "worse"}
GOAL = 1.0 / 3.0


def strengths(board: str, gap: float, arenas: int, rng: np.random.Generator) -> np.ndarray:
    """(arenas, models) true μ: parent, variant, then the others (shuffled per arena)."""
    models, spread = BOARDS[board]
    others = np.linspace(-spread, spread, models - 2) * DEFAULT_BETA + DEFAULT_MU
    parent = DEFAULT_MU + 0.3 * DEFAULT_BETA
    rows = [
        np.concatenate([[parent, parent - gap], rng.permutation(others)]) for _ in range(arenas)
    ]
    return np.asarray(rows)


def run(board: str, mode: str, gap: float, arenas: int, budget: int, seed: int) -> dict[str, Any]:
    """Votes until each arena's verdict (inf if none within ``budget``) and the verdicts."""
    params = {"paired": 1.0} if mode == "paired" else {}
    method = Method(mode, K, make_matchmaker("window-ts", **params), rating=ThurstoneK())
    # The same worlds for both modes; each mode its own votes.
    worlds = strengths(board, gap, arenas, np.random.default_rng(seed))
    rng = np.random.default_rng([seed, 0 if mode == "default" else 1])
    arena = SimArena(method, worlds, ThurstonianNoise(DEFAULT_BETA), rng)
    record = np.zeros((arenas, 3), dtype=np.int64)  # variant's wins, losses, ties
    votes = np.full(arenas, np.inf)
    verdicts = ["undecided"] * arenas
    waiting = np.ones(arenas, dtype=np.bool_)
    pair = np.array([[[VARIANT, PARENT]]] * arenas, dtype=np.int64)
    rows = np.arange(arenas)
    for step in range(1, budget + 1):
        arena.paired = np.where(waiting[:, None, None], pair, -1)
        chosen = arena.step()
        ranks = arena.last_ranks
        has_v, has_p = chosen == VARIANT, chosen == PARENT
        both = has_v.any(axis=1) & has_p.any(axis=1) & waiting
        if not both.any():
            continue
        rv = ranks[rows, np.argmax(has_v, axis=1)]
        rp = ranks[rows, np.argmax(has_p, axis=1)]
        record[both & (rv < rp), 0] += 1
        record[both & (rv > rp), 1] += 1
        record[both & (rv == rp), 2] += 1
        for a in np.flatnonzero(both):
            w, lo, t = (int(x) for x in record[a])
            verdict = head_to_head(w, lo, t, margin=DEFAULT_MARGIN).verdict
            if verdict != "undecided":
                votes[a], verdicts[a], waiting[a] = step, verdict, False
        if not waiting.any():
            break
    return {
        "votes": votes,
        "verdicts": verdicts,
        "comparisons": record.sum(axis=1).tolist(),
        "votes_cast": arena.votes,
    }


def fmt(x: float, budget: int) -> str:
    """Votes for the RESULT line: a plain integer, or >budget when censored."""
    return f"{x:.0f}" if math.isfinite(x) else f">{budget}"


def ratio(paired: float, default: float, budget: int) -> tuple[str, float]:
    """paired/default of two medians; a censored default makes it an upper bound."""
    if math.isfinite(paired) and math.isfinite(default):
        return f"{paired / default:.3f}", paired / default
    if math.isfinite(paired):
        return f"<{paired / budget:.3f}", paired / budget
    return "?", math.nan


def plot(payload: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(BOARDS), len(GAPS), figsize=(11, 4.0 * len(BOARDS)))
    for row, board in enumerate(BOARDS):
        budget = payload["boards"][board]["budget"]
        for ax, gap in zip(axes[row], GAPS, strict=True):
            cell = payload["boards"][board][gap]
            for mode, color in (("default", "tab:red"), ("paired", "tab:blue")):
                v = np.asarray([x if x is not None else np.inf for x in cell[mode]["votes"]])
                done = np.sort(v[np.isfinite(v)])
                frac = np.arange(1, len(done) + 1) / len(v)
                end = frac[-1] if len(frac) else 0.0
                ax.step(np.concatenate([[0], done, [budget]]), np.concatenate([[0], frac, [end]]),
                        where="post", color=color, label=mode)  # fmt: skip
            ax.set_xscale("symlog", linthresh=100)
            ax.set_xlabel("votes in the arena")
            ax.set_ylabel("share of arenas with a verdict")
            models, spread = BOARDS[board]
            ax.set_title(
                f"{board}: {models} models over ±{spread:g}β, gap {GAPS[gap] / DEFAULT_BETA:g}β"
            )
            ax.set_ylim(0, 1.02)
            ax.grid(alpha=0.3)
            ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def cell(board: str, gap: str, arenas: int, budget: int, seed: int) -> dict[str, Any]:
    """Both modes on the same worlds: votes, verdicts, paired/default and the goal."""
    out: dict[str, Any] = {}
    medians: dict[str, float] = {}
    for mode in ("default", "paired"):
        run_out = run(board, mode, GAPS[gap], arenas, budget, seed)
        summary = summarize(run_out["votes"], budget)
        tally = Counter(run_out["verdicts"])
        medians[mode] = summary.median
        out[mode] = {
            "votes": [float(v) if math.isfinite(v) else None for v in run_out["votes"]],
            "median": summary.median if math.isfinite(summary.median) else None,
            "text": summary.fmt(),
            "verdicts": dict(tally),
            "wrong": sum(n for v, n in tally.items() if v not in (EXPECTED[gap], "undecided")),
            "head_to_head_comparisons": run_out["comparisons"],
        }
    text, value = ratio(medians["paired"], medians["default"], budget)
    out["paired_over_default"] = text
    out["paired_over_default_value"] = value
    out["goal_met"] = bool(value <= GOAL)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="8 arenas per cell, small budgets")
    parser.add_argument("--arenas", type=int, default=None)
    args = parser.parse_args(argv)
    quick = args.quick
    arenas = args.arenas if args.arenas is not None else (8 if quick else 40)
    budgets = (
        {"crowded": 20_000, "sparse": 8_000} if quick else {"crowded": 60_000, "sparse": 30_000}
    )
    started = time.perf_counter()
    payload: dict[str, Any] = {
        "mode": "quick" if quick else "full",
        "k": K,
        "beta": DEFAULT_BETA,
        "margin": DEFAULT_MARGIN,
        "arenas": arenas,
        "goal": GOAL,
        "boards": {},
    }
    print(
        f"Variant families ({payload['mode']}: {arenas} arenas per cell, K={K}, "
        f"δ = {DEFAULT_MARGIN:g} rating point, window-ts with and without paired=1.0)"
    )
    head = (
        f"{'board':<8} {'true gap':<11} {'mode':<8} {'votes to verdict med [IQR]':<30} "
        f"{'verdicts':<38}"
    )
    print(head + " paired/default")
    print("-" * (len(head) + 15))
    for b, board in enumerate(BOARDS):
        result: dict[str, Any] = {"models": BOARDS[board][0], "spread_beta": BOARDS[board][1],
                                  "budget": budgets[board]}  # fmt: skip
        for g, gap in enumerate(GAPS):
            result[gap] = cell(board, gap, arenas, budgets[board], seed=1000 * b + 100 * g)
            for mode in ("default", "paired"):
                c = result[gap][mode]
                verdicts = ", ".join(f"{v} {n}" for v, n in sorted(c["verdicts"].items()))
                tail = result[gap]["paired_over_default"] if mode == "paired" else ""
                print(f"{board:<8} {gap:<11} {mode:<8} {c['text']:<30} {verdicts:<38} {tail}")
        payload["boards"][board] = result
    payload["seconds"] = time.perf_counter() - started
    name = "variants_quick" if quick else "variants"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    plot(payload, RESULTS / f"{name}.png")
    for board in BOARDS:
        for gap in GAPS:
            c = payload["boards"][board][gap]
            met = "met" if c["goal_met"] else "NOT met"
            print(
                f"goal paired <= 1/3 of default, {board} {gap}: {met} ({c['paired_over_default']})"
            )
    print(f"\nwrote {RESULTS / (name + '.json')} and {RESULTS / (name + '.png')}")
    head_cell = payload["boards"]["crowded"]["gap0"]
    budget = budgets["crowded"]
    print(
        f"RESULT paired_votes_gap0={fmt(head_cell['paired']['median'] or math.inf, budget)} "
        f"default_votes_gap0={fmt(head_cell['default']['median'] or math.inf, budget)} "
        f"paired_over_default={head_cell['paired_over_default']}"
    )


if __name__ == "__main__":
    main()
