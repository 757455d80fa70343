"""Votes per second and latency of create-battle + vote over HTTP against a real ``karena serve``.

A bounded local load generator (asyncio + a minimal keep-alive HTTP/1.1 client, ``--concurrency``
voters, each with its own voter cookie and loopback address) loops "open a battle, rank it"
for ``--seconds`` against
the server: SQLite with 1 worker and PostgreSQL with 2 workers. Afterwards the vote log is read
back from the database: every acknowledged vote must be there (``lost_votes``), and the
incremental ratings must equal a recompute from the log. The baseline, measured in the same run
against the same server, is the same load on a static file: the HTTP ceiling of this machine
with this load generator. The load generator's own CPU per vote is reported beside the server's.

    python benchmarks/serve_load.py --quick                 # < 1 minute on 2 cores
    python benchmarks/serve_load.py --db postgres           # the published figures
    python benchmarks/serve_load.py --db sqlite --seconds 20
    python benchmarks/serve_load.py --quick --limits both   # the rate counters' cost per vote

PostgreSQL comes from ``--postgres-url`` or ``KARENA_TEST_POSTGRES_URL``; a fresh database is
created beside it and dropped afterwards. The abuse guards are off for the run (they would
refuse a load generator, by design); ``--limits on`` sets the vote limits so high that they
refuse nothing but every battle and vote still takes its database counters
(``karena.store.rate_limits``), and ``--limits both`` measures both, off first, on one server
setup each, to give the counters' cost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import numpy as np

from karena.services.demo_arena import build_demo_arena, render_missing
from karena.services.live import LiveGenerators
from karena.settings import Settings
from karena.store.api import Store
from karena.web.deps import sign_voter_id

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SEED_PROMPTS = 6
#: The server's voter salt: ``karena serve`` refuses the default one.
BENCH_VOTER_SALT = "serve-load-benchmark-voter-salt"


@dataclass
class RunStats:
    """One timed load run."""

    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    acked: dict[str, int] = field(default_factory=dict)
    errors: dict[int, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")


# -- databases and the server -------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(kind: str, workdir: Path, postgres_url: str | None) -> Iterator[str]:
    """A fresh, empty database URL of ``kind``."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'karena.db'}"
        return
    if postgres_url is None:
        raise SystemExit("--db postgres needs --postgres-url or KARENA_TEST_POSTGRES_URL")
    import psycopg

    parts = urlsplit(postgres_url)
    libpq = urlunsplit((parts.scheme.split("+", 1)[0], parts.netloc, parts.path, "", ""))
    name = f"karena_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))
    finally:
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(settings: Settings) -> None:
    """The demo arena with every output of its first prompts rendered."""
    store = Store.open(settings)
    try:
        arena = build_demo_arena(LiveGenerators(store), prompts=SEED_PROMPTS)
        render_missing(store, arena, arena.prompts)
    finally:
        store.close()


def _process_tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of ``root`` and its descendants (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return sum(cpu.get(pid, 0.0) for pid in tree)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def serving(
    database_url: str, data_dir: Path, workers: int, limits: bool = False
) -> Iterator[tuple[str, int]]:
    """``karena serve`` in a subprocess group; yields its base URL and pid once it answers.

    ``limits``: the vote (and battle) limits are on but never reached (10**9 a minute), so
    every request takes its rate counters; off (0) skips them.
    """
    port = _free_port()
    never = str(10**9) if limits else "0"
    env = {
        **os.environ,
        "KARENA_DATA_DIR": str(data_dir),
        "KARENA_MIN_VOTE_SECONDS": "0",
        "KARENA_RATE_LIMIT_PER_MINUTE": never,
        # Every simulated voter comes from 127.0.0.1: one address, so no per-address limit.
        "KARENA_RATE_LIMIT_PER_ADDRESS_PER_MINUTE": never,
        # serve refuses the default salt; the voters sign their cookies with this one.
        "KARENA_VOTER_SALT": BENCH_VOTER_SALT,
    }
    command = [
        sys.executable, "-m", "karena.cli.main", "serve", "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers), "--database-url", database_url,
        "--log-level", "warning",
    ]  # fmt: skip
    log_path = data_dir / "server.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server did not start:\n{log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/api/arenas", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        # Every worker must be up, not just the first: a few warm-up calls reach them all.
        for _ in range(4 * workers):
            httpx.get(f"{base}/api/leaderboard", timeout=30)
        yield base, process.pid
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


# -- the load generator -------------------------------------------------------------------------


class HttpConnection:
    """One keep-alive HTTP/1.1 connection: the leanest client we can write (a few µs a request).

    httpx cost ~1.8 ms of CPU per request on these 2 cores, more than the server: the load
    generator would have measured itself. This client speaks only what the benchmark needs
    (JSON bodies, Content-Length responses) and fails loudly on anything else.
    """

    def __init__(self, host: str, port: int, local_host: str | None = None) -> None:
        self.host, self.port, self.local_host = host, port, local_host
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: object | None = None, cookie: str = ""
    ) -> tuple[int, bytes]:
        if self.writer is None:
            local = (self.local_host, 0) if self.local_host is not None else None
            self.reader, self.writer = await asyncio.open_connection(
                self.host, self.port, local_addr=local
            )
        assert self.reader is not None
        payload = json.dumps(body).encode() if body is not None else b""
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
        if cookie:
            head += f"Cookie: {cookie}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + payload)
        try:
            header = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            await self.close()
            raise
        status = int(header[9:12])
        length = 0
        close = False
        for line in header.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                raise RuntimeError("chunked responses are not supported by this load generator")
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        data = await self.reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return status, data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None


async def _voter(base_url: str, voter: int, deadline: float, stats: RunStats, static: bool) -> None:
    parts = urlsplit(base_url)
    # Each voter its own loopback address, as voters on the internet have their own: the
    # per-address limits (on with --limits) then count per voter, not one hot row for all.
    local = f"127.0.{1 + voter // 250}.{1 + voter % 250}"
    conn = HttpConnection(parts.hostname or "127.0.0.1", parts.port or 80, local)
    cookie = f"karena_voter={sign_voter_id(BENCH_VOTER_SALT, f'{voter:032x}')}"
    rng = np.random.default_rng(voter)
    try:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                if static:
                    first, _ = await conn.request("GET", "/static/site.js")
                    second, _ = await conn.request("GET", "/static/vote.js")
                    if first == second == 200:
                        stats.latencies_ms.append((time.perf_counter() - start) * 1000)
                    continue
                status, data = await conn.request(
                    "POST", "/api/battles", {"arena": "demo"}, cookie=cookie
                )
                if status != 201:
                    stats.errors[status] = stats.errors.get(status, 0) + 1
                    continue
                token = json.loads(data)["token"]
                ranks = [int(r) for r in rng.permutation(4) + 1]
                status, data = await conn.request(
                    "POST", f"/api/battles/{token}/vote", {"mode": "rank", "ranks": ranks}, cookie
                )
            except (OSError, asyncio.IncompleteReadError, ValueError):
                # No answer means no acknowledgement: such a vote may or may not be stored, and
                # is not counted as lost. Status 0 in the table.
                stats.errors[0] = stats.errors.get(0, 0) + 1
                await conn.close()
                continue
            if status != 200:
                stats.errors[status] = stats.errors.get(status, 0) + 1
                continue
            stats.latencies_ms.append((time.perf_counter() - start) * 1000)
            stats.acked[token] = int(json.loads(data)["seq"])
    finally:
        await conn.close()


async def load(base_url: str, seconds: float, concurrency: int, static: bool = False) -> RunStats:
    """Run ``concurrency`` voters for ``seconds``; collect latencies and acknowledged votes."""
    start = time.perf_counter()
    stats = RunStats(seconds=seconds)
    await asyncio.gather(
        *(_voter(base_url, v, start + seconds, stats, static) for v in range(concurrency))
    )
    stats.seconds = time.perf_counter() - start
    return stats


def run_load(base_url: str, seconds: float, concurrency: int, static: bool = False) -> RunStats:
    """:func:`load` on uvloop when it is installed (uvicorn[standard] brings it)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(load(base_url, seconds, concurrency, static))
    return uvloop.run(load(base_url, seconds, concurrency, static))


def audit(settings: Settings, acked: dict[str, int]) -> tuple[int, int, float]:
    """Lost votes (acknowledged, not stored), stored votes, and |incremental − recompute|."""
    store = Store.open(settings, migrate=False)
    try:
        logged = {v.token: v.seq for v in store.voting.iter_votes(arena="demo")}
        lost = sum(1 for token, seq in acked.items() if logged.get(token) != seq)
        before = {r.model_name: (r.mu, r.sigma) for r in store.boards.leaderboard(arena="demo")}
        store.boards.recompute(arena="demo")
        after = {r.model_name: (r.mu, r.sigma) for r in store.boards.leaderboard(arena="demo")}
        diff = max(
            max(abs(before[m][0] - after[m][0]), abs(before[m][1] - after[m][1])) for m in before
        )
        return lost, len(logged), diff
    finally:
        store.close()


# -- the benchmark ------------------------------------------------------------------------------


def bench_one(
    kind: str,
    workers: int,
    seconds: float,
    repeats: int,
    concurrency: int,
    pg: str | None,
    limits: bool = False,
) -> dict[str, object]:
    """Seed, serve, measure the baseline and ``repeats`` vote runs, audit; one result row."""
    with tempfile.TemporaryDirectory(prefix=f"karena-load-{kind}-") as tmp:
        workdir = Path(tmp)
        with fresh_database(kind, workdir, pg) as url:
            settings = Settings(data_dir=workdir, database_url=url)
            seed(settings)
            with serving(url, workdir, workers, limits) as (base, pid):
                baseline = run_load(base, min(seconds, 5.0), concurrency, static=True)
                runs = []
                cpu_per_vote = []
                loadgen_cpu_per_vote = []
                for _ in range(repeats):
                    cpu_before = _process_tree_cpu_seconds(pid)
                    own_before = os.times()
                    runs.append(run_load(base, seconds, concurrency))
                    own = os.times()
                    spent = _process_tree_cpu_seconds(pid) - cpu_before
                    votes = max(1, len(runs[-1].latencies_ms))
                    cpu_per_vote.append(1000 * spent / votes)
                    own_spent = own.user - own_before.user + own.system - own_before.system
                    loadgen_cpu_per_vote.append(1000 * own_spent / votes)
                log_tail = (workdir / "server.log").read_text(errors="replace")[-1500:]
            acked = {t: s for run in runs for t, s in run.acked.items()}
            lost, stored, diff = audit(settings, acked)
    rates = [run.rate for run in runs]
    errors: dict[str, int] = {}
    for run in runs:
        for status, count in run.errors.items():
            errors[str(status)] = errors.get(str(status), 0) + count
    return {
        "db": kind,
        "limits": limits,
        "workers": workers,
        "concurrency": concurrency,
        "seconds_per_run": seconds,
        "repeats": repeats,
        "votes_per_s": statistics.median(rates),
        "votes_per_s_runs": rates,
        "p50_ms": statistics.median(run.percentile(50) for run in runs),
        "p99_ms": statistics.median(run.percentile(99) for run in runs),
        "server_cpu_ms_per_vote": statistics.median(cpu_per_vote),
        "loadgen_cpu_ms_per_vote": statistics.median(loadgen_cpu_per_vote),
        "baseline_static_pairs_per_s": baseline.rate,
        "baseline_p50_ms": baseline.percentile(50),
        "acked_votes": len(acked),
        "stored_votes": stored,
        "lost_votes": lost,
        "errors": errors,
        "recompute_max_abs_diff": diff,
        "server_log_tail": log_tail if any(run.errors for run in runs) else "",
        "latencies_ms": [round(x, 3) for x in runs[len(runs) // 2].latencies_ms],
    }


def plot(rows: list[dict[str, object]], path: Path) -> None:
    """Latency CDF per database, with throughput in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for row in rows:
        lat = np.sort(np.asarray(row["latencies_ms"], dtype=float))
        if lat.size == 0:
            continue
        label = f"{row['db']} ×{row['workers']} workers: {row['votes_per_s']:.0f} votes/s"
        if row.get("limits"):
            label += " (rate counters on)"
        ax.plot(lat, np.arange(1, lat.size + 1) / lat.size, label=label)
    ax.axvline(100, color="grey", linestyle=":", label="100 ms goal (p99)")
    ax.set_xscale("log")
    ax.set_xlabel("create-battle + vote latency (ms)")
    ax.set_ylabel("fraction of votes")
    ax.set_title("karena serve under local load")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=None, help="length of one timed run")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs (median reported)")
    parser.add_argument("--concurrency", type=int, default=16, help="simultaneous voters")
    parser.add_argument("--quick", action="store_true", help="short runs (< 1 minute)")
    parser.add_argument("--postgres-url", default=os.environ.get("KARENA_TEST_POSTGRES_URL"))
    parser.add_argument(
        "--limits",
        choices=["off", "on", "both"],
        default="off",
        help="rate counters: off (limits 0), on (limits never reached), both (their cost)",
    )
    args = parser.parse_args()
    seconds = args.seconds if args.seconds is not None else (4.0 if args.quick else 20.0)
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    if args.db == "both" and args.postgres_url is None:
        print("KARENA_TEST_POSTGRES_URL is not set: SQLite only")
        kinds = ["sqlite"]
    rows = []
    modes = {"off": [False], "on": [True], "both": [False, True]}[args.limits]
    for kind in kinds:
        workers = 1 if kind == "sqlite" else 2
        for limits in modes:
            print(
                f"{kind}: {workers} worker(s), {repeats} × {seconds:.0f} s, "
                f"{args.concurrency} voters, rate counters {'on' if limits else 'off'}"
            )
            rows.append(
                bench_one(
                    kind, workers, seconds, repeats, args.concurrency, args.postgres_url, limits
                )
            )
    header = f"{'db':<9}{'limits':>7}{'workers':>8}{'votes/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
    header += f"{'acked':>8}"
    header += f"{'stored':>8}{'lost':>6}{'errors':>8}{'static/s':>10}{'cpu ms/vote':>13}"
    header += f"{'loadgen ms':>11}"
    print(header)
    for row in rows:
        print(
            f"{row['db']:<9}{'on' if row['limits'] else 'off':>7}{row['workers']:>8}"
            f"{row['votes_per_s']:>10.1f}{row['p50_ms']:>9.1f}"
            f"{row['p99_ms']:>9.1f}{row['acked_votes']:>8}{row['stored_votes']:>8}"
            f"{row['lost_votes']:>6}{sum(row['errors'].values()):>8}"
            f"{row['baseline_static_pairs_per_s']:>10.1f}{row['server_cpu_ms_per_vote']:>13.1f}"
            f"{row['loadgen_cpu_ms_per_vote']:>11.2f}"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"mode": "quick" if args.quick else "full", "limits": args.limits, "rows": rows}
    # The published figures (limits off) and the counters' cost keep their own files.
    stem = "serve_load" if args.limits == "off" else "serve_load_limits"
    (RESULTS / f"{stem}.json").write_text(json.dumps(payload, indent=2))
    plot(rows, RESULTS / f"{stem}.png")
    print(f"wrote {RESULTS / f'{stem}.json'} and {RESULTS / f'{stem}.png'}")
    last = rows[-1]
    result = (
        f"RESULT db={last['db']} workers={last['workers']} votes_per_s={last['votes_per_s']:.1f} "
        f"p50_ms={last['p50_ms']:.1f} p99_ms={last['p99_ms']:.1f} lost_votes={last['lost_votes']}"
    )
    if args.limits == "both":
        off = next(r for r in rows if r["db"] == last["db"] and not r["limits"])
        cost = 100 * (1 - float(last["votes_per_s"]) / float(off["votes_per_s"]))  # type: ignore[arg-type]
        result += f" limits=on votes_per_s_limits_off={off['votes_per_s']:.1f}"
        result += f" limits_cost_pct={cost:.1f}"
    print(result)


if __name__ == "__main__":
    main()
