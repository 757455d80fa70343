"""Replay speed of every online rating model, each beside an independent implementation of the
same algorithm.

A synthetic K = 4 vote log over 50 models (Thurstone-noise rankings of hidden skills) is replayed
through our models and through the packages that implement the same maths:

- ``ThurstoneK`` (the paper's closed-form K-wise update with Weng–Lin's γ) compiled and as plain
  Python, beside openskill's ``ThurstoneMostellerFull`` with the same ε and τ: **same algorithm**;
- ``FactorGraphFFA`` (plain Python) beside the ``trueskill`` package, which the K-Sort Arena
  deployment ran: **same algorithm** (expectation propagation on the free-for-all graph);
- online Elo, compiled and as plain Python (FastChat's update; no package to compare with).

The slow ones replay a prefix of the log. Each figure is the median of ``--repeats`` runs, all
measured in this run. The compiled replay is checked against the reference over the whole log
(``max_abs_diff``), and each same-algorithm pair is checked for agreement. ``karena replay`` is
then timed end to end on a JSON-lines file of the log (``cli_us_per_vote``: process start,
reading and parsing the file, the replay and the printed leaderboard), and batch Bradley–Terry
with 100 bootstrap rounds on the 1.67M real Chatbot Arena votes.

    python benchmarks/replay.py --quick        # < 1 minute on 2 cores
    python benchmarks/replay.py                # 1,000,000 votes: the published figures
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from karena.rating.models.elo import Elo
from karena.rating.models.factor_graph import FactorGraphFFA
from karena.rating.models.thurstone import ThurstoneK
from karena.rating.types import Ranking, Vote

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "chatbotarena_20240814.json"
N_MODELS = 50
K = 4


def synthetic_log(n_votes: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``models`` and ``ranks`` (n_votes × 4): random 4-subsets ranked by noisy hidden skill."""
    skill = rng.normal(25.0, 8.0, size=N_MODELS)
    models = np.argsort(rng.random((n_votes, N_MODELS)), axis=1)[:, :K].astype(np.int32)
    performance = skill[models] + rng.normal(0.0, 25.0 / 6.0, size=models.shape)
    ranks = (np.argsort(np.argsort(-performance, axis=1), axis=1) + 1).astype(np.int32)
    return models, ranks


def as_votes(models: np.ndarray, ranks: np.ndarray) -> list[Vote]:
    """The same log as validated :class:`Vote` values (model ids are the indices)."""
    return [
        Vote(tuple(int(m) for m in row_m), Ranking(tuple(int(r) for r in row_r)))
        for row_m, row_r in zip(models, ranks, strict=True)
    ]


def median_seconds(run: Callable[[], Any], repeats: int) -> tuple[float, float, Any]:
    """Median CPU time (this thread) and wall time of ``repeats`` calls, and the last result.

    The headline uses CPU time: on a shared machine, wall time also counts the time other
    processes held the core, while the thread's CPU time is what one core spent on the replay.
    """
    cpu_times, wall_times = [], []
    result = None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.thread_time()
        result = run()
        cpu_times.append(time.thread_time() - cpu)
        wall_times.append(time.perf_counter() - wall)
    return statistics.median(cpu_times), statistics.median(wall_times), result


def replay_trueskill(votes: list[Vote]) -> dict[int, Any]:
    import trueskill

    env = trueskill.TrueSkill()  # the package defaults the deployment used
    state: dict[int, Any] = {}
    for vote in votes:
        ids = [int(m) for m in vote.models]  # type: ignore[call-overload]
        groups = [(state[m] if m in state else env.create_rating(),) for m in ids]
        ranks = list(vote.outcome.ranks)  # type: ignore[union-attr]
        for m, (rating,) in zip(ids, env.rate(groups, ranks=ranks), strict=True):
            state[m] = rating
    return state


def replay_openskill(votes: list[Vote]) -> dict[int, Any]:
    from openskill.models import ThurstoneMostellerFull

    model = ThurstoneMostellerFull(epsilon=ThurstoneK().draw_margin, tau=0.0)
    state: dict[int, Any] = {}
    for vote in votes:
        ids = [int(m) for m in vote.models]  # type: ignore[call-overload]
        teams = [[state[m] if m in state else model.rating()] for m in ids]
        ranks = [float(r) for r in vote.outcome.ranks]  # type: ignore[union-attr]
        for m, team in zip(ids, model.rate(teams, ranks=ranks), strict=True):
            state[m] = team[0]
    return state


def max_abs_diff(
    ours: tuple[np.ndarray, np.ndarray], reference: dict[Any, Any], ids: range
) -> float:
    """Largest |Δμ| or |Δσ| between the array state and a reference replay."""
    mu, sigma = ours
    worst = 0.0
    for i in ids:
        if i in reference:
            worst = max(worst, abs(mu[i] - reference[i].mu), abs(sigma[i] - reference[i].sigma))
    return worst


def fast_thurstone(
    models: np.ndarray, ranks: np.ndarray, model: ThurstoneK
) -> tuple[np.ndarray, np.ndarray]:
    mu = np.full(N_MODELS, model.mu0)
    sigma = np.full(N_MODELS, model.sigma0)
    model.replay_arrays(mu, sigma, models, ranks)
    return mu, sigma


def fast_elo(models: np.ndarray, ranks: np.ndarray, model: Elo) -> np.ndarray:
    rating = np.full(N_MODELS, model.initial_rating)
    model.replay_arrays(rating, np.zeros(N_MODELS), models, ranks)
    return rating


def write_jsonl(models: np.ndarray, ranks: np.ndarray, path: Path) -> None:
    """The log as the JSON lines ``karena replay`` reads (model names, not indices)."""
    names = [f"model-{i:02d}" for i in range(N_MODELS)]
    with path.open("w", encoding="utf-8") as handle:
        for row_m, row_r in zip(models.tolist(), ranks.tolist(), strict=True):
            handle.write(json.dumps({"models": [names[m] for m in row_m], "ranking": row_r}))
            handle.write("\n")


def time_cli(path: Path, repeats: int) -> float:
    """Median wall seconds of ``karena replay PATH --json`` as a fresh process."""
    karena = Path(sys.executable).with_name("karena")
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(
            [str(karena), "replay", str(path), "--json"], check=True, stdout=subprocess.DEVNULL
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def agreement(ours: dict[Any, Any], theirs: dict[Any, Any]) -> float:
    """Largest |Δμ| or |Δσ| between two replays keyed alike."""
    return max(
        max(abs(r.mu - theirs[m].mu), abs(r.sigma - theirs[m].sigma)) for m, r in ours.items()
    )


def time_bradley_terry(path: Path, rounds: int, seed: int) -> dict[str, Any]:
    """Fit + bootstrap Bradley–Terry on the real Chatbot Arena counts; top 10 with intervals."""
    from karena.rating.bradley_terry import bootstrap_intervals, fit_bradley_terry
    from karena.rating.data import load_chatbot_arena

    if not path.is_file():
        print(f"Chatbot Arena data not found at {path}: skipping Bradley–Terry", file=sys.stderr)
        return {"skipped": True, "bt_bootstrap_s": math.nan}
    counts = load_chatbot_arena(path)
    fit_bradley_terry(counts)  # compile any numba kernels before timing
    start = time.perf_counter()
    intervals = bootstrap_intervals(counts, rounds=rounds, rng=np.random.default_rng(seed))
    seconds = time.perf_counter() - start
    top = [
        {"model": str(r.model), "rating": r.rating, "lower": r.lower, "upper": r.upper}
        for r in intervals.rows()[:10]
    ]
    print(f"\nBradley–Terry on {counts.n_battles:,} Chatbot Arena votes, {counts.n_models} models,")
    print(f"fit + {rounds} bootstrap rounds: {seconds:.2f} s. Top 10 with 95% intervals:")
    for i, row in enumerate(top, start=1):
        print(
            f"  {i:2d}. {row['model']:<36} {row['rating']:8.1f}  "
            f"[{row['lower']:7.1f}, {row['upper']:7.1f}]"
        )
    return {
        "skipped": False,
        "bt_bootstrap_s": seconds,
        "rounds": rounds,
        "battles": counts.n_battles,
        "models": counts.n_models,
        "top10": top,
    }


def plot(us_per_vote: dict[str, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(us_per_vote)
    values = [us_per_vote[n] for n in names]
    fig, ax = plt.subplots(figsize=(8, 4))
    bars = ax.barh(names, values, color=["tab:green" if "fast" in n else "tab:gray" for n in names])
    ax.set_xscale("log")
    ax.set_xlim(min(values) / 2, max(values) * 8)  # room for the value labels
    ax.set_xlabel("CPU µs per K = 4 vote (median, log scale)")
    ax.set_title("Replaying a K = 4 vote log over 50 models")
    ax.invert_yaxis()
    for bar, value in zip(bars, values, strict=True):
        ax.text(value, bar.get_y() + bar.get_height() / 2, f" {value:.3g}", va="center")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--votes", type=int, help="votes in the log (1,000,000; quick 50,000)")
    parser.add_argument("--quick", action="store_true", help="small run, under a minute")
    parser.add_argument("--oracle-votes", type=int, help="prefix for slow replays (10k; quick 2k)")
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats (median), >= 3")
    parser.add_argument("--bt-rounds", type=int, default=100, help="bootstrap rounds")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Chatbot Arena JSON")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    n_votes = args.votes if args.votes is not None else (50_000 if args.quick else 1_000_000)
    n_oracle = (
        args.oracle_votes if args.oracle_votes is not None else (2000 if args.quick else 10_000)
    )
    n_oracle = min(n_oracle, n_votes)
    repeats = max(3, args.repeats)
    rng = np.random.default_rng(args.seed)

    models, ranks = synthetic_log(n_votes, rng)
    prefix_votes = as_votes(models[:n_oracle], ranks[:n_oracle])
    thurstone, elo, graph = ThurstoneK(), Elo(), FactorGraphFFA()
    fast_thurstone(models[:10], ranks[:10], thurstone)  # compile (or load the cache) first
    fast_elo(models[:10], ranks[:10], elo)

    print(
        f"Replaying {n_votes:,} K=4 votes over {N_MODELS} models (slow models: first "
        f"{n_oracle:,}), median of {repeats} runs",
        file=sys.stderr,
    )
    rows: list[tuple[str, int, float, float]] = []

    outputs: dict[str, Any] = {}

    def measure(name: str, n: int, run: Callable[[], Any]) -> None:
        seconds, wall, outputs[name] = median_seconds(run, repeats)
        rows.append((name, n, seconds, wall))
        us[name] = seconds / n * 1e6
        print(f"  {name:<28} {us[name]:10.3f} µs/vote CPU", file=sys.stderr)

    us: dict[str, float] = {}
    measure("ThurstoneK fast", n_votes, lambda: fast_thurstone(models, ranks, thurstone))
    measure("ThurstoneK reference", n_oracle, lambda: thurstone.replay(prefix_votes))
    measure("openskill TM-Full", n_oracle, lambda: replay_openskill(prefix_votes))
    measure("FactorGraphFFA", n_oracle, lambda: graph.replay(prefix_votes))
    measure("trueskill package", n_oracle, lambda: replay_trueskill(prefix_votes))
    measure("Elo fast", n_votes, lambda: fast_elo(models, ranks, elo))
    measure("Elo reference", n_oracle, lambda: elo.replay(prefix_votes))

    # Correctness over the whole log: compiled kernels against the pure-Python reference.
    print("  checking fast vs reference over the whole log ...", file=sys.stderr)
    all_votes = as_votes(models, ranks)
    diff_thurstone = max_abs_diff(
        outputs["ThurstoneK fast"], thurstone.replay(all_votes), range(N_MODELS)
    )
    elo_state = outputs["Elo fast"]
    diff_elo = max_abs_diff((elo_state, np.zeros(N_MODELS)), elo.replay(all_votes), range(N_MODELS))
    # Agreement of each same-algorithm pair over the prefix.
    graph_vs_trueskill = agreement(outputs["FactorGraphFFA"], outputs["trueskill package"])
    thurstone_vs_openskill = agreement(
        outputs["ThurstoneK reference"], outputs["openskill TM-Full"]
    )
    print(
        f"  max |fast − reference|: ThurstoneK {diff_thurstone:.3g}, Elo {diff_elo:.3g}; "
        f"ThurstoneK vs openskill TM-Full {thurstone_vs_openskill:.3g}; "
        f"FactorGraphFFA vs trueskill (its built-in erfc) {graph_vs_trueskill:.3g}",
        file=sys.stderr,
    )

    # karena replay end to end, as a user runs it: a fresh process on a JSON-lines file.
    cli_votes = n_votes
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "votes.jsonl"
        write_jsonl(models[:cli_votes], ranks[:cli_votes], log_path)
        tiny_path = Path(tmp) / "one.jsonl"
        write_jsonl(models[:1], ranks[:1], tiny_path)
        time_cli(tiny_path, 1)  # warm numba's cache for the scanner
        cli_startup = time_cli(tiny_path, repeats)
        cli_seconds = time_cli(log_path, repeats)
    cli_us = cli_seconds / cli_votes * 1e6
    print(
        f"  karena replay end to end: {cli_seconds:.2f} s for {cli_votes:,} votes "
        f"({cli_us:.2f} µs/vote; a 1-vote file takes {cli_startup:.2f} s)",
        file=sys.stderr,
    )

    bt = time_bradley_terry(args.data, args.bt_rounds, args.seed)

    same_as = {
        "ThurstoneK fast": "openskill TM-Full",
        "ThurstoneK reference": "openskill TM-Full",
        "FactorGraphFFA": "trueskill package",
    }
    print(
        f"\n{'implementation':<24}{'votes':>11}{'CPU s':>10}{'wall s':>10}"
        f"{'µs/vote':>11}{'wall µs/vote':>14}  same algorithm as (speed-up)"
    )
    for name, n, seconds, wall in rows:
        per_vote = seconds / n * 1e6
        twin = same_as.get(name)
        versus = f"{twin} ({us[twin] / per_vote:.1f}×)" if twin else ""
        print(
            f"{name:<24}{n:>11,}{seconds:>10.4f}{wall:>10.4f}{per_vote:>11.3f}"
            f"{wall / n * 1e6:>14.3f}  {versus}"
        )
    print(
        f"{'karena replay (CLI)':<24}{cli_votes:>11,}{'':>10}{cli_seconds:>10.4f}{'':>11}"
        f"{cli_us:>14.3f}  end to end: process, JSON parsing, replay, output"
    )
    print(
        "\nspeedup_vs_trueskill compares the compiled K-wise closed form with the trueskill "
        "package's factor graph:\ndifferent algorithms (the deployment's and the paper's); the "
        "same-algorithm pairs are in the last column."
    )

    max_diff = max(diff_thurstone, diff_elo)
    result = {
        "ksort_us_per_vote": us["ThurstoneK fast"],
        "trueskill_us_per_vote": us["trueskill package"],
        "openskill_us_per_vote": us["openskill TM-Full"],
        "speedup_vs_trueskill": us["trueskill package"] / us["ThurstoneK fast"],
        "speedup_vs_openskill_same_algorithm": us["openskill TM-Full"] / us["ThurstoneK fast"],
        "factor_graph_speedup_vs_trueskill_same_algorithm": us["trueskill package"]
        / us["FactorGraphFFA"],
        "cli_us_per_vote": cli_us,
        "max_abs_diff": max_diff,
        "bt_bootstrap_s": bt["bt_bootstrap_s"],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "mode": "quick" if args.quick else "full",
        "votes": n_votes,
        "oracle_votes": n_oracle,
        "repeats": repeats,
        "us_per_vote": us,
        "cpu_seconds": {name: seconds for name, _, seconds, _ in rows},
        "wall_seconds": {name: wall for name, _, _, wall in rows},
        "max_abs_diff": {"thurstone": diff_thurstone, "elo": diff_elo},
        "factor_graph_vs_trueskill_default_backend": graph_vs_trueskill,
        "thurstone_vs_openskill_tm_full": thurstone_vs_openskill,
        "same_algorithm_as": same_as,
        "cli": {"votes": cli_votes, "seconds": cli_seconds, "one_vote_file_seconds": cli_startup},
        "bradley_terry": bt,
        "result": result,
    }
    (RESULTS / "replay.json").write_text(json.dumps(payload, indent=2))
    plot(us, RESULTS / "replay.png")
    print(f"\nwrote {RESULTS / 'replay.json'} and {RESULTS / 'replay.png'}")
    print(
        "RESULT "
        + " ".join(
            f"{key}={value:.4g}" if key != "max_abs_diff" else f"{key}={value:.3g}"
            for key, value in result.items()
        )
    )


if __name__ == "__main__":
    main()
