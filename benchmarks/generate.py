"""Live generation at arena scale: the job queue's throughput, typed prompt to ready battle,
and whether votes slow down while generation runs.

A local provider on 127.0.0.1 (Hugging Face Inference-style: one POST answers the PNG) sleeps
``--latency`` seconds per image, as a remote GPU would. Against one SQLite database (or
PostgreSQL with ``--postgres-url``) the run measures:

1. throughput against concurrency: ``W`` ``karena worker`` processes (W = 1, 2, 4, 8), started
   and warmed up by one untimed round first, then ``8 W`` jobs queued at once; images per
   second until the last is done;
2. time from a typed prompt (``POST /api/battles`` on a real ``karena serve`` whose own worker
   threads are off) to a ready battle (K = 4 outputs), with 1 and with 4 workers;
3. vote latency (open a gallery battle, vote; 4 voters in a loop) with no generation running
   (the baseline, same run, same server, no worker process) and while 4 workers generate, in
   alternating windows; the p99 of each window, median over the windows.

Medians over ``--repeats``. Table on stdout, JSON and PNG in benchmarks/results/.

    python benchmarks/generate.py --quick        # 0.25 s per image, about a minute
    python benchmarks/generate.py                # 2 s per image, the published figures
    python benchmarks/generate.py --postgres-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"

from tests.web.server import KarenaServer  # noqa: E402

from karena.settings import Settings  # noqa: E402
from karena.store.api import Store  # noqa: E402

K = 4


class Provider:
    """HF Inference-style text-to-image with a fixed latency; counts requests."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests += 1
                time.sleep(outer.latency)
                data = _png(str(body.get("inputs")))
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/hf"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def _png(prompt: str) -> bytes:
    from PIL import Image

    d = hashlib.sha256(prompt.encode()).digest()
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (d[0], d[1], d[2])).save(buf, format="PNG")
    return buf.getvalue()


def setup(settings: Settings, provider: Provider) -> list[int]:
    """An arena of K models with generator configs and a small gallery for the vote load."""
    with Store.open(settings) as store:
        store.catalog.create_arena(slug="bench", k=K)
        ids = [
            store.catalog.add_model(arena="bench", name=f"model-{i}", generator={
                "kind": "hf-inference", "base_url": provider.base, "model": f"m{i}",
                "retries": 0, "timeout": 60,
            }).id
            for i in range(K)
        ]  # fmt: skip
        for j in range(6):
            store.catalog.add_prompt(arena="bench", text=f"gallery {j}", key=f"g{j}")
            for i in range(K):
                store.catalog.add_output(arena="bench", model=f"model-{i}", prompt_key=f"g{j}",
                                         data=_png(f"{i}-{j}"))  # fmt: skip
        return ids


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KARENA_")}
    env["KARENA_DATABASE_URL"] = str(settings.database_url)
    env["KARENA_DATA_DIR"] = str(settings.data_dir)
    env["KARENA_WORKER_POLL_SECONDS"] = "0.05"
    return env


@contextmanager
def workers(settings: Settings, n: int) -> Iterator[None]:
    """``n`` idle ``karena worker`` processes (each one job at a time), stopped afterwards."""
    karena = str(Path(sys.executable).with_name("karena"))
    procs = [
        subprocess.Popen(
            [karena, "worker", "-j", "1"],
            env=_env(settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(n)
    ]
    try:
        for p in procs:  # each prints one line once it is connected and polling
            assert p.stdout is not None
            p.stdout.readline()
        yield
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(60)


def _wait_done(store: Store, total: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while store.jobs.counts(arena="bench").done < total:
        if time.monotonic() > deadline:
            raise RuntimeError(f"jobs not done after {timeout} s: {store.jobs.counts()}")
        time.sleep(0.02)


_prompt_seq = iter(range(10**9))


def enqueue(store: Store, ids: list[int], n_images: int) -> None:
    """``n_images`` jobs: n_images / K fresh prompts, each for all K models."""
    for _ in range(n_images // K):
        j = next(_prompt_seq)
        p = store.catalog.add_prompt(arena="bench", text=f"queued prompt {j}", key=f"q{j}")
        store.jobs.enqueue_battle(arena="bench", prompt_id=p.id, model_ids=ids, missing=ids)


def throughput(settings: Settings, ids: list[int], n_workers: int, latency: float) -> float:
    """Images per second with ``n_workers`` workers on 8 images each."""
    with Store.open(settings) as store, workers(settings, n_workers):
        before = store.jobs.counts(arena="bench").done
        enqueue(store, ids, K * -(-n_workers // K))  # warm-up: a first job for each worker
        before += K * -(-n_workers // K)
        _wait_done(store, before, timeout=60 + 20 * latency)
        n = 8 * n_workers
        started = time.monotonic()
        enqueue(store, ids, n)
        _wait_done(store, before + n, timeout=60 + 20 * latency * 8)
        return n / (time.monotonic() - started)


def typed_to_ready(server: KarenaServer, n: int) -> list[float]:
    """Seconds from POST /api/battles with a fresh prompt to its status 'ready'."""
    times = []
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        for _ in range(n):
            text = f"typed prompt {next(_prompt_seq)}"
            started = time.monotonic()
            r = client.post("/api/battles", json={"arena": "bench", "prompt": text})
            assert r.status_code == 202, r.text
            token = r.json()["token"]
            while True:
                status = client.get(f"/api/battles/{token}/status").json()
                if status["state"] == "ready":
                    break
                assert status["state"] == "generating", status
                time.sleep(0.02)
            times.append(time.monotonic() - started)
    return times


def vote_latencies(server: KarenaServer, seconds: float, voters: int = 4) -> list[float]:
    """Milliseconds per vote request while ``voters`` loop open-battle + vote."""
    out: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def voter() -> None:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            while time.monotonic() < deadline:
                battle = client.post("/api/battles", json={"arena": "bench"}).json()
                t = time.perf_counter()
                r = client.post(f"/api/battles/{battle['token']}/vote",
                                json={"mode": "best", "winner": 0})  # fmt: skip
                ms = (time.perf_counter() - t) * 1000
                assert r.status_code == 200, r.text
                with lock:
                    out.append(ms)

    threads = [threading.Thread(target=voter) for _ in range(voters)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


@contextmanager
def database(postgres_url: str | None, folder: Path) -> Iterator[str]:
    """SQLite in ``folder``, or a fresh schema on PostgreSQL, dropped afterwards."""
    if postgres_url is None:
        yield f"sqlite:///{folder / 'karena.db'}"
        return
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    schema = f"karena_bench_{uuid.uuid4().hex[:10]}"
    dsn = make_url(postgres_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        url = make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    ws = [r["workers"] for r in result["throughput"]]
    ips = [r["images_per_s"] for r in result["throughput"]]
    a.plot(ws, ips, "o-", label="measured")
    a.plot(ws, [ips[0] * w for w in ws], "--", color="grey", label="linear from 1 worker")
    a.set_xlabel("worker processes")
    a.set_ylabel("images / s")
    a.set_title(f"queue throughput, {result['latency_s']:g} s per image")
    a.legend()
    labels = ["no generation", "4 workers generating"]
    b.bar(labels, [result["vote_p99_ms_idle"], result["vote_p99_ms_during"]], color=["C0", "C1"])
    b.set_ylabel("vote p99 (ms)")
    b.set_title("vote latency")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="0.25 s per image, 1 repeat")
    parser.add_argument("--latency", type=float, default=None, help="seconds per image")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--postgres-url", default=None, help="run on this PostgreSQL database")
    args = parser.parse_args()
    latency = args.latency if args.latency is not None else (0.25 if args.quick else 2.0)
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    vote_seconds = 4.0 if args.quick else 10.0
    provider = Provider(latency)
    with (
        tempfile.TemporaryDirectory(prefix="karena-bench-gen-") as tmp,
        database(args.postgres_url, Path(tmp)) as url,
    ):
        data = Path(tmp)
        settings = Settings(data_dir=data, database_url=url)
        ids = setup(settings, provider)
        rows = []
        for w in (1, 2, 4, 8):
            runs = [throughput(settings, ids, w, latency) for _ in range(repeats)]
            rows.append({"workers": w, "images_per_s": statistics.median(runs), "runs": runs})
            print(f"throughput: {w} workers  {rows[-1]['images_per_s']:.2f} images/s", flush=True)
        server_env = {
            "KARENA_WEB_GENERATION_THREADS": "0",
            "KARENA_RATE_LIMIT_PER_ADDRESS_PER_MINUTE": "0",
        }
        with KarenaServer(database_url=url, data_dir=data, env=server_env) as server:
            ready = {}
            for w in (1, 4):
                with workers(settings, w):
                    ready[w] = statistics.median(typed_to_ready(server, max(repeats, 3)))
                print(f"typed prompt to ready battle, {w} workers: {ready[w]:.2f} s", flush=True)
            # Alternate windows without and with generation, so drift on a shared machine
            # hits both alike; the p99 of each window, then the median over windows.
            idle_runs: list[list[float]] = []
            during_runs: list[list[float]] = []
            busy = []
            with Store.open(settings) as store:
                enqueue(store, ids, int(4 * repeats * (vote_seconds + 4) / latency) // K * K + K)
                for _ in range(repeats):
                    idle_runs.append(vote_latencies(server, vote_seconds))
                    with workers(settings, 4):
                        time.sleep(min(1.0, latency))
                        during_runs.append(vote_latencies(server, vote_seconds))
                        busy.append(store.jobs.counts(arena="bench").running)
    w1, w4 = rows[0]["images_per_s"], rows[2]["images_per_s"]
    result = {
        "latency_s": latency,
        "repeats": repeats,
        "database": "postgresql" if args.postgres_url else "sqlite",
        "throughput": rows,
        "typed_to_ready_s": {str(k): v for k, v in ready.items()},
        "votes_idle": sum(len(r) for r in idle_runs),
        "votes_during": sum(len(r) for r in during_runs),
        "vote_p50_ms_idle": statistics.median(statistics.median(r) for r in idle_runs),
        "vote_p50_ms_during": statistics.median(statistics.median(r) for r in during_runs),
        "vote_p99_ms_idle": statistics.median(p99(r) for r in idle_runs),
        "vote_p99_ms_during": statistics.median(p99(r) for r in during_runs),
        "vote_p99_ms_idle_runs": [p99(r) for r in idle_runs],
        "vote_p99_ms_during_runs": [p99(r) for r in during_runs],
        "jobs_running_during_votes": busy,
        "images_per_s_w1": w1,
        "images_per_s_w4": w4,
        "scale_w4": w4 / w1,
        "provider_requests": provider.requests,
    }
    print()
    print(f"{'workers':>8} {'images/s':>9} {'x 1 worker':>10}")
    for r in rows:
        print(f"{r['workers']:>8} {r['images_per_s']:>9.2f} {r['images_per_s'] / w1:>10.2f}")
    print(f"typed prompt -> ready battle (K={K}): 1 worker {ready[1]:.2f} s, 4 workers "
          f"{ready[4]:.2f} s ({latency:g} s per image)")  # fmt: skip
    print(f"vote p50/p99 ms: no generation {result['vote_p50_ms_idle']:.1f}/"
          f"{result['vote_p99_ms_idle']:.1f} ({result['votes_idle']} votes); 4 workers "
          f"generating {result['vote_p50_ms_during']:.1f}/{result['vote_p99_ms_during']:.1f} "
          f"({result['votes_during']} votes); medians over {repeats} windows of each")  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "generate_quick" if args.quick else "generate"
    name += "_postgres" if args.postgres_url else ""
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2))
    plot(result, RESULTS / f"{name}.png")
    print(f"wrote {RESULTS / (name + '.json')} and {RESULTS / (name + '.png')}")
    print(
        f"RESULT images_per_s_w1={w1:.3f} images_per_s_w4={w4:.3f} scale_w4={w4 / w1:.2f} "
        f"vote_p99_ms_idle={result['vote_p99_ms_idle']:.1f} "
        f"vote_p99_ms_during={result['vote_p99_ms_during']:.1f}"
    )


if __name__ == "__main__":
    main()
