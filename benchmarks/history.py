"""What the rating history and the movement column cost, at 10k, 100k and 1M stored votes.

For each size it writes a SQLite store with that many counted votes (50 models, K = 4, rankings
of noisy hidden skills; written with plain multi-row inserts, then ``recompute`` makes the live
ratings), and times, as medians of ``--repeats`` runs:

- ``replay_ms`` (the baseline): the plain full replay, the rebuild's own statement reading the
  counted log, encoded and replayed once through the compiled kernel (``replay_encoded``);
- ``recompute_ms``: ``karena recompute``'s exact rebuild (reads, replays one vote at a time,
  writes the ratings), once;
- ``history_cold_ms``: the history of the oldest model in a fresh worker (its vote log cache
  empty: the log is read, then replayed from the start);
- ``history_ms``: the same request again (the worker's steady state between votes: the log
  cached, one replay pass from the memoised state before the model's first vote);
- ``leaderboard_ms`` and ``leaderboard_plain_ms``: the leaderboard with the movement column
  (the board 1000 votes ago: a memoised state plus at most one checkpoint step of replay) and
  without it (``KARENA_MOVEMENT_VOTES=0``);
- ``batch_point_ms``: one batch-history point on the whole log (the largest fit the background
  fitter makes; ``--batch-max`` votes at most, 100k by default).

Each size also checks that the history's last point equals the live rating bit for bit.

    python benchmarks/history.py --quick      # 10k and 100k votes, ~3 minutes on 2 cores
    python benchmarks/history.py              # 10k, 100k and 1M: the published figures
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from karena.rating.history import grid_step
from karena.rating.replay import encode_votes, replay_encoded
from karena.rating.types import Vote, stored_outcome
from karena.settings import Settings
from karena.store import Store
from karena.store.batch_history import BatchJob, fit_point
from karena.store.families import arena_beta
from karena.store.lookups import find_arena
from karena.store.models import VoteRow
from karena.store.ratings import model_for_arena

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
N_MODELS, K, SLUG = 50, 4, "bench"
CHUNK = 20_000


def synthetic_log(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``models`` (indices) and ``ranks`` (n × 4): random 4-subsets ranked by noisy skill."""
    skill = rng.normal(25.0, 8.0, size=N_MODELS)
    models = np.argsort(rng.random((n, N_MODELS)), axis=1)[:, :K].astype(np.int32)
    performance = skill[models] + rng.normal(0.0, 25.0 / 6.0, size=models.shape)
    ranks = (np.argsort(np.argsort(-performance, axis=1), axis=1) + 1).astype(np.int32)
    return models, ranks


def build_store(folder: Path, n: int, seed: int) -> Settings:
    """A SQLite store with ``n`` counted votes in arena ``bench``, its ratings recomputed."""
    settings = Settings(data_dir=folder, media_image_size=16)
    with Store.open(settings) as store:
        store.catalog.create_arena(slug=SLUG, k=K)
        ids = [store.catalog.add_model(arena=SLUG, name=f"m{i:02d}").id for i in range(N_MODELS)]
        store.catalog.add_prompt(arena=SLUG, text="a benchmark prompt", key="p")
        arena_id = store.catalog.get_arena(slug=SLUG).id
    models, ranks = synthetic_log(n, np.random.default_rng(seed))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    conn = sqlite3.connect(folder / "karena.db")
    prompt_id = conn.execute("SELECT id FROM prompts").fetchone()[0]
    for lo in range(0, n, CHUNK):
        hi = min(n, lo + CHUNK)
        stamps = [
            (start + timedelta(seconds=i)).replace(tzinfo=None).isoformat(sep=" ")
            for i in range(lo, hi)
        ]
        conn.executemany(
            "INSERT INTO battles (id, arena_id, prompt_id, token, state, voter_hash, created_at,"
            " expires_at) VALUES (?, ?, ?, ?, 'voted', 'v', ?, ?)",
            [
                (i + 1, arena_id, prompt_id, f"t{i}", s, s)
                for i, s in zip(range(lo, hi), stamps, strict=True)
            ],
        )
        conn.executemany(
            "INSERT INTO votes (arena_id, seq, battle_id, mode, ranks, model_ids, counted,"
            " voter_hash, client, reveal, created_at) VALUES (?, ?, ?, 'rank', ?, ?, 1, ?, '{}',"
            " '[]', ?)",
            [
                (
                    arena_id,
                    i + 1,
                    i + 1,
                    json.dumps(ranks[i].tolist()),
                    json.dumps([ids[m] for m in models[i].tolist()]),
                    f"voter-{i % 97}",
                    stamps[i - lo],
                )
                for i in range(lo, hi)
            ],
        )
    conn.execute("UPDATE arenas SET vote_seq = ? WHERE id = ?", (n, arena_id))
    conn.commit()
    conn.close()
    return settings


def median_ms(run: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def plain_replay(store: Store) -> int:
    """The baseline: the rebuild's statement, encoded, one compiled replay pass."""
    with store.db.read() as s:
        arena = find_arena(s, SLUG)
        rows = s.execute(
            select(VoteRow.model_ids, VoteRow.mode, VoteRow.ranks)
            .where(VoteRow.arena_id == arena.id, VoteRow.counted.is_(True))
            .order_by(VoteRow.seq)
            .execution_options(yield_per=5000)
        )
        votes = [Vote(tuple(m), stored_outcome(mode, r)) for m, mode, r in rows]
        replay_encoded(encode_votes(votes), model_for_arena(arena))
    return len(votes)


def open_store(settings: Settings) -> Store:
    """A store whose background batch fitter takes no jobs: its fits would share the CPU with
    the timings (``batch_point_ms`` measures a fit on its own)."""
    store = Store.open(settings)
    store._context.batch_fitter.close()
    return store


def measure(n: int, repeats: int, batch_max: int, seed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="karena-history-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        settings = build_store(folder, n, seed)
        row: dict[str, Any] = {"votes": n, "seed_s": time.perf_counter() - t0}
        with Store.open(settings) as store:
            t0 = time.perf_counter()
            store.boards.recompute(arena=SLUG)
            row["recompute_ms"] = (time.perf_counter() - t0) * 1e3
            row["replay_ms"] = median_ms(lambda: plain_replay(store), repeats)
        colds = []
        for _ in range(repeats):  # a fresh worker each time: its cache starts empty
            with open_store(settings) as store:
                t0 = time.perf_counter()
                store.boards.history(arena=SLUG, name="m00")
                colds.append((time.perf_counter() - t0) * 1e3)
        row["history_cold_ms"] = statistics.median(colds)
        with open_store(settings) as store:
            history = store.boards.history(arena=SLUG, name="m00")
            row["history_ms"] = median_ms(
                lambda: store.boards.history(arena=SLUG, name="m00"), repeats
            )
            live = {r.model_name: r for r in store.boards.leaderboard(arena=SLUG)}
            last = history.online[-1]
            row["exact"] = (last.mu, last.sigma) == (live["m00"].mu, live["m00"].sigma)
            row["leaderboard_ms"] = median_ms(lambda: store.boards.leaderboard(arena=SLUG), repeats)
            row["movement_rows"] = sum(r.movement is not None for r in live.values())
            store.settings = store.settings.model_copy(update={"movement_votes": 0})
            row["leaderboard_plain_ms"] = median_ms(
                lambda: store.boards.leaderboard(arena=SLUG), repeats
            )
            row["online_points"] = len(history.online)
            row["batch_points"] = len(range(grid_step(n, 50), n + 1, grid_step(n, 50)))
            if n <= batch_max:
                with store.db.read() as s:
                    arena = find_arena(s, SLUG)
                    log = store._context.vote_logs.log(s, arena)
                    job = BatchJob(
                        arena.id, n, "", tuple(log.ids), log.models, log.ranks,
                        arena_beta(arena.rating_model, arena.rating_params), 0,
                    )  # fmt: skip
                t0 = time.perf_counter()
                fit_point(job)
                row["batch_point_ms"] = (time.perf_counter() - t0) * 1e3
        return row


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    series = {
        "replay_ms": "plain full replay (baseline)",
        "recompute_ms": "recompute (exact rebuild)",
        "history_cold_ms": "history, cold worker",
        "history_ms": "history, warm worker",
        "leaderboard_ms": "leaderboard with movement",
        "leaderboard_plain_ms": "leaderboard without movement",
    }
    for key, label in series.items():
        ax.plot([r["votes"] for r in rows], [r[key] for r in rows], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("counted votes in the arena")
    ax.set_ylabel("ms (median)")
    ax.set_title("Rating history and movement: cost by log size (SQLite, 2 cores)")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def label(n: int) -> str:
    return f"{n // 1_000_000}m" if n >= 1_000_000 else f"{n // 1000}k"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k and 100k votes only")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-max", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    rows = []
    header = (
        f"{'votes':>9} {'replay':>9} {'recompute':>10} {'hist cold':>10} {'history':>9} "
        f"{'board+mv':>9} {'board':>7} {'batch pt':>9} {'exact':>6}"
    )
    print(header)
    for n in sizes:
        row = measure(n, args.repeats, args.batch_max, args.seed)
        rows.append(row)
        batch = f"{row['batch_point_ms']:9.0f}" if "batch_point_ms" in row else f"{'-':>9}"
        print(
            f"{n:>9} {row['replay_ms']:9.0f} {row['recompute_ms']:10.0f} "
            f"{row['history_cold_ms']:10.0f} {row['history_ms']:9.0f} "
            f"{row['leaderboard_ms']:9.1f} {row['leaderboard_plain_ms']:7.1f} {batch} "
            f"{row['exact']!s:>6}",
            flush=True,
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "history_quick" if args.quick else "history"
    payload = {"quick": args.quick, "repeats": args.repeats, "rows": rows}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2))
    plot(rows, RESULTS / f"{name}.png")
    print(f"\nwrote {RESULTS / (name + '.json')} and {RESULTS / (name + '.png')}")
    parts = []
    for row in rows:
        tag = label(row["votes"])
        parts += [
            f"history_ms_{tag}={row['history_ms']:.0f}",
            f"replay_ms_{tag}={row['replay_ms']:.0f}",
            f"history_cold_ms_{tag}={row['history_cold_ms']:.0f}",
            f"leaderboard_ms_{tag}={row['leaderboard_ms']:.1f}",
        ]
    exact = all(row["exact"] for row in rows)
    print("RESULT " + " ".join(parts) + f" exact={exact}")


if __name__ == "__main__":
    main()
