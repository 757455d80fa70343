"""Issue 13 in the app: signed voter cookies, the /battle form's CSRF guard, the live cost guard.

Real app, real database, real demo renderers as live generators (FastAPI's TestClient).
"""

from __future__ import annotations

import contextlib

import pytest

from karena.errors import Conflict
from karena.store.lookups import prompt_key_for
from karena.web.deps import (
    VOTER_COOKIE,
    form_token_for,
    sign_voter_id,
    verified_voter_id,
)
from tests.web.conftest import AppFactory, ArenaApp, demo_png, page_form_token


def _salt(app: ArenaApp) -> str:
    return app.settings.voter_salt.get_secret_value()


def _prompts(app: ArenaApp) -> int:
    return app.store.catalog.list_prompts(arena="demo").total


# -- signed cookies (R-COOKIE-3) ----------------------------------------------------------------


def test_voter_cookie_is_signed_and_only_the_server_can_make_one() -> None:
    cookie = sign_voter_id("secret", "ab" * 16)
    assert verified_voter_id("secret", cookie) == "ab" * 16
    assert verified_voter_id("other-secret", cookie) is None
    tampered = "cd" * 16 + cookie[32:]
    for bad in (tampered, "ab" * 16, cookie[:-1], cookie + "0", "", "x" * 65, None):
        assert verified_voter_id("secret", bad) is None


def test_server_replaces_a_self_made_cookie_with_a_signed_one(arena_app: ArenaApp) -> None:
    """R-COOKIE-3: the server issues the cookie; a self-made one is treated as no cookie."""
    arena_app.client.cookies.set(VOTER_COOKIE, "ab" * 16)
    response = arena_app.client.post("/api/battles", json={})
    assert response.status_code == 201
    issued = response.cookies.get(VOTER_COOKIE)
    assert issued is not None and verified_voter_id(_salt(arena_app), issued) is not None
    arena_app.client.cookies.clear()
    arena_app.client.cookies.set(VOTER_COOKIE, issued)
    again = arena_app.client.post("/api/battles", json={})
    assert again.status_code == 201 and VOTER_COOKIE not in again.cookies  # kept, not replaced


# -- the /battle form (R-CSRF-6) ----------------------------------------------------------------


def test_cross_site_form_post_to_battle_is_refused(arena_app: ArenaApp) -> None:
    """R-CSRF-6: another site's form (no token, a foreign token or a foreign Origin) opens
    nothing; our own page's form works."""
    token = page_form_token(arena_app)
    before = _prompts(arena_app)
    body = {"arena": "demo", "prompt": "two red circles"}
    salt = _salt(arena_app)
    foreign = form_token_for(salt, "ef" * 16)  # a token some other browser was shown
    for data, headers in (
        (body, {"origin": "http://evil.example"}),
        (body, {}),
        ({**body, "csrf": foreign}, {}),
        ({**body, "csrf": token}, {"origin": "http://evil.example"}),
    ):
        refused = arena_app.client.post(
            "/battle", data=data, headers=headers, follow_redirects=False
        )
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]
    assert _prompts(arena_app) == before  # no prompt stored, nothing generated
    ok = arena_app.client.post(
        "/battle",
        data={**body, "csrf": token},
        headers={"origin": "http://testserver"},
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"].startswith("/battle/")


def test_vote_page_form_carries_the_token_of_the_cookie_it_sets(make_app: AppFactory) -> None:
    """A first visit (no cookie yet) gets a form whose token matches the cookie it is given."""
    from fastapi.testclient import TestClient

    from karena.web.app import create_app

    base = make_app()
    app = create_app(base.settings, store=base.store, live_arenas=frozenset({"demo"}))
    with TestClient(app) as client:
        page = client.get("/", headers={"accept": "text/html"})
        voter = verified_voter_id(_salt(base), client.cookies.get(VOTER_COOKIE))
        assert voter is not None
        assert f'name="csrf" value="{form_token_for(_salt(base), voter)}"' in page.text


# -- the cost guard of live generation (R-COST-6) ----------------------------------------------


def test_typed_prompts_over_the_voter_budget_get_429(make_app: AppFactory) -> None:
    """R-COST-6: a voter may make 2 typed prompts an hour that need generation; the third gets
    a clear 429 with Retry-After; a prompt whose outputs all exist costs nothing; the budget
    refills."""
    app = make_app(live_generations_per_voter_per_hour=2)
    app.client.cookies.set(VOTER_COOKIE, sign_voter_id(_salt(app), "12" * 16))

    def typed(prompt: str) -> object:
        return app.client.post("/api/battles", json={"arena": "demo", "prompt": prompt})

    # Outputs to make: queued (202), each taking one unit of the voter's budget.
    assert typed("two red circles").status_code == 202
    assert typed("three blue squares").status_code == 202
    before = _prompts(app)
    over = typed("four green triangles")
    assert over.status_code == 429  # type: ignore[attr-defined]
    assert "too many new prompts" in over.json()["error"]  # type: ignore[attr-defined]
    assert 1 <= int(over.headers["retry-after"]) <= 3600  # type: ignore[attr-defined]
    assert _prompts(app) == before  # refused before anything was stored or generated
    # Every model gets its output for the first prompt: typing it again generates nothing.
    key = prompt_key_for("two red circles")
    for model in app.arena.models:
        with contextlib.suppress(Conflict):  # the two it was generated for already have one
            app.store.catalog.add_output(
                arena="demo", model=model.name, prompt_key=key,
                data=demo_png(model.name, "two red circles"),
            )  # fmt: skip
    assert typed("two red circles").status_code == 201  # nothing to generate: free
    app.clock.advance(3600 + 600)
    assert typed("four green triangles").status_code == 202


def test_typed_prompts_over_the_global_budget_get_429(make_app: AppFactory) -> None:
    """R-COST-6: the arena's hourly budget holds whoever asks (fresh voters, fresh cookies)."""
    app = make_app(live_generations_per_hour=2)
    statuses = []
    for i, prompt in enumerate(("two red circles", "three blue squares", "one red square")):
        app.client.cookies.clear()
        app.client.cookies.set(VOTER_COOKIE, sign_voter_id(_salt(app), f"{i:032x}"))
        response = app.client.post("/api/battles", json={"arena": "demo", "prompt": prompt})
        statuses.append(response.status_code)
    assert statuses == [202, 202, 429]  # queued, queued, over the arena's budget
    assert "budget" in response.json()["error"]


@pytest.mark.parametrize("per_minute", [1])
def test_vote_page_over_the_battle_limit_is_a_429_page(
    make_app: AppFactory, per_minute: int
) -> None:
    """A browser that reloads the vote page past its battle limit gets a 429 with Retry-After."""
    app = make_app(rate_limit_per_minute=per_minute)
    statuses = [app.client.get("/", headers={"accept": "text/html"}) for _ in range(6)]
    assert [r.status_code for r in statuses[:4]] == [200] * 4
    assert statuses[-1].status_code == 429
    assert 1 <= int(statuses[-1].headers["retry-after"]) <= 60
    assert "too many new battles" in statuses[-1].text
