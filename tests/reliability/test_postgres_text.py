"""NUL bytes and lone surrogates in every admin text field, on PostgreSQL (whose text type
refuses NUL): a clean 4xx, never a 500. Found by the soak's schemathesis run (R-PG-1)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.reliability import api
from tests.reliability.findings import finding
from tests.reliability.seed import ADMIN_TOKEN, ARENA, LOAD_ENV, seed_arena

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(600)]
HASH = "ab" * 32
MODELS, PROMPTS = "/api/admin/models", "/api/admin/prompts"

#: (method, path, JSON body) with a NUL byte in one text field each.
NUL_BODIES: dict[str, tuple[str, str, dict[str, object]]] = {
    "arena_name": ("POST", "/api/admin/arenas", {"slug": "nul-arena", "name": "a\x00b"}),
    "model_name": ("POST", "/api/admin/models", {"arena": ARENA, "name": "m\x00n"}),
    "model_organization": (
        "POST", "/api/admin/models", {"arena": ARENA, "name": "org-nul", "organization": "o\x00"}
    ),
    "model_link": ("POST", MODELS, {"arena": ARENA, "name": "link-nul", "link": "l\x00"}),
    "prompt_text": ("POST", "/api/admin/prompts", {"arena": ARENA, "text": "t\x00t"}),
    "prompt_key": ("POST", "/api/admin/prompts", {"arena": ARENA, "text": "ok", "key": "k\x00"}),
    "prompt_source": ("POST", PROMPTS, {"arena": ARENA, "text": "ok2", "source": "s\x00"}),
    "prompt_category": (
        "POST", "/api/admin/prompts", {"arena": ARENA, "text": "ok3", "category": "c\x00"}
    ),
    "ban_reason": ("POST", "/api/admin/voters/ban", {"voter_hash": HASH, "reason": "r\x00"}),
}  # fmt: skip
PINNED: dict[str, str] = {}  # R-PG-1 (NUL in the ban reason) is fixed


@pytest.fixture(scope="module")
def client(module_database_url_factory, module_server_factory) -> Iterator[httpx.Client]:
    """A seeded server on a fresh PostgreSQL database."""
    server = module_server_factory(module_database_url_factory("postgres"), env=LOAD_ENV)
    server.start()
    seed_arena(server.base_url, prompts=1)
    with httpx.Client(base_url=server.base_url, timeout=30.0) as c:
        yield c


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=finding(PINNED[c])) if c in PINNED else c for c in sorted(NUL_BODIES)],
)
def test_nul_byte_in_admin_text_is_a_clean_4xx_on_postgres(client: httpx.Client, case: str) -> None:
    """PostgreSQL cannot store NUL: the API must refuse it with a message, not fail with 500."""
    method, path, body = NUL_BODIES[case]
    response = client.request(method, path, json=body, headers=api.admin_headers(ADMIN_TOKEN))
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]
