"""Crash: SIGKILL workers and the whole server under load; no acknowledged vote may be lost."""

from __future__ import annotations

import pytest

from tests.reliability.conftest import ServerFactory
from tests.reliability.crash import run_crash_scenario, vote_once_after_restart
from tests.reliability.seed import ARENA, LOAD_ENV, seed_arena
from tests.reliability.verify import audit_votes, recompute_matches

#: Server starts dominate; on a crowded machine they are slow, so allow more than the default.
pytestmark = pytest.mark.timeout(900)
#: CI-sized: a few hundred votes at most, bounded in time too.
VOTES_PER_ROUND = 40
SECONDS_PER_ROUND = 25.0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "workers"),
    [pytest.param("postgres", 2, marks=pytest.mark.postgres), ("sqlite", 1)],
    ids=["postgres-2-workers", "sqlite-1-worker"],
)
def test_acknowledged_votes_survive_sigkill(
    kind: str, workers: int, database_url_factory, server_factory: ServerFactory
) -> None:
    """Every 2xx vote is stored exactly once, ratings equal a replay, and the server restarts."""
    url = database_url_factory(kind)
    server = server_factory(url, workers=workers, env=LOAD_ENV)
    server.start()
    seed_arena(server.base_url)

    run = run_crash_scenario(
        server, votes_per_round=VOTES_PER_ROUND, seconds_per_round=SECONDS_PER_ROUND
    )

    assert run.server_kills >= 1, "the final SIGKILL never fired: the load ended too early"
    if workers > 1:
        assert run.worker_kills == 1
    assert len(run.acked) > VOTES_PER_ROUND // 2, "too few votes acknowledged to prove anything"
    assert run.server_errors == 0, [r.statuses for r in run.reports]
    # The restarted server works: it answers and takes a vote.
    status, extra_token = vote_once_after_restart(server)
    assert status == 200
    assert "Traceback" not in server.log_text()
    server.stop()

    audit = audit_votes(url, ARENA, run.acked, maybe=[*run.maybe_tokens, extra_token])
    assert audit.lost == ()
    assert audit.duplicates == ()
    assert audit.altered == ()
    assert audit.phantoms == ()
    assert recompute_matches(url, ARENA) == []
