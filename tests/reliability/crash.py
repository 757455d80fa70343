"""The crash scenario shared by the tests and the soak benchmark.

Load a real server, SIGKILL a worker midway (with one worker: the whole server, then restart),
then SIGKILL the whole server in a second round of load, restart it, and audit the database.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from tests.reliability import api
from tests.reliability.load import AckedVote, LoadReport, run_load
from tests.reliability.seed import ARENA
from tests.reliability.server import ServerProcess


@dataclass
class CrashRun:
    """Everything a crash scenario did and saw."""

    reports: list[LoadReport] = field(default_factory=list)
    worker_kills: int = 0
    server_kills: int = 0
    restarts: int = 0

    @property
    def acked(self) -> list[AckedVote]:
        """Every acknowledged vote of every round."""
        return [vote for report in self.reports for vote in report.acked]

    @property
    def maybe_tokens(self) -> list[str]:
        """Votes sent whose answer never came back: storing them is allowed, not required."""
        return [token for report in self.reports for token, _ in report.unknown_outcome]

    @property
    def server_errors(self) -> int:
        """5xx answers across all rounds."""
        return sum(report.server_errors for report in self.reports)

    @property
    def sent(self) -> int:
        """Votes sent across all rounds."""
        return sum(report.sent for report in self.reports)


def _kill_at(
    threshold: int, action: Callable[[], object]
) -> tuple[threading.Event, Callable[[int], None]]:
    """A progress hook that runs ``action`` once, when ``threshold`` votes have been sent."""
    fired = threading.Event()
    lock = threading.Lock()

    def hook(sent: int) -> None:
        if sent < threshold or fired.is_set():
            return
        with lock:
            if fired.is_set():
                return
            fired.set()
        action()

    return fired, hook


def run_crash_scenario(
    server: ServerProcess,
    *,
    votes_per_round: int,
    seconds_per_round: float,
    worker_kills: int = 1,
    voters: int = 4,
    seed: int = 0,
) -> CrashRun:
    """Round 1..n: load while SIGKILLing one worker; last round: SIGKILL everything; restart."""
    run = CrashRun()
    for round_index in range(worker_kills):
        if server.workers > 1:

            def kill_worker() -> None:
                server.kill_worker()
                run.worker_kills += 1

            action = kill_worker
        else:
            action = server.kill_all
        fired, hook = _kill_at(votes_per_round // 2, action)
        report = run_load(
            server.base_url,
            arena=ARENA,
            max_votes=votes_per_round,
            max_seconds=seconds_per_round,
            voters=voters,
            seed=seed * 1000 + round_index,
            on_progress=hook,
            # With one worker the kill takes the whole server down: stop, restart, go on.
            stop=fired if server.workers == 1 else None,
        )
        run.reports.append(report)
        if server.workers == 1 and fired.is_set():
            run.server_kills += 1
            server.stop()
            server.start()
            run.restarts += 1
        else:
            server.wait_workers(server.workers)
    # After the final kill nobody listens until the restart: stop the voters at once.
    fired, hook = _kill_at(votes_per_round // 2, server.kill_all)
    report = run_load(
        server.base_url,
        arena=ARENA,
        max_votes=votes_per_round,
        max_seconds=seconds_per_round,
        voters=voters,
        seed=seed * 1000 + 999,
        on_progress=hook,
        retries=1,
        stop=fired,
    )
    run.reports.append(report)
    if fired.is_set():
        run.server_kills += 1
    server.stop()
    server.start()
    run.restarts += 1
    return run


def vote_once_after_restart(server: ServerProcess) -> tuple[int, str]:
    """Open a battle and vote on the restarted server; return the HTTP status and the token."""
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        battle = api.create_battle(client, arena=ARENA, voter="after-restart")
        ranks = tuple(range(1, battle.k + 1))
        response = api.submit_rank_vote(
            client, arena=ARENA, token=battle.token, ranks=ranks, voter="after-restart"
        )
        return response.status_code, battle.token
