"""The soak's attackers for issue 13, findings 6 to 11 (tests/reliability/attackers.py), against
real servers: each finds nothing where the server holds, and counts what it would find where
the count could be wrong (a limit the attacker is told is lower, the control salt)."""

from __future__ import annotations

from pathlib import Path

import pytest

from karena.store.rate_limits import BATTLES_PER_VOTE
from tests.reliability import attackers
from tests.reliability.conftest import DatabaseFactory, ServerFactory
from tests.reliability.seed import ADMIN_TOKEN, ARENA, LOAD_ENV, seed_arena
from tests.reliability.server import ServerProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(
    module_database_url_factory: DatabaseFactory, module_server_factory: ServerFactory
) -> ServerProcess:
    """A seeded SQLite server with the load's settings (no vote limits) and an admin token."""
    srv = module_server_factory(module_database_url_factory("sqlite"), env=LOAD_ENV)
    srv.start()
    seed_arena(srv.base_url)
    return srv


def test_flood_opens_exactly_the_battle_limit(
    database_url_factory: DatabaseFactory, server_factory: ServerFactory
) -> None:
    """Votes 3 a minute, so battles 12: 20 self-made cookies fired together open 12."""
    srv = server_factory(database_url_factory("sqlite"),
                         env={**LOAD_ENV, "KARENA_RATE_LIMIT_PER_MINUTE": "3"})  # fmt: skip
    srv.start()
    seed_arena(srv.base_url)
    limit = 3 * BATTLES_PER_VOTE
    flood = attackers.flood_attack(srv.base_url, ARENA, address="127.0.2.31", fired=20,
                                   limit=limit)  # fmt: skip
    assert (flood.landed, flood.over, flood.statuses) == (limit, 0, {201: limit, 429: 20 - limit})
    # Told a lower limit than the server's, the attacker reports the difference as over.
    again = attackers.flood_attack(srv.base_url, ARENA, address="127.0.2.32", fired=20, limit=5)
    assert again.over == limit - 5


def test_csrf_admin_and_ban_dodge_find_nothing(server: ServerProcess) -> None:
    csrf = attackers.csrf_attack(server.base_url, ARENA, address="127.0.2.33")
    assert (csrf.fired, csrf.landed, csrf.statuses) == (4, 0, {403: 4})
    admin = attackers.admin_body_attack(server.base_url)
    assert admin.fired >= 9 and admin.landed == 0 and set(admin.statuses) == {401}
    dodge = attackers.ban_dodge_attack(server.base_url, ARENA, address="127.0.2.34",
                                       admin_token=ADMIN_TOKEN)  # fmt: skip
    assert (dodge.fired, dodge.landed) == (3, 0) and set(dodge.statuses) == {403}


def test_salt_sweep_names_nobody_but_the_control_names_the_voter(server: ServerProcess) -> None:
    hits, control = attackers.salt_attack(server.base_url, ARENA, address="127.0.2.35")
    assert hits == 0
    assert control >= 1  # with the server's real salt the same sweep finds 127.0.2.35


def test_recompute_under_votes_reports_no_drift(server: ServerProcess, tmp_path: Path) -> None:
    reports, drifting, largest = attackers.recompute_attack(
        server.base_url, server.database_url, tmp_path, ARENA, seconds=3.0
    )
    assert reports >= 2 and (drifting, largest) == (0, 0.0)


def test_typed_prompts_stop_at_the_budget(tmp_path: Path) -> None:
    """Budgets 2 a voter, 4 an address: 5 prompts of one cookie queue 2, then 5 self-made
    cookies from the same address queue the address's last 2."""
    from tests.reliability.databases import sqlite_url

    cost = attackers.cost_attack(sqlite_url(tmp_path / "cost.db"), tmp_path, prompts=5,
                                 voter_budget=2, address_budget=4)  # fmt: skip
    assert (cost.fired, cost.landed, cost.over) == (10, 4, 0)
    assert cost.statuses == {202: 4, 429: 6}
