"""Fuzzing: schemathesis over every route, with or without admin token: no 5xx, no violation."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from tests.reliability import api
from tests.reliability.conftest import ServerFactory
from tests.reliability.findings import finding
from tests.reliability.fuzz import run_schemathesis
from tests.reliability.seed import ADMIN_TOKEN, LOAD_ENV, seed_arena
from tests.reliability.server import ServerProcess

#: Seeded and bounded for CI (a few hundred cases per run); soak.py runs the long version.
SEED = 20261127
MAX_EXAMPLES = 12
PHASES = "examples,fuzzing"
#: Failures already filed in /work/notes/reliability-findings.md, by schemathesis code. Each is
#: tolerated (with a warning) only on the operations listed; anything else fails the test.
_JSON_BODY_ROUTES = frozenset(
    {
        "POST /api/battles",
        "POST /api/battles/{token}/vote",
        "POST /api/admin/arenas",
        "POST /api/admin/models",
        "POST /api/admin/prompts",
        "PATCH /api/admin/models/{name}",
        "POST /api/admin/voters/ban",
    }
)
KNOWN_FAILURES: dict[str, tuple[str, frozenset[str]]] = {"ST103": ("R-WEB-3", _JSON_BODY_ROUTES)}


@pytest.fixture(scope="module")
def server(module_database_url_factory, module_server_factory: ServerFactory) -> ServerProcess:
    """One seeded server for both fuzz runs."""
    srv = module_server_factory(module_database_url_factory("sqlite"), env=LOAD_ENV)
    srv.start()
    seed_arena(srv.base_url)
    return srv


def unexpected_failures(failures: tuple[str, ...]) -> list[str]:
    """Failures not covered by a filed finding (those are reported as warnings)."""
    left = []
    for failure in failures:
        code, _, rest = failure.partition(" ")
        operations = {op.strip() for op in rest.split(":", 1)[-1].split(",")}
        known = KNOWN_FAILURES.get(code)
        if known is not None and operations <= known[1]:
            warnings.warn(f"known finding {known[0]} still open: {failure}", stacklevel=2)
            continue
        left.append(failure)
    return left


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
    assert unexpected_failures(result.failures) == [], result.output_tail
    assert result.errors == (), result.output_tail
    assert result.server_errors == 0, server.log_text()[-4000:]


@finding("R-WEB-3")
def test_non_utf8_json_body_gets_a_documented_status(server: ServerProcess) -> None:
    """A JSON body that is not UTF-8 is answered with a status the schema documents."""
    import httpx

    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        documented = client.get("/openapi.json").json()["paths"]["/api/battles"]["post"]
        response = client.post(
            "/api/battles",
            content=b"\xffY\x7f\xfa",
            headers={"Content-Type": "application/json"},
        )
    assert str(response.status_code) in documented["responses"], response.text
