"""The batch board's refit against the vote path: how long a refit takes, and what a vote costs
while one runs in another thread of the same process (as the web app's refresher does).

A SQLite store in a temp dir holds a 10-model, K = 4 arena whose prompts fall in two categories;
V votes are cast through ``Store`` first. Then, per repeat:

- **fit**: ``store.boards.refresh_batch_board`` (claim, one read, the fit of the overall board
  and both category boards with ``KARENA_BATCH_BOARD_ROUNDS`` = 100, one write), timed;
- **idle** (the baseline, same run): N battle-plus-vote pairs one after another, each timed;
- **thread fit**: N more pairs while another thread refits the arena over and over, the fit in
  that thread (``KARENA_BATCH_BOARD_FIT_IN_CHILD=false``);
- **child fit**: the same, each fit in a child process (``ChildProcessFit``, the default).

The table gives medians over repeats of the fit time and of the pairs' p50, p95 and max
latency. A vote that waited for a fit would take as long as the fit; the tests prove no lock is
shared, this measures what sharing the CPU (and, in a thread, the interpreter lock) costs.

    python benchmarks/batch_board.py --quick   # ~2 minutes: 600 votes, 3 × 40 pairs per arm
    python benchmarks/batch_board.py           # 5,000 votes, 5 × 200 pairs per arm
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
N_MODELS, K = 10, 4
CATEGORIES = ("animals", "cities")


def png(color: tuple[int, int, int]) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (16, 16), color).save(buf, format="PNG")
    return buf.getvalue()


def seed(store: Any) -> None:
    store.catalog.create_arena(slug="bench", k=K)
    for i in range(N_MODELS):
        store.catalog.add_model(arena="bench", name=f"m{i}")
    for j in range(8):
        key = f"p{j}"
        store.catalog.add_prompt(arena="bench", text=f"prompt {j}", key=key,
                                 category=CATEGORIES[j % 2])  # fmt: skip
        for i in range(N_MODELS):
            store.catalog.add_output(arena="bench", model=f"m{i}", prompt_key=key,
                                     data=png((25 * i, 30 * j, 7)))  # fmt: skip


def pair(store: Any, rng: np.random.Generator) -> float:
    """One battle and its vote (a noisy ranking by the model's index); seconds taken."""
    started = time.perf_counter()
    battle = store.battles.create_battle(arena="bench", voter_id="bench")
    ranks = [int(r) for r in rng.permutation(K) + 1]
    store.voting.submit_vote(token=battle.token, mode="rank", ranks=ranks, voter_id="bench")
    return time.perf_counter() - started


def latencies(store: Any, n: int, rng: np.random.Generator) -> dict[str, float]:
    times = sorted(pair(store, rng) for _ in range(n))
    return {
        "p50_ms": 1e3 * times[len(times) // 2],
        "p95_ms": 1e3 * times[min(len(times) - 1, int(0.95 * len(times)))],
        "max_ms": 1e3 * times[-1],
    }


def during_fit(
    store: Any, n: int, rng: np.random.Generator, fit: Any
) -> tuple[dict[str, float], int]:
    """Pairs while another thread refits with ``fit``; their latencies and the fits that ran."""
    stop = threading.Event()
    fits = [0]

    def refit() -> None:
        while not stop.is_set():
            if store.boards.refresh_batch_board(arena="bench", fit=fit).fitted:
                fits[0] += 1

    worker = threading.Thread(target=refit)
    worker.start()
    deadline = time.monotonic() + 60
    while not store.boards.batch_board(arena="bench").fitting and time.monotonic() < deadline:
        time.sleep(0.01)  # the fit is under way before the first vote
    try:
        stats = latencies(store, n, rng)
    finally:
        stop.set()
        worker.join()
    return stats, fits[0]


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    labels = ["p50_ms", "p95_ms", "max_ms"]
    x = np.arange(len(labels))
    for offset, arm in ((-0.27, "idle"), (0.0, "thread_fit"), (0.27, "child_fit")):
        values = [statistics.median(r[arm][k] for r in rows) for k in labels]
        ax.bar(x + offset, values, width=0.27, label=arm.replace("_", " "))
    fit_ms = 1e3 * statistics.median(r["fit_seconds"] for r in rows)
    ax.axhline(fit_ms, color="grey", linestyle="--", label=f"one refit ({fit_ms:.0f} ms)")
    ax.set_xticks(x, ["p50", "p95", "max"])
    ax.set_ylabel("battle + vote (ms)")
    ax.set_yscale("log")
    ax.set_title("A vote while the batch board refits (SQLite, one process)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="600 votes, 3 × 40 pairs per arm")
    args = parser.parse_args()
    votes, pairs, repeats = (600, 40, 3) if args.quick else (5000, 200, 5)

    from karena.settings import Settings
    from karena.store import Store
    from karena.store.batch_boards import fit_boards
    from karena.web.batch_refresher import ChildProcessFit

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp), database_url=f"sqlite:///{Path(tmp) / 'bench.db'}",
            min_vote_seconds=0, rate_limit_per_minute=0, rate_limit_per_address_per_minute=0,
            media_image_size=16,
        )  # fmt: skip
        store = Store.open(settings)
        try:
            seed(store)
            for _ in range(votes):
                pair(store, rng)
            store.boards.refresh_batch_board(arena="bench")  # compiles what numba compiles
            rows = []
            for r in range(repeats):
                started = time.perf_counter()
                done = store.boards.refresh_batch_board(arena="bench")
                fit_seconds = time.perf_counter() - started
                idle = latencies(store, pairs, rng)
                thread, thread_fits = during_fit(store, pairs, rng, fit_boards)
                child, child_fits = during_fit(store, pairs, rng, ChildProcessFit())
                rows.append({"repeat": r, "votes": done.votes, "boards": done.boards,
                             "fit_seconds": fit_seconds, "idle": idle, "thread_fit": thread,
                             "child_fit": child, "fits_in_thread": thread_fits,
                             "fits_in_child": child_fits})  # fmt: skip
        finally:
            store.close()

    def med(arm: str, key: str) -> float:
        return statistics.median(r[arm][key] for r in rows)

    fit = statistics.median(r["fit_seconds"] for r in rows)
    print(f"batch board refit: {rows[-1]['votes']} votes, {rows[-1]['boards']} boards "
          f"(overall + {len(CATEGORIES)} categories), {repeats} repeats, medians")  # fmt: skip
    print(f"{'':>22} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for arm in ("idle", "thread_fit", "child_fit"):
        print(f"{'battle+vote ' + arm:>22} {med(arm, 'p50_ms'):8.2f} {med(arm, 'p95_ms'):8.2f} "
              f"{med(arm, 'max_ms'):8.2f}")  # fmt: skip
    print(f"{'one refit':>22} {1e3 * fit:8.0f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "batch_board_quick" if args.quick else "batch_board"
    summary = {
        "votes": rows[-1]["votes"], "pairs_per_arm": pairs, "repeats": repeats,
        "fit_seconds": fit, "idle_p50_ms": med("idle", "p50_ms"),
        "thread_fit_p50_ms": med("thread_fit", "p50_ms"),
        "child_fit_p50_ms": med("child_fit", "p50_ms"),
        "idle_max_ms": med("idle", "max_ms"), "thread_fit_max_ms": med("thread_fit", "max_ms"),
        "child_fit_max_ms": med("child_fit", "max_ms"),
    }  # fmt: skip
    (RESULTS / f"{name}.json").write_text(
        json.dumps({"summary": summary, "rows": rows}, indent=2), encoding="utf-8"
    )
    plot(rows, RESULTS / f"{name}.png")
    worst = max(summary["thread_fit_max_ms"], summary["child_fit_max_ms"])
    print(
        f"RESULT votes={summary['votes']} fit_s={fit:.3f} "
        f"vote_p50_idle_ms={summary['idle_p50_ms']:.2f} "
        f"vote_p50_thread_fit_ms={summary['thread_fit_p50_ms']:.2f} "
        f"vote_p50_child_fit_ms={summary['child_fit_p50_ms']:.2f} "
        f"vote_max_child_fit_ms={summary['child_fit_max_ms']:.2f} "
        f"max_over_fit={worst / (1e3 * fit):.3f}"
    )


if __name__ == "__main__":
    main()
