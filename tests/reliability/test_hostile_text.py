"""Hostile text: long prompts, control characters, ``<script>``, and Unicode model names.

Each input is either refused with a 4xx and a message, or stored and shown escaped everywhere;
never a 5xx, never raw markup in a page.
"""

from __future__ import annotations

import html
import itertools
import unicodedata
from urllib.parse import quote

import httpx
import pytest

from tests.reliability import api, hostile
from tests.reliability.seed import ADMIN_TOKEN, ARENA, add_model, add_prompt, upload_output

_keys = itertools.count()
RAW_MARKUP = (b"<script>alert(", b"<img src=x onerror", b"onerror=alert(1)>")


def _no_raw_markup(body: bytes) -> list[bytes]:
    return [m for m in RAW_MARKUP if m in body]


def _outputs_for_prompt(client: httpx.Client, key: str) -> None:
    """Give every model of the arena an output for ``key`` so battles can show the prompt."""
    for name in ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot"):
        r = upload_output(client, arena=ARENA, model=name, prompt_key=key, data=hostile.png_bytes())
        assert r.status_code == 201, r.text


@pytest.mark.parametrize("case", sorted(hostile.HOSTILE_PROMPTS))
def test_admin_prompt_is_refused_or_escaped(shared_client: httpx.Client, case: str) -> None:
    """A hostile prompt is refused with 4xx, or stored and rendered escaped in the vote page."""
    text = hostile.HOSTILE_PROMPTS[case]
    key = f"text-{case}-{next(_keys)}"
    response = add_prompt(shared_client, key=key, text=text)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.json()["error"], response.text
        return
    stored = response.json()["text"]
    assert "\x00" not in stored  # NUL never reaches storage
    _outputs_for_prompt(shared_client, key)
    for _ in range(40):  # bounded: find a battle that shows this prompt
        battle = api.create_battle(shared_client, arena=ARENA, voter=f"reader-{case}")
        if battle.prompt == stored:
            break
    else:
        pytest.fail("no battle showed the new prompt in 40 tries")
    page = shared_client.get(f"/battle/{battle.token}", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert _no_raw_markup(page.content) == []
    if "<script>" in stored:
        assert html.escape("<script>", quote=False).encode() in page.content


def test_voter_typed_prompt_too_long_is_refused(shared_client: httpx.Client) -> None:
    """A typed prompt over the limit gets 422 before any work."""
    body = {"arena": ARENA, "prompt": hostile.HOSTILE_PROMPTS["very_long"]}
    response = shared_client.post("/api/battles", json=body, headers=api.voter_cookie("typist"))
    assert response.status_code == 422, response.text
    assert response.json()["error"]


@pytest.mark.parametrize("case", ["script_tag", "control_chars", "img_onerror"])
def test_voter_typed_hostile_prompt_gets_a_clean_4xx(
    shared_client: httpx.Client, case: str
) -> None:
    """Typed prompts need live generators; without them the answer is a clear 4xx, not a 500."""
    body = {"arena": ARENA, "prompt": hostile.HOSTILE_PROMPTS[case]}
    response = shared_client.post("/api/battles", json=body, headers=api.voter_cookie("typist"))
    assert 400 <= response.status_code < 500, response.text
    assert _no_raw_markup(response.content) == []
    form = shared_client.post(
        "/battle",
        data={"arena": ARENA, "prompt": hostile.HOSTILE_PROMPTS[case]},
        headers={"Accept": "text/html", **api.voter_cookie("typist")},
    )
    assert 400 <= form.status_code < 500, form.text
    assert _no_raw_markup(form.content) == []


@pytest.mark.parametrize("case", sorted(hostile.UNICODE_MODEL_NAMES))
def test_unicode_model_name_is_refused_or_round_trips_escaped(
    shared_client: httpx.Client, case: str
) -> None:
    """Odd names are refused with 4xx, or stored exactly and shown escaped on every page."""
    name = hostile.UNICODE_MODEL_NAMES[case]
    response = add_model(shared_client, name=name)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.json()["error"], response.text
        return
    stored = response.json()["name"]
    assert "\x00" not in stored and stored.strip() != ""
    assert (
        unicodedata.normalize("NFC", stored) == unicodedata.normalize("NFC", name.strip())
        or stored == name
    )
    for which in ("batch", "online"):  # the new model shows on the online board at once
        board = shared_client.get(
            "/leaderboard", params={"arena": ARENA, "board": which}, headers={"Accept": "text/html"}
        )
        assert board.status_code == 200
        assert _no_raw_markup(board.content) == []
    page = shared_client.get(f"/models/{quote(stored, safe='')}", params={"arena": ARENA})
    assert page.status_code == 200, page.text
    assert _no_raw_markup(page.content) == []
    api_page = shared_client.get(f"/api/models/{quote(stored, safe='')}", params={"arena": ARENA})
    assert api_page.status_code == 200, api_page.text
    assert api_page.json()["model"]["name"] == stored
    # Disable it again, so the shared arena's matchmaking is unchanged for other tests.
    off = shared_client.patch(
        f"/api/admin/models/{quote(stored, safe='')}",
        params={"arena": ARENA},
        json={"enabled": False},
        headers=api.admin_headers(ADMIN_TOKEN),
    )
    assert off.status_code == 200, off.text


def test_model_name_with_a_slash_is_refused_or_reachable(shared_client: httpx.Client) -> None:
    """A name the admin API accepts is addressable by the model and admin routes (R-WEB-2)."""
    name = "org/model-with-slash"
    response = add_model(shared_client, name=name)
    if response.status_code == 422:
        return
    assert response.status_code == 201, response.text
    path = quote(name, safe="")
    assert shared_client.get(f"/api/models/{path}", params={"arena": ARENA}).status_code == 200
    off = shared_client.patch(
        f"/api/admin/models/{path}",
        params={"arena": ARENA},
        json={"enabled": False},
        headers=api.admin_headers(ADMIN_TOKEN),
    )
    assert off.status_code == 200, off.text
