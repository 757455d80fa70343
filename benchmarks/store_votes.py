"""How fast the storage layer takes votes: create_battle + submit_vote through `Store`, no HTTP.

For each database (SQLite in a temp dir, PostgreSQL in a fresh schema) it seeds a 20-model arena,
times create-battle-plus-vote pairs one after another, and checks that `recompute` reproduces the
live ratings bit for bit. The baseline, measured in the same run, is the rating update alone
(ThurstoneK on the same votes), so the table shows what the database work costs on top.

    python benchmarks/store_votes.py --quick            # < 1 minute
    python benchmarks/store_votes.py                    # full: 3 repeats x 300 votes per database
    python benchmarks/store_votes.py --db sqlite

PostgreSQL is used when KARENA_TEST_POSTGRES_URL (or --postgres-url) is set.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
N_MODELS, N_PROMPTS, K = 20, 10, 4


def png(color: tuple[int, int, int]) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (16, 16), color).save(buf, format="PNG")
    return buf.getvalue()


def open_store(db: str, tmp: Path, pg_url: str | None) -> tuple[object, str | None]:
    from karena.settings import Settings
    from karena.store import Store

    schema = None
    url = f"sqlite:///{tmp / 'bench.db'}"
    if db == "postgres":
        import psycopg
        from sqlalchemy.engine import make_url

        assert pg_url is not None
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        dsn = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        url = make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
        url = url.render_as_string(hide_password=False)
    settings = Settings(data_dir=tmp, database_url=url, min_vote_seconds=0, rate_limit_per_minute=0)
    return Store.open(settings), schema


def drop_schema(pg_url: str, schema: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    dsn = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def seed(store: object) -> None:
    from karena.store import Store

    assert isinstance(store, Store)
    store.catalog.create_arena(slug="bench", k=K)
    for i in range(N_MODELS):
        store.catalog.add_model(arena="bench", name=f"model-{i:02d}")
    for j in range(N_PROMPTS):
        store.catalog.add_prompt(arena="bench", text=f"prompt {j}", key=f"p{j}")
        for i in range(N_MODELS):
            store.catalog.add_output(
                arena="bench",
                model=f"model-{i:02d}",
                prompt_key=f"p{j}",
                data=png((i * 12, j * 25, 100)),
            )


def time_pairs(store: object, n: int, rng: np.random.Generator) -> list[float]:
    """Seconds per create_battle + submit_vote pair."""
    from karena.store import Store

    assert isinstance(store, Store)
    out = []
    for i in range(n):
        ranks = [int(r) for r in rng.permutation(K) + 1]
        t0 = time.perf_counter()
        battle = store.battles.create_battle(arena="bench", seed=int(rng.integers(2**31)))
        store.voting.submit_vote(
            token=battle.token, mode="rank", ranks=ranks, voter_id=f"v{i % 50}"
        )
        out.append(time.perf_counter() - t0)
    return out


def baseline_updates(n: int, rng: np.random.Generator) -> float:
    """Rating updates per second of ThurstoneK alone on random 4-way rankings (the baseline)."""
    from karena.rating import Ranking, Rating, ThurstoneK

    model = ThurstoneK()
    ratings = [Rating(25.0, 25 / 3)] * N_MODELS
    picks = [rng.choice(N_MODELS, K, replace=False) for _ in range(n)]
    orders = [tuple(int(r) for r in rng.permutation(K) + 1) for _ in range(n)]
    t0 = time.perf_counter()
    for idx, ranks in zip(picks, orders, strict=True):
        new = model.update([ratings[i] for i in idx], Ranking(ranks))
        for i, r in zip(idx, new, strict=True):
            ratings[i] = r
    return n / (time.perf_counter() - t0)


def run_db(db: str, args: argparse.Namespace, pg_url: str | None) -> dict[str, object]:
    from karena.store import Store

    rng = np.random.default_rng(7)
    per_repeat, latencies, exact = [], [], True
    for rep in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            store, schema = open_store(db, Path(tmp), pg_url)
            assert isinstance(store, Store)
            try:
                seed(store)
                time_pairs(store, 10, rng)  # warm-up: imports, caches, prepared statements
                t0 = time.perf_counter()
                lat = time_pairs(store, args.votes, rng)
                per_repeat.append(args.votes / (time.perf_counter() - t0))
                latencies.extend(lat)
                live = [(r.mu, r.sigma, r.votes) for r in store.boards.leaderboard(arena="bench")]
                store.boards.recompute(arena="bench")
                exact &= live == [
                    (r.mu, r.sigma, r.votes) for r in store.boards.leaderboard(arena="bench")
                ]
            finally:
                store.close()
                if schema is not None and pg_url is not None:
                    drop_schema(pg_url, schema)
        print(f"  {db} repeat {rep + 1}: {per_repeat[-1]:.1f} votes/s", flush=True)
    ms = sorted(x * 1000 for x in latencies)
    return {
        "db": db,
        "votes_per_s": statistics.median(per_repeat),
        "votes_per_s_runs": per_repeat,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "baseline_updates_per_s": baseline_updates(2000, rng),
        "recompute_exact": exact,
        "latencies_ms": ms,
    }


def plot(rows: list[dict[str, object]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for row in rows:
        ms = np.asarray(row["latencies_ms"], dtype=float)
        ax.plot(ms, np.linspace(0, 1, len(ms)), label=f"{row['db']} (p99 {row['p99_ms']:.0f} ms)")
    ax.set_xscale("log")
    ax.set_xlabel("create_battle + submit_vote latency (ms)")
    ax.set_ylabel("fraction of votes")
    ax.set_title("Store latency per vote (one client, no HTTP)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short repeat (< 1 minute)")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--postgres-url", default=os.environ.get("KARENA_TEST_POSTGRES_URL"))
    parser.add_argument("--votes", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    args.votes = args.votes if args.votes is not None else (60 if args.quick else 300)
    args.repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    if "postgres" in dbs and not args.postgres_url:
        if args.db == "postgres":
            sys.exit("set KARENA_TEST_POSTGRES_URL or --postgres-url")
        dbs.remove("postgres")
    rows = [run_db(db, args, args.postgres_url) for db in dbs]
    print(
        f"\n{'db':<10}{'votes/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'update-only/s':>16}{'exact':>8}"
    )
    for r in rows:
        print(
            f"{r['db']:<10}{r['votes_per_s']:>10.1f}{r['p50_ms']:>10.1f}{r['p99_ms']:>10.1f}"
            f"{r['baseline_updates_per_s']:>16.0f}{r['recompute_exact']!s:>8}"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    summary = [{k: v for k, v in r.items() if k != "latencies_ms"} for r in rows]
    (RESULTS / "store_votes.json").write_text(
        json.dumps(
            {
                "mode": "quick" if args.quick else "full",
                "votes": args.votes,
                "repeats": args.repeats,
                "rows": summary,
            },
            indent=2,
        )
    )
    plot(rows, RESULTS / "store_votes.png")
    by = {r["db"]: r for r in rows}
    parts = []
    for db in ("sqlite", "postgres"):
        if db in by:
            parts.append(f"{db}_votes_per_s={by[db]['votes_per_s']:.1f}")
            parts.append(f"{db}_p99_ms={by[db]['p99_ms']:.1f}")
    exact = int(all(r["recompute_exact"] for r in rows))
    print("RESULT " + " ".join(parts) + f" recompute_exact={exact}")


if __name__ == "__main__":
    main()
