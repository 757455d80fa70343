"""A bounded HTTP load driver that remembers every vote the server acknowledged with a 2xx.

Each simulated voter opens a battle, ranks it and submits the vote. A vote whose submission fails at
the connection level (a worker killed mid-request) is resubmitted with the same token, as a browser
would retry; the server must treat that as idempotent. Every loop is bounded in count and in time.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import numpy as np

from tests.reliability import api


@dataclass(frozen=True, slots=True)
class AckedVote:
    """A vote the server answered with a 2xx: the battle token and the ranks that were sent."""

    token: str
    ranks: tuple[int, ...]
    status: int
    attempts: int


@dataclass
class LoadReport:
    """What the load driver saw: acknowledged votes and every non-2xx outcome by kind."""

    acked: list[AckedVote] = field(default_factory=list)
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    connection_errors: int = 0
    unknown_outcome: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)
    vote_latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def server_errors(self) -> int:
        """Responses with a 5xx status."""
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def record_status(self, status: int) -> None:
        """Count one HTTP status."""
        with self.lock:
            self.statuses[status] += 1


def _vote_with_retries(
    client: httpx.Client,
    arena: str,
    token: str,
    ranks: tuple[int, ...],
    voter: str,
    report: LoadReport,
    retries: int,
) -> None:
    """Submit one vote, resubmitting the same token after connection failures."""
    for attempt in range(1, retries + 2):
        started = time.perf_counter()
        try:
            response = api.submit_rank_vote(
                client, arena=arena, token=token, ranks=ranks, voter=voter
            )
        except httpx.TransportError:
            with report.lock:
                report.connection_errors += 1
            time.sleep(0.05 * attempt)
            continue
        report.record_status(response.status_code)
        if 200 <= response.status_code < 300:
            with report.lock:
                report.vote_latencies_ms.append(1000.0 * (time.perf_counter() - started))
                report.acked.append(AckedVote(token, ranks, response.status_code, attempt))
        return
    with report.lock:  # never answered: the vote may or may not be stored; either is allowed
        report.unknown_outcome.append((token, ranks))


def run_load(
    base_url: str,
    *,
    arena: str,
    max_votes: int,
    max_seconds: float,
    voters: int = 4,
    seed: int = 0,
    retries: int = 4,
    on_progress: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> LoadReport:
    """Cast up to ``max_votes`` votes from ``voters`` threads, stopping after ``max_seconds``.

    ``on_progress(n_sent)`` is called from a worker thread after each vote attempt; the crash tests
    use it to fire a SIGKILL midway. Setting ``stop`` ends the run early.
    """
    report = LoadReport()
    began = time.monotonic()
    deadline = began + max_seconds
    budget = threading.Semaphore(max_votes)

    def voter_loop(index: int) -> None:
        rng = np.random.default_rng([seed, index])
        voter = f"load-voter-{seed}-{index}"
        with httpx.Client(base_url=base_url, timeout=15.0) as client:
            while (
                time.monotonic() < deadline
                and (stop is None or not stop.is_set())
                and budget.acquire(blocking=False)
            ):
                try:
                    battle = api.create_battle(client, arena=arena, voter=voter)
                except httpx.TransportError:
                    with report.lock:
                        report.connection_errors += 1
                    budget.release()
                    time.sleep(0.05)
                    continue
                except api.ApiError as exc:
                    report.record_status(exc.status)
                    budget.release()
                    time.sleep(0.05)
                    continue
                ranks = tuple(int(r) for r in rng.permutation(battle.k) + 1)
                with report.lock:
                    report.sent += 1
                    sent = report.sent
                _vote_with_retries(client, arena, battle.token, ranks, voter, report, retries)
                if on_progress is not None:
                    on_progress(sent)

    threads = [threading.Thread(target=voter_loop, args=(i,), daemon=True) for i in range(voters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max_seconds + 60)
    report.seconds = time.monotonic() - began
    return report
