"""Fuzzing: schemathesis over every route, with or without admin token: no 5xx, no violation."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability import api
from tests.reliability.conftest import ServerFactory
from tests.reliability.fuzz import run_schemathesis
from tests.reliability.seed import ADMIN_TOKEN, LOAD_ENV, seed_arena

#: Seeded and bounded for CI: a few hundred cases in all; the soak benchmark runs the long version.
SEED = 20261127
MAX_EXAMPLES = 8


@pytest.mark.slow
@pytest.mark.parametrize("with_token", [False, True], ids=["anonymous", "admin-token"])
def test_schemathesis_finds_no_server_error_or_schema_violation(
    with_token: bool, database_url_factory, server_factory: ServerFactory, tmp_path: Path
) -> None:
    """Every operation in the OpenAPI schema answers within its schema and never with a 5xx."""
    server = server_factory(database_url_factory("sqlite"), env=LOAD_ENV)
    server.start()
    seed_arena(server.base_url)
    result = run_schemathesis(
        server.base_url,
        tmp_path / "report",
        label="admin" if with_token else "anonymous",
        seed=SEED,
        max_examples=MAX_EXAMPLES,
        headers=api.admin_headers(ADMIN_TOKEN) if with_token else None,
        log_text=server.log_text,
    )
    assert result.cases > 50, result.output_tail
    assert result.failures == (), result.output_tail
    assert result.errors == (), result.output_tail
    assert result.server_errors == 0, server.log_text()[-4000:]
