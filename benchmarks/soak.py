"""Soak: load with repeated SIGKILLs, long schemathesis runs, the anonymity audit, attackers.

The long versions of tests/reliability/. Against real ``karena serve`` subprocesses on 127.0.0.1:

1. **Crash soak**, per database (SQLite with 1 worker; PostgreSQL with 2 workers when
   ``--postgres-url`` or ``KARENA_TEST_POSTGRES_URL`` is set): a baseline round without faults,
   then rounds that each SIGKILL a worker midway (with one worker: the whole server, then a
   restart), then a round that SIGKILLs the whole server, and a restart. Afterwards the vote log
   is audited: every acknowledged vote stored, none twice, none altered, none invented, and
   ``karena recompute`` equal to the incremental ratings.
2. **Anonymity audit** on the restarted server: outputs whose EXIF / PNG text name their model,
   then a voter's whole pre-vote view (pages, JS, JSON, headers, media) searched for identity.
3. **Attackers** (issue 13), one per finding: a voter who names slots before voting from what
   they serve (hash against the public export and past reveals, length, shape: ``anon_hits``);
   one server-issued cookie firing a burst of votes past its per-voter limit, and one address
   with several server-issued cookies firing a burst past its per-address limit, each on a
   server of its own over the same database with that limit on (``raced_over_limit``: votes
   that landed beyond the limit, summed); parallel chunked bodies of ``body_mb`` MB each (the
   workers' RSS growth, ``rss_growth_mb``); clients that drop the vote export
   (``leaked_tmp_files`` in the server's TMPDIR). Then findings 6 to 11
   (tests/reliability/attackers.py): self-made cookies opening battles together past the battle
   limit (``flood_over_limit``); another site's form POSTed to ``/battle``
   (``csrf_accepted``); unique typed prompts from one address past the live-generation budget,
   on an in-process live server over a fresh database (``cost_over_budget``); a /16 sweep of
   the export's voter hashes with the default salt (``salt_hits``); a banned voter returning
   with new cookies (``ban_dodges``); admin routes with a malformed body and no token
   (``admin_422``: answers not 401); ``karena recompute`` and ``recompute_report`` while votes
   land (``recompute_drift``: reports with a nonzero change). Findings 10 (outages) and 12
   (schema agreement) stay in the tests and the fuzzing.
4. **Fuzzing**: schemathesis over every route, with and without the admin token.

    python benchmarks/soak.py --quick      # < 2 minutes on an idle 2-core machine (SQLite only)
    python benchmarks/soak.py              # the published figures (both databases)

It prints a table, writes benchmarks/results/soak.json and soak.png, and its last line is
``RESULT acked_votes=… stored_votes=… lost_votes=… duplicate_votes=… fuzz_cases=…
server_errors=… identity_leaks=… anon_hits=… raced_over_limit=… rss_growth_mb=…
leaked_tmp_files=… flood_over_limit=… csrf_accepted=… cost_over_budget=… salt_hits=…
ban_dodges=… admin_422=… recompute_drift=…``. Every count but the first three must be 0, except
``rss_growth_mb``, which must stay ≤ 50.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))  # the harness lives in tests/reliability/

import httpx  # noqa: E402
from tests.reliability import api, attackers, hostile  # noqa: E402
from tests.reliability.anonymity import (  # noqa: E402
    collect_battle,
    dimensions_by_model,
    export_hashes,
    find_leaks,
    media_attack,
    size_fingerprints,
    telling_image,
)
from tests.reliability.bounds import body_attack, export_attack  # noqa: E402
from tests.reliability.crash import run_crash_scenario  # noqa: E402
from tests.reliability.databases import fresh_database  # noqa: E402
from tests.reliability.fuzz import count_server_errors, run_schemathesis  # noqa: E402
from tests.reliability.load import LoadReport, run_load  # noqa: E402
from tests.reliability.races import crowd_burst, vote_burst  # noqa: E402
from tests.reliability.seed import ADMIN_TOKEN, ARENA, LOAD_ENV, seed_arena  # noqa: E402
from tests.reliability.server import TEST_VOTER_SALT, ServerProcess  # noqa: E402
from tests.reliability.verify import audit_votes, recompute_matches  # noqa: E402

from karena.store.rate_limits import BATTLES_PER_VOTE  # noqa: E402

ANON_ARENA = "anon"
DIMS_ARENA = "anon-dims"
TELLING_ARENA = "anon-telling"
#: The attackers' race server: one voter may cast this many votes a minute.
RACE_LIMIT = 10
#: The crowd race: one address, this many server-issued cookies, this many votes each, against a
#: per-address limit of ``RACE_ADDRESS_LIMIT`` a minute (per-voter limit off: only it binds).
CROWD_COOKIES = 8
CROWD_VOTES_EACH = 6
RACE_ADDRESS_LIMIT = 24
#: The crowd server's own salt, so its address counter is not the one-cookie race's.
CROWD_SALT = TEST_VOTER_SALT + "-crowd"
#: Finding 6: the flood's address, and the typed-prompt budgets of the cost attack's server.
FLOOD_ADDRESS = "127.0.2.1"
COST_VOTER_BUDGET = 3
COST_ADDRESS_BUDGET = 6
ANON_MODELS = ("ZephyrDiffusionXL", "QuokkaGen", "MarmotImagine", "NarwhalPix", "OcelotArt")
ANON_CLASS = {name: ("png" if i < 3 else "jpeg") for i, name in enumerate(ANON_MODELS)}


@dataclass(frozen=True)
class Mode:
    """How long each part runs."""

    rounds_with_worker_kill: int
    votes_per_round: int
    seconds_per_round: float
    voters: int
    fuzz_examples: int
    fuzz_phases: str
    anon_battles: int
    body_mb: int
    export_drops: int
    race_battles: int
    flood_battles: int
    cost_prompts: int
    recompute_seconds: float


QUICK = Mode(1, 40, 15.0, 4, 3, "fuzzing", 6, 20, 6, 30, 60, 12, 4.0)
FULL = Mode(3, 120, 30.0, 8, 25, "examples,coverage,fuzzing", 24, 300, 20, 36, 120, 30, 10.0)


@dataclass
class DbResult:
    """Everything measured against one database."""

    db: str
    workers: int
    sent: int = 0
    acked: int = 0
    stored: int = 0
    lost: int = 0
    duplicates: int = 0
    altered: int = 0
    phantoms: int = 0
    unanswered: int = 0
    worker_kills: int = 0
    server_kills: int = 0
    restarts: int = 0
    recompute_mismatches: int = 0
    load_5xx: int = 0
    log_5xx: int = 0
    baseline_votes_per_s: float = 0.0
    baseline_p50_ms: float = 0.0
    fault_votes_per_s: float = 0.0
    fault_p50_ms: float = 0.0
    fuzz_cases: int = 0
    fuzz_failures: list[str] = field(default_factory=list)
    fuzz_5xx: int = 0
    identity_leaks: list[str] = field(default_factory=list)
    dimension_fingerprints: int = 0
    anon_hits: list[str] = field(default_factory=list)
    race_fired: int = 0
    race_accepted: int = 0
    crowd_fired: int = 0
    crowd_accepted: int = 0
    raced_over_limit: int = 0
    race_statuses: dict[str, dict[int, int]] = field(default_factory=dict)
    rss_growth_mb: float = 0.0
    leaked_tmp_files: int = 0
    race_5xx: int = 0
    race_unexpected: int = 0
    flood_fired: int = 0
    flood_opened: int = 0
    flood_over_limit: int = 0
    csrf_accepted: int = 0
    cost_fired: int = 0
    cost_accepted: int = 0
    cost_over_budget: int = 0
    salt_hits: int = 0
    salt_control_hits: int = 0
    ban_dodges: int = 0
    admin_probes: int = 0
    admin_422: int = 0
    recompute_reports: int = 0
    recompute_drift: int = 0
    recompute_largest_change: float = 0.0
    abuse_statuses: dict[str, dict[int, int]] = field(default_factory=dict)
    seconds: float = 0.0


def _rate(reports: list[LoadReport]) -> tuple[float, float]:
    """Acknowledged votes per second and the median vote latency over ``reports``."""
    acked = sum(len(r.acked) for r in reports)
    seconds = sum(r.seconds for r in reports)
    latencies = [x for r in reports for x in r.vote_latencies_ms]
    p50 = statistics.median(latencies) if latencies else float("nan")
    return (acked / seconds if seconds > 0 else 0.0), p50


def _anonymity(server: ServerProcess, battles: int, result: DbResult) -> None:
    """Seed an arena whose images name their models in metadata, and audit a voter's view."""

    def image(m: int, p: int, name: str) -> bytes:
        return hostile.image_naming_model(name, ANON_CLASS[name], (50 * p % 256, 90, 160))

    seed_arena(server.base_url, arena=ANON_ARENA, models=ANON_MODELS, prompts=3, image=image)
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        seen = [
            collect_battle(client, arena=ANON_ARENA, voter=f"soak-anon-{i}") for i in range(battles)
        ]
    result.identity_leaks = find_leaks(seen, list(ANON_MODELS)) + size_fingerprints(
        seen, ANON_CLASS
    )

    # Models that render at different native sizes (finding R-ANON-1), in an arena of their own.
    def native(m: int, p: int, name: str) -> bytes:
        side = 32 + 16 * m
        return hostile.png_bytes(size=(side, side), color=(40, 50 * p % 256, 70))

    seed_arena(server.base_url, arena=DIMS_ARENA, models=ANON_MODELS, prompts=2, image=native)
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        sized = [
            collect_battle(client, arena=DIMS_ARENA, voter=f"soak-dims-{i}")
            for i in range(max(4, battles // 3))
        ]
    by_size = dimensions_by_model(sized)
    result.dimension_fingerprints = sum(1 for models in by_size.values() if len(models) == 1)

    # Sizes that differ 10×, a wide aspect, noise: each named its model before (findings 1, 2).
    seed_arena(server.base_url, arena=TELLING_ARENA, models=ANON_MODELS[:4], prompts=2,
               image=telling_image)  # fmt: skip
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        telling = [
            collect_battle(client, arena=TELLING_ARENA, voter=f"soak-tell-{i}")
            for i in range(max(4, battles // 2))
        ]
        arenas = ((ANON_ARENA, seen), (DIMS_ARENA, sized), (TELLING_ARENA, telling))
        for arena, played in arenas:
            result.anon_hits += media_attack(played, export_hashes(client, arena))


def _attacks(server: ServerProcess, url: str, mode: Mode, folder: Path, result: DbResult) -> None:
    """Races, bodies and exports (issue 13, findings 3 to 5)."""
    result.rss_growth_mb = body_attack(
        server.base_url, server.worker_pids(), bodies=3, size=mode.body_mb * 1024 * 1024
    )
    result.leaked_tmp_files = export_attack(
        server.base_url, ARENA, folder / "tmp", drops=mode.export_drops
    )
    limits = {**LOAD_ENV, "KARENA_RATE_LIMIT_PER_MINUTE": str(RACE_LIMIT)}
    racer = ServerProcess(database_url=url, data_dir=folder / "race", workers=server.workers,
                          env=limits)  # fmt: skip
    try:
        racer.start()
        burst = vote_burst(racer.base_url, arena=ARENA, battles=mode.race_battles, limit=RACE_LIMIT)
        # Finding 6: self-made cookies all count as the address voter: its battle limit binds.
        flood = attackers.flood_attack(racer.base_url, ARENA, address=FLOOD_ADDRESS,
                                       fired=mode.flood_battles,
                                       limit=RACE_LIMIT * BATTLES_PER_VOTE)  # fmt: skip
        result.race_5xx += count_server_errors(racer.log_text())
    finally:
        racer.stop()
    result.race_fired, result.race_accepted = burst.fired, burst.accepted
    result.flood_fired, result.flood_opened = flood.fired, flood.landed
    result.flood_over_limit = flood.over
    result.abuse_statuses["battle flood, self-made cookies"] = flood.statuses
    result.race_statuses["one cookie"] = burst.statuses
    crowd_env = {**LOAD_ENV, "KARENA_RATE_LIMIT_PER_ADDRESS_PER_MINUTE": str(RACE_ADDRESS_LIMIT),
                 "KARENA_VOTER_SALT": CROWD_SALT}  # fmt: skip
    crowd_server = ServerProcess(database_url=url, data_dir=folder / "crowd",
                                 workers=server.workers, env=crowd_env)  # fmt: skip
    try:
        crowd_server.start()
        crowd = crowd_burst(crowd_server.base_url, arena=ARENA, cookies=CROWD_COOKIES,
                            battles_each=CROWD_VOTES_EACH, limit=RACE_ADDRESS_LIMIT,
                            salt=CROWD_SALT)  # fmt: skip
        result.race_5xx += count_server_errors(crowd_server.log_text())
    finally:
        crowd_server.stop()
    result.crowd_fired, result.crowd_accepted = crowd.fired, crowd.accepted
    result.race_statuses["one address"] = crowd.statuses
    result.raced_over_limit = burst.over_limit + crowd.over_limit
    # A burst that lands fewer than its limit was refused for something else, which would hide
    # a race: count those answers (anything but 200 or 429) as server errors of the race.
    result.race_unexpected = burst.unexpected + crowd.unexpected


def _abuse(server: ServerProcess, url: str, db: str, mode: Mode, folder: Path,
           result: DbResult) -> None:  # fmt: skip
    """Findings 6 to 11: CSRF on /battle, the cost of typed prompts, the default salt, ban
    dodging, admin bodies before tokens, recompute under votes (the flood is in _attacks)."""
    base = server.base_url
    (result.recompute_reports, result.recompute_drift,
     result.recompute_largest_change) = attackers.recompute_attack(
        base, url, folder / "recompute", ARENA, seconds=mode.recompute_seconds)  # fmt: skip
    csrf = attackers.csrf_attack(base, ARENA, address="127.0.2.2")
    result.csrf_accepted = csrf.landed
    result.abuse_statuses["cross-site form POST /battle"] = csrf.statuses
    result.salt_hits, result.salt_control_hits = attackers.salt_attack(
        base, ARENA, address="127.0.2.3"
    )
    dodge = attackers.ban_dodge_attack(base, ARENA, address="127.0.2.4", admin_token=ADMIN_TOKEN)
    result.ban_dodges = dodge.landed
    result.abuse_statuses["banned voter, new cookies"] = dodge.statuses
    admin = attackers.admin_body_attack(base)
    result.admin_probes, result.admin_422 = admin.fired, admin.landed
    result.abuse_statuses["admin, malformed body, no token"] = admin.statuses
    # The cost guard needs a live arena: an in-process server with the demo's renderers, on a
    # database of its own (its queued jobs must not reach the soak server's generation threads).
    with fresh_database(db, folder / "cost") as cost_url:
        cost = attackers.cost_attack(cost_url, folder / "cost", prompts=mode.cost_prompts,
                                     voter_budget=COST_VOTER_BUDGET,
                                     address_budget=COST_ADDRESS_BUDGET)  # fmt: skip
    result.cost_fired, result.cost_accepted = cost.fired, cost.landed
    result.cost_over_budget = cost.over
    result.race_5xx += sum(n for status, n in cost.statuses.items() if status >= 500)
    result.abuse_statuses["typed prompts, one address"] = cost.statuses


def _fuzz(server: ServerProcess, mode: Mode, seed: int, work: Path, result: DbResult) -> None:
    """Schemathesis without and with the admin token."""
    for label, headers in (("anonymous", None), ("admin", api.admin_headers(ADMIN_TOKEN))):
        fuzz = run_schemathesis(
            server.base_url,
            work / f"fuzz-{result.db}-{label}",
            label=label,
            seed=seed,
            max_examples=mode.fuzz_examples,
            phases=mode.fuzz_phases,
            headers=headers,
            log_text=server.log_text,
            timeout=900,
        )
        result.fuzz_cases += fuzz.cases
        result.fuzz_failures += [f"{label}: {f}" for f in fuzz.failures]
        result.fuzz_failures += [f"{label}: error {e}" for e in fuzz.errors]
        result.fuzz_5xx += fuzz.server_errors


def soak_one(db: str, workers: int, mode: Mode, seed: int, work: Path) -> DbResult:
    """The whole soak against one database."""
    result = DbResult(db=db, workers=workers)
    began = time.monotonic()
    folder = work / db
    folder.mkdir(parents=True)
    with fresh_database(db, folder) as url:
        (folder / "tmp").mkdir()
        env = {**LOAD_ENV, "TMPDIR": str(folder / "tmp")}  # export temp files land here
        server = ServerProcess(database_url=url, data_dir=folder / "server", workers=workers,
                               env=env)  # fmt: skip
        try:
            server.start()
            seed_arena(server.base_url)
            print(f"[{db}] baseline round (no faults)", flush=True)
            baseline = run_load(
                server.base_url, arena=ARENA, max_votes=mode.votes_per_round,
                max_seconds=mode.seconds_per_round, voters=mode.voters, seed=seed,
            )  # fmt: skip
            print(f"[{db}] {mode.rounds_with_worker_kill} rounds with SIGKILL, then a power cut")
            run = run_crash_scenario(
                server,
                votes_per_round=mode.votes_per_round,
                seconds_per_round=mode.seconds_per_round,
                worker_kills=mode.rounds_with_worker_kill,
                voters=mode.voters,
                seed=seed + 1,
            )
            reports = [baseline, *run.reports]
            result.baseline_votes_per_s, result.baseline_p50_ms = _rate([baseline])
            result.fault_votes_per_s, result.fault_p50_ms = _rate(run.reports)
            result.sent = sum(r.sent for r in reports)
            result.load_5xx = sum(r.server_errors for r in reports)
            result.unanswered = sum(len(r.unknown_outcome) for r in reports)
            result.worker_kills, result.server_kills = run.worker_kills, run.server_kills
            result.restarts = run.restarts
            acked = [v for r in reports for v in r.acked]
            maybe = [t for r in reports for t, _ in r.unknown_outcome]
            audit = audit_votes(url, ARENA, acked, maybe=maybe)
            result.acked, result.stored = audit.acked, audit.stored
            result.lost, result.duplicates = len(audit.lost), len(audit.duplicates)
            result.altered, result.phantoms = len(audit.altered), len(audit.phantoms)
            result.recompute_mismatches = len(recompute_matches(url, ARENA))
            print(f"[{db}] anonymity audit over {mode.anon_battles} battles", flush=True)
            _anonymity(server, mode.anon_battles, result)
            print(f"[{db}] attackers: races, {mode.body_mb} MB bodies, dropped exports")
            _attacks(server, url, mode, folder, result)
            print(f"[{db}] attackers: flood, CSRF, cost, salt, ban dodge, admin, recompute")
            _abuse(server, url, db, mode, folder, result)
            print(f"[{db}] schemathesis, {mode.fuzz_phases}, {mode.fuzz_examples}/operation")
            _fuzz(server, mode, seed, work, result)
            result.log_5xx = sum(
                count_server_errors(
                    (server.data_dir / f"serve-{n}.log").read_text(errors="replace")
                )
                for n in range(1, server.starts + 1)
            )
        finally:
            server.stop()
    result.seconds = time.monotonic() - began
    return result


def print_table(results: list[DbResult]) -> None:
    """One column per database."""
    rows = [
        ("workers", "workers"), ("votes sent", "sent"), ("acknowledged (2xx)", "acked"),
        ("stored", "stored"), ("lost", "lost"), ("stored twice", "duplicates"),
        ("altered", "altered"), ("invented", "phantoms"),
        ("answer lost (may be stored)", "unanswered"),
        ("worker SIGKILLs", "worker_kills"), ("server SIGKILLs", "server_kills"),
        ("restarts", "restarts"), ("recompute mismatches", "recompute_mismatches"),
        ("baseline votes/s", "baseline_votes_per_s"), ("baseline p50 ms", "baseline_p50_ms"),
        ("votes/s under faults", "fault_votes_per_s"), ("p50 ms under faults", "fault_p50_ms"),
        ("fuzz cases", "fuzz_cases"), ("fuzz failures", "fuzz_failures"),
        ("5xx (access logs, all parts)", "log_5xx"), ("identity leaks", "identity_leaks"),
        ("image sizes naming a model (R-ANON-1)", "dimension_fingerprints"),
        ("slots named before the vote (R-ANON-2/3)", "anon_hits"),
        ("race, one cookie: votes fired together", "race_fired"),
        (f"race, one cookie: accepted (limit {RACE_LIMIT})", "race_accepted"),
        ("race, one address: votes fired together", "crowd_fired"),
        (f"race, one address: accepted (limit {RACE_ADDRESS_LIMIT})", "crowd_accepted"),
        ("races: accepted over the limit", "raced_over_limit"),
        ("races: answers neither 200 nor 429", "race_unexpected"),
        ("RSS growth, 3 big chunked bodies (MB)", "rss_growth_mb"),
        ("export temp files left", "leaked_tmp_files"),
        ("flood: battles fired, self-made cookies", "flood_fired"),
        (f"flood: opened (limit {RACE_LIMIT * BATTLES_PER_VOTE})", "flood_opened"),
        ("flood: opened over the limit", "flood_over_limit"),
        ("cross-site POST /battle accepted", "csrf_accepted"),
        ("typed prompts fired (one address)", "cost_fired"),
        (f"typed prompts queued (budget {COST_ADDRESS_BUDGET}/address)", "cost_accepted"),
        ("typed prompts over the budget", "cost_over_budget"),
        ("voters named, default salt, /16", "salt_hits"),
        ("voters named, real salt (control)", "salt_control_hits"),
        ("banned voter's votes stored", "ban_dodges"),
        ("admin probes (bad body, no token)", "admin_probes"),
        ("admin probes not 401", "admin_422"),
        ("recompute reports under votes", "recompute_reports"),
        ("recompute reports with drift", "recompute_drift"),
        ("seconds", "seconds"),
    ]  # fmt: skip
    width = 42
    print(f"{'':{width}}" + "".join(f"{r.db:>14}" for r in results))
    for label, key in rows:
        cells = []
        for r in results:
            value = getattr(r, key)
            value = len(value) if isinstance(value, list) else value
            cells.append(f"{value:>14.1f}" if isinstance(value, float) else f"{value:>14}")
        print(f"{label:{width}}" + "".join(cells))
    for r in results:
        for line in r.fuzz_failures + r.identity_leaks + r.anon_hits[:10]:
            print(f"  [{r.db}] {line}")
        for race, statuses in r.race_statuses.items():
            print(f"  [{r.db}] race, {race}: statuses {dict(sorted(statuses.items()))}")
        for attack, statuses in r.abuse_statuses.items():
            print(f"  [{r.db}] {attack}: statuses {dict(sorted(statuses.items()))}")


def plot(results: list[DbResult], path: Path) -> None:
    """Votes acknowledged vs stored per database, and throughput with and without faults."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    names = [f"{r.db}\n{r.workers} worker(s)" for r in results]
    x = range(len(results))
    left.bar([i - 0.2 for i in x], [r.acked for r in results], 0.4, label="acknowledged (2xx)")
    left.bar([i + 0.2 for i in x], [r.stored for r in results], 0.4, label="stored")
    left.set_xticks(list(x), names)
    left.set_title("Votes under SIGKILL: acknowledged vs stored")
    left.legend()
    right.bar([i - 0.2 for i in x], [r.baseline_votes_per_s for r in results], 0.4,
              label="baseline (no faults)")  # fmt: skip
    right.bar([i + 0.2 for i in x], [r.fault_votes_per_s for r in results], 0.4,
              label="rounds with SIGKILL")  # fmt: skip
    right.set_xticks(list(x), names)
    right.set_ylabel("acknowledged votes / s")
    right.set_title("Throughput, same run")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="SQLite only, short (< 2 minutes)")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default=None)
    parser.add_argument("--postgres-url", default=os.environ.get("KARENA_TEST_POSTGRES_URL"))
    parser.add_argument("--seed", type=int, default=20261127)
    args = parser.parse_args()
    mode = QUICK if args.quick else FULL
    db_choice = args.db if args.db is not None else ("sqlite" if args.quick else "both")
    if args.postgres_url:
        os.environ["KARENA_TEST_POSTGRES_URL"] = args.postgres_url
    plan = []
    if db_choice in ("sqlite", "both"):
        plan.append(("sqlite", 1))
    if db_choice in ("postgres", "both"):
        if args.postgres_url:
            plan.append(("postgres", 2))
        else:
            print("PostgreSQL skipped: set --postgres-url or KARENA_TEST_POSTGRES_URL")
    results = []
    with tempfile.TemporaryDirectory(prefix="karena-soak-") as tmp:
        for db, workers in plan:
            results.append(soak_one(db, workers, mode, args.seed, Path(tmp)))
    print_table(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"mode": "quick" if args.quick else "full", "mode_settings": asdict(mode),
               "results": [asdict(r) for r in results]}  # fmt: skip
    (RESULTS / "soak.json").write_text(json.dumps(payload, indent=2))
    with contextlib.suppress(Exception):
        plot(results, RESULTS / "soak.png")
    print(f"wrote {RESULTS / 'soak.json'} and {RESULTS / 'soak.png'}")
    total = {
        "acked_votes": sum(r.acked for r in results),
        "stored_votes": sum(r.stored for r in results),
        "lost_votes": sum(r.lost + r.altered for r in results),
        "duplicate_votes": sum(r.duplicates for r in results),
        "fuzz_cases": sum(r.fuzz_cases for r in results),
        "server_errors": sum(max(r.log_5xx, r.load_5xx + r.fuzz_5xx) + r.race_5xx for r in results),
        # Image sizes that name a model count as leaks too (issue 7: "response sizes that are
        # unique per model"; finding R-ANON-1).
        "identity_leaks": sum(len(r.identity_leaks) + r.dimension_fingerprints for r in results),
        "anon_hits": sum(len(r.anon_hits) for r in results),
        "raced_over_limit": sum(r.raced_over_limit for r in results),
        "rss_growth_mb": round(max((r.rss_growth_mb for r in results), default=0.0), 1),
        "leaked_tmp_files": sum(r.leaked_tmp_files for r in results),
        "flood_over_limit": sum(r.flood_over_limit for r in results),
        "csrf_accepted": sum(r.csrf_accepted for r in results),
        "cost_over_budget": sum(r.cost_over_budget for r in results),
        "salt_hits": sum(r.salt_hits for r in results),
        "ban_dodges": sum(r.ban_dodges for r in results),
        "admin_422": sum(r.admin_422 for r in results),
        "recompute_drift": sum(r.recompute_drift for r in results),
    }
    print("RESULT " + " ".join(f"{k}={v}" for k, v in total.items()))


if __name__ == "__main__":
    main()
