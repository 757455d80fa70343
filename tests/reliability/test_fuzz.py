"""Fuzzing: schemathesis over every route, with or without admin token: no 5xx, no violation."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability import api
from tests.reliability.conftest import ServerFactory
from tests.reliability.fuzz import run_schemathesis
from tests.reliability.seed import ADMIN_TOKEN, LOAD_ENV, seed_arena
from tests.reliability.server import ServerProcess

#: Seeded and bounded for CI (a few hundred cases per run); soak.py runs the long version.
SEED = 20261127
MAX_EXAMPLES = 12
PHASES = "examples,fuzzing"


@pytest.fixture(scope="module")
def server(module_database_url_factory, module_server_factory: ServerFactory) -> ServerProcess:
    """One seeded server for both fuzz runs."""
    srv = module_server_factory(module_database_url_factory("sqlite"), env=LOAD_ENV)
    srv.start()
    seed_arena(srv.base_url)
    return srv


@pytest.mark.slow
@pytest.mark.parametrize("with_token", [False, True], ids=["anonymous", "admin-token"])
def test_schemathesis_finds_no_server_error_or_schema_violation(
    server: ServerProcess, with_token: bool, tmp_path: Path
) -> None:
    """Every operation in the OpenAPI schema answers within its schema and never with a 5xx."""
    result = run_schemathesis(
        server.base_url,
        tmp_path / "report",
        label="admin" if with_token else "anonymous",
        seed=SEED,
        max_examples=MAX_EXAMPLES,
        phases=PHASES,
        headers=api.admin_headers(ADMIN_TOKEN) if with_token else None,
        log_text=server.log_text,
    )
    assert result.cases > 100, result.output_tail
    assert result.failures == (), result.output_tail
    assert result.errors == (), result.output_tail
    assert result.server_errors == 0, server.log_text()[-4000:]


def test_non_utf8_json_body_gets_a_documented_status(server: ServerProcess) -> None:
    """A JSON body that is not UTF-8 is answered with a status the schema documents (R-WEB-3)."""
    import httpx

    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        documented = client.get("/openapi.json").json()["paths"]["/api/battles"]["post"]
        response = client.post(
            "/api/battles",
            content=b"\xffY\x7f\xfa",
            headers={"Content-Type": "application/json"},
        )
    assert str(response.status_code) in documented["responses"], response.text


def test_r_schema_12_schema_valid_requests_are_accepted(
    server: ServerProcess, tmp_path: Path
) -> None:
    """Issue 13, finding 12, with schemathesis' acceptance checks on the three operations it
    named: an empty upload (now schema-invalid: minLength 1), a link with U+0086 (now refused
    by the schema's pattern too) and a typed prompt on an arena without live models (now 409,
    declared)."""
    result = run_schemathesis(
        server.base_url,
        tmp_path / "report",
        label="acceptance",
        seed=SEED,
        max_examples=MAX_EXAMPLES,
        phases="coverage,fuzzing",
        headers=api.admin_headers(ADMIN_TOKEN),
        log_text=server.log_text,
        checks=("positive_data_acceptance", "negative_data_rejection", "not_a_server_error",
                "status_code_conformance"),
        include_path_regex="^/api/admin/outputs$|^/api/admin/models$|^/api/battles$",
    )  # fmt: skip
    assert result.cases > 50, result.output_tail
    assert result.failures == (), result.output_tail
    assert result.errors == (), result.output_tail
    assert result.server_errors == 0, server.log_text()[-4000:]


def test_family_routes_pass_every_schemathesis_check(server: ServerProcess, tmp_path: Path) -> None:
    """``--checks all`` on the variant-family admin routes (issue 13 follow-up): a PATCH on
    ``/models/{name}/parent`` is 405 with ``Allow: PUT`` (not swallowed by the ``{name:path}``
    PATCH route), ``/arenas/{slug}/paired`` refuses what its schema calls invalid, and a parent
    cycle answers a declared 409."""
    result = run_schemathesis(
        server.base_url,
        tmp_path / "report",
        label="families",
        seed=SEED,
        max_examples=MAX_EXAMPLES,
        phases="examples,coverage,fuzzing",
        headers=api.admin_headers(ADMIN_TOKEN),
        log_text=server.log_text,
        checks=("all",),
        include_path_regex="^/api/admin/models/[^/]+/parent$|^/api/admin/arenas/[^/]+/paired$",
    )
    assert result.cases > 20, result.output_tail
    assert result.failures == (), result.output_tail
    assert result.errors == (), result.output_tail
    assert result.server_errors == 0, server.log_text()[-4000:]
