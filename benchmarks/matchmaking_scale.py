"""Matchmaking at scale: time per pick and memory per arena, from 10 to 10,000 models.

For every registered matchmaker (``ucb``, ``random``, ``skill``, ``window``, ``window-ts``) and
N = 10, 100, 1,000 and 10,000 models, with realistic ratings (settled models plus a few
newcomers at the prior) and realistic sparse pair counts (each model has met 50–200 others,
half of them its neighbours in the ranking, as an arena run by a matchmaker looks), it measures:

* **pick time**: median CPU (and wall) milliseconds of one ``select`` on the server's state
  (:class:`~karena.matchmaking.base.MatchState` with ``RatingArrays`` and ``SparsePairCounts``);
* **memory per arena**: bytes held by that state's arrays, and the tracemalloc peak of building
  it from the pair rows.

The baseline, measured in the same run, is the previous O(N²) code, copied verbatim below
(``old_*``): a dense n×n int64 matrix and a tuple of ``Rating`` per arena, summed in full for
every pick. Both are fed the same state and seeds, and their picks are compared (they must be
identical). Finally ``load_match_state`` is timed on a real SQLite database of 10,000 models and
~550k pair rows (and, in full mode with ``KARENA_TEST_POSTGRES_URL`` or ``--postgres-url``, on
PostgreSQL too), against the previous row-by-row loader (also copied below).

    python benchmarks/matchmaking_scale.py --quick   # < 1 minute on 2 cores (baseline N <= 1,000)
    python benchmarks/matchmaking_scale.py           # the published figures

It prints a table, writes benchmarks/results/matchmaking_scale.json and .png, and its last line
is ``RESULT pick_ms_n10000=… mem_mb_n10000=… pick_ms_n100=…`` (the worst matchmaker at each N).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy import special

from karena.matchmaking import MATCHMAKERS, MatchState, make_matchmaker
from karena.matchmaking.base import RatingArrays
from karena.matchmaking.pairs import SparsePairCounts
from karena.rating.types import Rating

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SIZES = (10, 100, 1000, 10_000)
K = 4
GOAL_MS, GOAL_MB = 2.0, 50.0


# --------------------------------------------------------------------------------------------
# The baseline: the matchmaking code before the PairCounts redesign, verbatim but for names
# (karena/matchmaking/{base,ucb,uncertainty,uniform}.py at a579cda). Batched over S arenas;
# the server ran it with S = 1 after converting its tuple of Ratings on every pick.
# --------------------------------------------------------------------------------------------


def old_to_arrays(
    ratings: tuple[Rating, ...],
    pair_counts: np.ndarray,
    busy: frozenset[int],
    disabled: frozenset[int],
) -> dict[str, np.ndarray]:
    n = len(ratings)
    busy_m = np.zeros((1, n), dtype=np.bool_)
    disabled_m = np.zeros((1, n), dtype=np.bool_)
    for what, mask in (("busy", busy_m), ("disabled", disabled_m)):
        for i in busy if what == "busy" else disabled:
            if not 0 <= i < n:
                raise ValueError(f"{what} model index {i} is outside 0..{n - 1}")
            mask[0, i] = True
    return {
        "mu": np.array([[r.mu for r in ratings]], dtype=np.float64),
        "sigma": np.array([[r.sigma for r in ratings]], dtype=np.float64),
        "pair_counts": np.asarray(pair_counts, dtype=np.int64)[None, :, :],
        "busy": busy_m,
        "disabled": disabled_m,
    }


def old_check_k(arrays: dict[str, np.ndarray], k: int) -> None:
    s, n = arrays["mu"].shape
    if arrays["pair_counts"].shape != (s, n, n) or arrays["busy"].shape != (s, n):
        raise ValueError("match arrays have inconsistent shapes")
    enabled = (~arrays["disabled"]).sum(axis=1)
    if int(enabled.min(initial=n)) < k:
        raise ValueError("too few enabled models")
    idle = (~arrays["disabled"] & ~arrays["busy"]).sum(axis=1)
    if int(idle.min(initial=n)) < 1:
        raise ValueError("no pivot")


def old_least_compared_pivot(arrays: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    counts = arrays["pair_counts"].sum(axis=2).astype(np.float64)
    key = counts + 0.5 * rng.random(counts.shape)
    key[arrays["busy"] | arrays["disabled"]] = np.inf
    return np.asarray(np.argmin(key, axis=1), dtype=np.int64)


def old_top_by_score(
    score: np.ndarray, exclude: np.ndarray, count: int, rng: np.random.Generator
) -> np.ndarray:
    s, n = score.shape
    perm = rng.permuted(np.tile(np.arange(n), (s, 1)), axis=1)
    key = np.take_along_axis(np.where(exclude, np.inf, -score), perm, axis=1)
    if count < n:
        part = np.argpartition(key, count - 1, axis=1)[:, :count]
    else:
        part = np.tile(np.arange(n), (s, 1))
    best_first = np.argsort(np.take_along_axis(key, part, axis=1), axis=1, kind="stable")
    chosen = np.take_along_axis(perm, np.take_along_axis(part, best_first, axis=1), axis=1)
    return np.asarray(chosen, dtype=np.int64)


def old_ucb(arrays: dict[str, np.ndarray], k: int, rng: np.random.Generator) -> np.ndarray:
    alpha, c, unmet_value = 1.0, 1.0, 1e12  # UCBMatchmaker() defaults: paper variant
    pivot = old_least_compared_pivot(arrays, rng)
    rows = np.arange(pivot.shape[0])
    score_all = arrays["mu"] - 3.0 * arrays["sigma"]
    skill = -np.abs(score_all - score_all[rows, pivot][:, None])
    n_pair = arrays["pair_counts"][rows, pivot, :].astype(np.float64)
    n_total = arrays["pair_counts"].sum(axis=(1, 2)).astype(np.float64) / 2.0
    log_n = np.log(np.maximum(n_total[:, None], 1.0))
    bonus = alpha * np.sqrt(c * log_n / np.maximum(n_pair, 1.0))
    score = np.where(n_pair <= 0.0, unmet_value + skill, skill + bonus)
    exclude = arrays["disabled"].copy()
    exclude[rows, pivot] = True
    opponents = old_top_by_score(score, exclude, k - 1, rng)
    return np.concatenate([pivot[:, None], opponents], axis=1)


def old_skill(arrays: dict[str, np.ndarray], k: int, rng: np.random.Generator) -> np.ndarray:
    pivot = old_least_compared_pivot(arrays, rng)
    rows = np.arange(pivot.shape[0])
    score_all = arrays["mu"] - 3.0 * arrays["sigma"]
    skill = -np.abs(score_all - score_all[rows, pivot][:, None])
    exclude = arrays["disabled"].copy()
    exclude[rows, pivot] = True
    opponents = old_top_by_score(skill, exclude, k - 1, rng)
    return np.concatenate([pivot[:, None], opponents], axis=1)


def old_random(arrays: dict[str, np.ndarray], k: int, rng: np.random.Generator) -> np.ndarray:
    s, n = arrays["mu"].shape
    rows = np.arange(s)
    key = rng.random((s, n))
    first = np.argmin(np.where(arrays["busy"] | arrays["disabled"], np.inf, key), axis=1)
    key[arrays["disabled"]] = np.inf
    key[rows, first] = np.inf
    rest = np.argpartition(key, k - 2, axis=1)[:, : k - 1] if k - 1 < n else key.argsort(axis=1)
    return np.asarray(np.concatenate([first[:, None], rest], axis=1), dtype=np.int64)


def old_window(
    arrays: dict[str, np.ndarray], k: int, rng: np.random.Generator, order_by: str
) -> np.ndarray:
    explore = 0.3
    mu, sigma, pair_counts = arrays["mu"], arrays["sigma"], arrays["pair_counts"]
    s, n = mu.shape
    rows = np.arange(s)[:, None]
    var = sigma * sigma
    key = mu
    if order_by == "thompson":
        key = mu + sigma * rng.standard_normal((s, n))
    key = np.where(arrays["disabled"], -np.inf, key)
    order = np.argsort(-key, axis=1, kind="stable")
    enabled = (~arrays["disabled"]).sum(axis=1)
    mu_o = mu[rows, order]
    var_o = var[rows, order]
    windows = n - k + 1
    score = np.zeros((s, windows))
    for gap in range(1, k):
        scale = np.sqrt(np.maximum(var_o[:, :-gap] + var_o[:, gap:], 1e-300))
        p = special.ndtr(-np.abs(mu_o[:, :-gap] - mu_o[:, gap:]) / scale)
        met = pair_counts[rows, order[:, :-gap], order[:, gap:]]
        p = p + explore / (1.0 + met)
        width = k - gap
        csum = np.concatenate([np.zeros((s, 1)), np.cumsum(p, axis=1)], axis=1)
        score += csum[:, width : width + windows] - csum[:, :windows]
    valid = np.arange(windows)[None, :] + k <= enabled[:, None]
    score = np.where(valid, score + 1e-12 * rng.random((s, windows)), -np.inf)
    start = np.argmax(score, axis=1)
    members = order[rows, start[:, None] + np.arange(k)[None, :]]
    counts = pair_counts.sum(axis=2)[rows, members].astype(np.float64)
    idle = ~(arrays["busy"][rows, members] | arrays["disabled"][rows, members])
    pivot_key = np.where(idle, counts + 0.5 * rng.random(members.shape), np.inf)
    first = np.argmin(pivot_key, axis=1)
    perm = np.argsort(np.arange(k)[None, :] != first[:, None], axis=1, kind="stable")
    return np.asarray(members[rows, perm], dtype=np.int64)


OLD: dict[str, Callable[[dict[str, np.ndarray], int, np.random.Generator], np.ndarray]] = {
    "ucb": old_ucb,
    "random": old_random,
    "skill": old_skill,
    "window": lambda a, k, rng: old_window(a, k, rng, "mean"),
    "window-ts": lambda a, k, rng: old_window(a, k, rng, "thompson"),
}


class OldState:
    """The old server state: a tuple of Ratings and a dense n×n matrix."""

    def __init__(
        self, mu: np.ndarray, sigma: np.ndarray, pairs: np.ndarray, busy: Any, disabled: Any
    ):
        n = mu.size
        self.ratings = tuple(Rating(float(m), float(s)) for m, s in zip(mu, sigma, strict=True))
        self.pair_counts = np.zeros((n, n), dtype=np.int64)
        a, b, c = pairs
        self.pair_counts[a, b] = c
        self.pair_counts[b, a] = c
        self.busy, self.disabled = frozenset(busy), frozenset(disabled)

    def select(self, name: str, k: int, rng: np.random.Generator) -> tuple[int, ...]:
        arrays = old_to_arrays(self.ratings, self.pair_counts, self.busy, self.disabled)
        old_check_k(arrays, k)
        return tuple(int(i) for i in OLD[name](arrays, k, rng)[0])

    def nbytes(self) -> int:
        tuple_bytes = sys.getsizeof(self.ratings)
        one = self.ratings[0]
        rating_bytes = sys.getsizeof(one) + sys.getsizeof(one.mu) + sys.getsizeof(one.sigma)
        return int(self.pair_counts.nbytes + tuple_bytes + len(self.ratings) * rating_bytes)


# --------------------------------------------------------------------------------------------
# Realistic arenas
# --------------------------------------------------------------------------------------------


def realistic_arena(
    n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray], list[int], list[int]]:
    """Ratings, unique pairs (a < b, count) and busy / disabled models of an n-model arena.

    Ratings: μ = 25 + 4·strength + noise, σ in 0.8..3 for settled models; 2% newcomers sit at
    the prior (25, 25/3). Pairs: each model has met ~50–200 others (all of them when n is small):
    half chosen among its neighbours in the true ranking, half uniformly; each met pair met
    1–10+ times (geometric).
    """
    strength = rng.normal(0.0, 1.0, n)
    sigma = rng.uniform(0.8, 3.0, n)
    mu = 25.0 + 4.0 * strength + rng.normal(0.0, 1.0, n) * sigma / 2
    new = rng.random(n) < 0.02
    mu[new], sigma[new] = 25.0, 25.0 / 3.0
    rank = np.empty(n, dtype=np.int64)
    by_strength = np.argsort(-strength)
    rank[by_strength] = np.arange(n)
    # Each model starts d/2 of its meetings (d ~ U(50, 200), at most n − 1) and receives about
    # as many from others: half with neighbours in the ranking, half with anyone.
    half = np.maximum(np.minimum(rng.integers(50, 201, n), n - 1) // 4, 1)
    src = np.repeat(np.arange(n), 2 * half)
    is_near = np.tile([True, False], src.size // 2 + 1)[: src.size]
    reach = np.repeat(np.maximum(2 * half, 1), 2 * half)
    offset = rng.integers(1, reach + 1) * rng.choice([-1, 1], size=src.size)
    near = by_strength[np.clip(rank[src] + offset, 0, n - 1)]
    far = rng.integers(0, n, size=src.size)
    dst = np.where(is_near, near, far)
    keep = src != dst
    lo, hi = np.minimum(src, dst)[keep], np.maximum(src, dst)[keep]
    times = rng.geometric(0.35, size=lo.size)
    key, inverse = np.unique(lo * n + hi, return_inverse=True)
    count = np.bincount(inverse, weights=times).astype(np.int64)
    pairs = (key // n, key % n, count)
    busy = rng.choice(n, size=min(20, n // 5), replace=False).tolist()
    disabled = rng.choice(n, size=max(n // 20, 0), replace=False).tolist()
    return mu, sigma, pairs, busy, disabled


def new_state(
    mu: np.ndarray,
    sigma: np.ndarray,
    pairs: tuple[np.ndarray, ...],
    busy: list[int],
    disabled: list[int],
) -> MatchState:
    n = mu.size
    counts = SparsePairCounts.from_pairs(n, pairs[0], pairs[1], pairs[2])
    return MatchState(RatingArrays(mu, sigma), counts, frozenset(busy), frozenset(disabled))


def state_nbytes(state: MatchState) -> int:
    """Bytes of the arrays a server arena holds: pair counts, μ, σ and the two masks."""
    arrays = (state.mu, state.sigma, state.busy_mask, state.disabled_mask)
    return int(state.pair_counts.nbytes + sum(a.nbytes for a in arrays))


def traced_peak(build: Callable[[], Any]) -> tuple[Any, int]:
    """What ``build`` returns and the tracemalloc peak (bytes) while it ran."""
    gc.collect()
    tracemalloc.start()
    try:
        value = build()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return value, int(peak)


def time_picks(
    select: Callable[[np.random.Generator], tuple[int, ...]], repeats: int, seed: int
) -> tuple[list[float], list[float], list[tuple[int, ...]]]:
    """CPU and wall seconds of ``repeats`` picks, each with a fresh rng, and the picks."""
    cpu, wall, picks = [], [], []
    select(np.random.default_rng(seed + 10**6))  # warm-up
    for r in range(repeats):
        rng = np.random.default_rng(seed + r)
        w, c = time.perf_counter(), time.thread_time()
        picks.append(select(rng))
        cpu.append(time.thread_time() - c)
        wall.append(time.perf_counter() - w)
    return cpu, wall, picks


def bench_size(n: int, args: argparse.Namespace, with_old: bool) -> list[dict[str, Any]]:
    rng = np.random.default_rng(args.seed + n)
    mu, sigma, pairs, busy, disabled = realistic_arena(n, rng)
    state, build_peak = traced_peak(lambda: new_state(mu, sigma, pairs, busy, disabled))
    build_s = min(_seconds(lambda: new_state(mu, sigma, pairs, busy, disabled)) for _ in range(3))
    old = None
    old_peak = 0
    if with_old:
        old, old_peak = traced_peak(lambda: OldState(mu, sigma, pairs, busy, disabled))
    repeats = args.repeats if n < 10_000 else max(args.repeats // 4, 5)
    old_repeats = max(min(repeats, 5 if n >= 10_000 else repeats), 3)
    rows = []
    for name in MATCHMAKERS:
        mm = make_matchmaker(name)
        cpu, wall, picks = time_picks(lambda g, mm=mm: mm.select(state, K, g), repeats, args.seed)
        row: dict[str, Any] = {
            "n": n,
            "matchmaker": name,
            "pairs": int(pairs[0].size),
            "pick_ms_cpu": statistics.median(cpu) * 1e3,
            "pick_ms_wall": statistics.median(wall) * 1e3,
            "picks_timed": repeats,
            "mem_mb": state_nbytes(state) / 1e6,
            "build_peak_mb": build_peak / 1e6,
            "build_ms": build_s * 1e3,
            "old_pick_ms_cpu": None,
            "old_pick_ms_wall": None,
            "old_mem_mb": None,
            "old_build_peak_mb": None,
            "identical_picks": None,
        }
        if old is not None:
            o_cpu, o_wall, o_picks = time_picks(
                lambda g, name=name, o=old: o.select(name, K, g), old_repeats, args.seed
            )
            row.update(
                old_pick_ms_cpu=statistics.median(o_cpu) * 1e3,
                old_pick_ms_wall=statistics.median(o_wall) * 1e3,
                old_mem_mb=old.nbytes() / 1e6,
                old_build_peak_mb=old_peak / 1e6,
                identical_picks=o_picks == picks[:old_repeats],
            )
        rows.append(row)
        print(
            f"  N={n:>6,} {name:<10} {row['pick_ms_cpu']:8.3f} ms"
            + (f"  (old {row['old_pick_ms_cpu']:.3f} ms)" if old is not None else ""),
            file=sys.stderr,
            flush=True,
        )
    del old
    gc.collect()
    return rows


def _seconds(run: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    run()
    return time.perf_counter() - t0


# --------------------------------------------------------------------------------------------
# load_match_state on a real SQLite database
# --------------------------------------------------------------------------------------------


def old_load_match_state(conn: Any, catalog: Any, now: datetime) -> Any:
    """The previous loader, verbatim but for names: a Python loop over every pair row."""
    from karena.store.arena_cache import _busy_query, _pairs_query, _ratings_query

    index = catalog.index
    prior = catalog.prior()
    ratings = {
        int(mid): Rating(mu, sigma)
        for mid, mu, sigma in conn.execute(_ratings_query(), {"arena": catalog.id})
    }
    n = len(catalog.models)
    counts = np.zeros((n, n), dtype=np.int64)
    for a, b, n_ab in conn.execute(_pairs_query(), {"arena": catalog.id}):
        i, j = index.get(int(a)), index.get(int(b))
        if i is not None and j is not None:
            counts[i, j] = counts[j, i] = n_ab
    busy = {
        index[int(mid)]
        for mid in conn.scalars(_busy_query(), {"arena": catalog.id, "now": now})
        if int(mid) in index
    }
    return (
        tuple(ratings.get(m.id, prior) for m in catalog.models),
        counts,
        frozenset(busy),
        frozenset(j for j, m in enumerate(catalog.models) if not m.enabled),
    )


@contextlib.contextmanager
def database(db: str, tmp: Path, pg_url: str | None) -> Iterator[str]:
    """A database URL: a SQLite file in ``tmp``, or a fresh schema dropped afterwards."""
    if db == "sqlite":
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    import psycopg
    from sqlalchemy.engine import make_url

    assert pg_url is not None
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    dsn = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        url = make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def bench_load(n: int, args: argparse.Namespace, db: str = "sqlite") -> dict[str, Any]:
    """Seed an arena of ``n`` models with realistic pair rows; time both loaders."""
    from sqlalchemy import insert

    from karena.settings import Settings
    from karena.store import Store
    from karena.store.arena_cache import ArenaCache, load_match_state
    from karena.store.models import Model, PairCount, RatingRow

    rng = np.random.default_rng(args.seed)
    mu, sigma, (a, b, c), _, disabled = realistic_arena(n, rng)
    out: dict[str, Any] = {"db": db, "n": n, "pair_rows": int(a.size)}
    with tempfile.TemporaryDirectory() as tmp, database(db, Path(tmp), args.postgres_url) as url:
        settings = Settings(data_dir=Path(tmp), database_url=url)
        store = Store.open(settings)
        try:
            t0 = time.perf_counter()
            store.catalog.create_arena(slug="scale", k=K)
            with store.db.read_conn() as conn:
                arena_id = ArenaCache(1.0).catalog(conn, "scale").id
            now = datetime.now(UTC)
            off = set(disabled)
            with store.db.write_conn() as conn:
                conn.execute(
                    insert(Model.__table__),
                    [
                        {
                            "id": i + 1,
                            "arena_id": arena_id,
                            "name": f"m{i}",
                            "organization": "",
                            "link": "",
                            "enabled": i not in off,
                            "generator": None,
                            "created_at": now,
                        }
                        for i in range(n)
                    ],
                )
                conn.execute(
                    insert(RatingRow.__table__),
                    [
                        {
                            "arena_id": arena_id,
                            "model_id": i + 1,
                            "mu": float(mu[i]),
                            "sigma": float(sigma[i]),
                            "votes": 1,
                            "updated_at": now,
                        }
                        for i in range(n)
                        if i % 50  # a few models without a rating row: they get the prior
                    ],
                )
                conn.execute(
                    insert(PairCount.__table__),
                    [
                        {
                            "arena_id": arena_id,
                            "model_a": int(x) + 1,
                            "model_b": int(y) + 1,
                            "n": int(z),
                        }
                        for x, y, z in zip(a.tolist(), b.tolist(), c.tolist(), strict=True)
                    ],
                )
                conn.exec_driver_sql("UPDATE arenas SET catalog_version = catalog_version + 1")
            out["seed_s"] = time.perf_counter() - t0
            cache = ArenaCache(1.0)
            with store.db.read_conn() as conn:
                catalog = cache.catalog(conn, "scale")
            clock = datetime.now(UTC)
            new_s, old_s = [], []
            for _ in range(args.load_repeats):
                with store.db.read_conn() as conn:
                    w = time.perf_counter()
                    state = load_match_state(conn, catalog, clock)
                    new_s.append(time.perf_counter() - w)
            with store.db.read_conn() as conn:
                state, peak = traced_peak(lambda: load_match_state(conn, catalog, clock))
            out.update(
                new_load_s=statistics.median(new_s),
                new_load_runs=new_s,
                new_load_peak_mb=peak / 1e6,
                new_state_mb=state_nbytes(state) / 1e6,
            )
            for _ in range(args.old_load_repeats):
                with store.db.read_conn() as conn:
                    w = time.perf_counter()
                    ratings, dense, *_ = old_load_match_state(conn, catalog, clock)
                    old_s.append(time.perf_counter() - w)
                ok = np.array_equal(dense, state.pair_counts.to_dense()[0]) and all(
                    r == q for r, q in zip(ratings, state.ratings, strict=True)
                )
                out["same_state"] = bool(ok)
                del dense, ratings
                gc.collect()
            out.update(old_load_s=statistics.median(old_s) if old_s else None, old_load_runs=old_s)
        finally:
            store.close()
    print(
        f"  load_match_state {db} N={n:,}, {out['pair_rows']:,} pair rows: "
        f"{out['new_load_s'] * 1e3:.0f} ms"
        + (f" (old {out['old_load_s'] * 1e3:.0f} ms)" if out["old_load_s"] else ""),
        file=sys.stderr,
    )
    return out


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def worst(rows: list[dict[str, Any]], n: int, key: str) -> dict[str, Any]:
    return max((r for r in rows if r["n"] == n), key=lambda r: r[key])


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = dict(zip(MATCHMAKERS, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False))
    for name in MATCHMAKERS:
        mine = [r for r in rows if r["matchmaker"] == name]
        ns = [r["n"] for r in mine]
        ax_t.plot(ns, [r["pick_ms_cpu"] for r in mine], "o-", color=colors[name], label=name)
        old = [(r["n"], r["old_pick_ms_cpu"]) for r in mine if r["old_pick_ms_cpu"] is not None]
        if old:
            ax_t.plot(*zip(*old, strict=True), "x--", color=colors[name], alpha=0.6)
    ax_t.axhline(GOAL_MS, color="gray", lw=0.8, ls=":")
    ax_t.text(10, GOAL_MS * 1.1, f"goal {GOAL_MS:g} ms", color="gray", fontsize=8)
    ax_t.set(xscale="log", yscale="log", xlabel="models N", ylabel="CPU ms per pick (median)")
    ax_t.set_title("Pick time: new (solid) vs old dense (dashed)")
    ax_t.legend(fontsize=8)
    first = [r for r in rows if r["matchmaker"] == "window-ts"]
    ns = [r["n"] for r in first]
    ax_m.plot(ns, [r["mem_mb"] for r in first], "o-", label="new: state arrays")
    ax_m.plot(ns, [r["build_peak_mb"] for r in first], "s-", label="new: build peak")
    old = [(r["n"], r["old_mem_mb"]) for r in first if r["old_mem_mb"] is not None]
    if old:
        ax_m.plot(*zip(*old, strict=True), "x--", label="old: dense matrix + Ratings")
    dense = np.array(SIZES, dtype=float)
    ax_m.plot(dense, dense**2 * 8 / 1e6, ":", color="gray", label="n² int64 (old, extrapolated)")
    ax_m.axhline(GOAL_MB, color="gray", lw=0.8, ls=":")
    ax_m.text(10, GOAL_MB * 1.15, f"goal {GOAL_MB:g} MB", color="gray", fontsize=8)
    ax_m.set(xscale="log", yscale="log", xlabel="models N", ylabel="MB per arena")
    ax_m.set_title("Memory per arena")
    ax_m.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small run, under a minute")
    parser.add_argument("--repeats", type=int, help="picks timed per cell (full 200, quick 40)")
    parser.add_argument(
        "--old-max-n", type=int, help="largest N for the baseline (10,000; quick 1,000)"
    )
    parser.add_argument(
        "--load-n", type=int, default=10_000, help="models in the load test (0: skip)"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("KARENA_TEST_POSTGRES_URL"),
        help="also time the load on PostgreSQL (full mode; default: $KARENA_TEST_POSTGRES_URL)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.repeats = args.repeats if args.repeats is not None else (40 if args.quick else 200)
    old_max = args.old_max_n if args.old_max_n is not None else (1000 if args.quick else 10_000)
    args.load_repeats = 3 if args.quick else 5
    args.old_load_repeats = 1 if args.quick else 3
    print(
        f"K={K}, {args.repeats} picks per cell (N=10,000: fewer), baseline up to N={old_max:,}",
        file=sys.stderr,
    )

    rows: list[dict[str, Any]] = []
    for n in SIZES:
        rows.extend(bench_size(n, args, with_old=n <= old_max))
    dbs = ["sqlite"] + (["postgres"] if args.postgres_url and not args.quick else [])
    loads = [bench_load(args.load_n, args, db) for db in dbs] if args.load_n else []

    worst_of = {n: worst(rows, n, "pick_ms_cpu")["matchmaker"] for n in SIZES}
    print(
        f"\n{'N':>7} {'matchmaker':<11} {'pairs':>8} {'ms/pick':>8} {'wall ms':>8} "
        f"{'old ms':>9} {'speedup':>8} {'MB':>7} {'build MB':>9} {'old MB':>8} {'same':>5}"
    )
    for r in rows:
        speed = r["old_pick_ms_cpu"] / r["pick_ms_cpu"] if r["old_pick_ms_cpu"] else None
        mark = "*" if worst_of[r["n"]] == r["matchmaker"] else " "
        print(
            f"{r['n']:>7,} {r['matchmaker'] + mark:<11} {r['pairs']:>8,} {r['pick_ms_cpu']:>8.3f} "
            f"{r['pick_ms_wall']:>8.3f} {_fmt(r['old_pick_ms_cpu'], '9.3f'):>9} "
            f"{_fmt(speed, '7.1f') + ('x' if speed else ''):>8} {r['mem_mb']:>7.2f} "
            f"{r['build_peak_mb']:>9.2f} {_fmt(r['old_mem_mb'], '8.1f'):>8} "
            f"{'—' if r['identical_picks'] is None else 'yes' if r['identical_picks'] else 'NO':>5}"
        )
    print(
        "ms/pick: median CPU ms of one select() on the server's sparse state; old: the previous "
        "dense code;\nMB: the state's arrays; build MB: tracemalloc peak building it; "
        "* = the slowest matchmaker at that N (reported on the RESULT line)."
    )
    print("\nWorst matchmaker at each N (the RESULT line reports these):")
    summary = {}
    for n in SIZES:
        w = worst(rows, n, "pick_ms_cpu")
        summary[n] = w
        print(
            f"  N={n:>6,}: {w['matchmaker']:<10} {w['pick_ms_cpu']:.3f} ms/pick, "
            f"{worst(rows, n, 'mem_mb')['mem_mb']:.2f} MB per arena"
        )
    for load in loads:
        old_part = (
            f"; old row-by-row loader {load['old_load_s'] * 1e3:.0f} ms"
            if load["old_load_s"]
            else ""
        )
        same = f"; same state: {'yes' if load.get('same_state') else 'NO'}"
        print(
            f"\nload_match_state, {load['db']}, {load['n']:,} models, {load['pair_rows']:,} pair "
            f"rows: {load['new_load_s'] * 1e3:.0f} ms (peak {load['new_load_peak_mb']:.0f} MB)"
            + old_part
            + (same if "same_state" in load else "")
        )
    result = {
        "pick_ms_n10000": summary[10_000]["pick_ms_cpu"],
        "mem_mb_n10000": worst(rows, 10_000, "mem_mb")["mem_mb"],
        "pick_ms_n100": summary[100]["pick_ms_cpu"],
    }
    goals = {
        "pick_ms_n10000 <= 2": result["pick_ms_n10000"] <= GOAL_MS,
        "mem_mb_n10000 <= 50": result["mem_mb_n10000"] <= GOAL_MB,
        "identical_picks": all(r["identical_picks"] is not False for r in rows),
    }
    print("goals: " + ", ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in goals.items()))
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "mode": "quick" if args.quick else "full",
        "k": K,
        "sizes": list(SIZES),
        "repeats": args.repeats,
        "baseline_max_n": old_max,
        "timing": "median CPU (thread) ms per select(); wall alongside",
        "rows": rows,
        "worst": {
            str(n): {"matchmaker": w["matchmaker"], "pick_ms": w["pick_ms_cpu"]}
            for n, w in summary.items()
        },
        "load": loads,
        "goals": goals,
        "result": result,
    }
    (RESULTS / "matchmaking_scale.json").write_text(json.dumps(payload, indent=2))
    plot(rows, RESULTS / "matchmaking_scale.png")
    print(f"\nwrote {RESULTS / 'matchmaking_scale.json'} and {RESULTS / 'matchmaking_scale.png'}")
    print("RESULT " + " ".join(f"{k}={v:.4g}" for k, v in result.items()))


if __name__ == "__main__":
    main()
