"""Typed prompts over HTTP with the web's own worker threads off: 202, status, the page."""

from __future__ import annotations

import re

from karena.services.queue import run_worker
from tests.web.conftest import AppFactory


def test_a_typed_battle_is_hidden_until_every_output_is_stored(make_app: AppFactory) -> None:
    app = make_app(web_generation_threads=0)  # nothing runs the jobs until the test does
    client = app.client
    created = client.post("/api/battles", json={"arena": "demo", "prompt": "two red squares"})
    assert created.status_code == 202, created.text
    body = created.json()
    token = body["token"]
    assert body["state"] == "generating" and body["done"] == 0 and body["total"] == 4
    assert body["battle"] is None and body["status_url"] == f"/api/battles/{token}/status"
    assert client.get(f"/api/battles/{token}").status_code == 404
    assert client.get(f"/b/{token}/0").status_code == 404
    page = client.get(f"/battle/{token}", headers={"accept": "text/html"})
    assert page.status_code == 200 and "Generating…" in page.text
    assert not re.search(r"/b/[A-Za-z0-9_-]+/\d", page.text)  # no output is linked yet
    assert "/static/generating.js" in page.text

    run_worker(app.store, client.app.state.live, name="test", exit_when_idle=True)
    ready = client.get(f"/api/battles/{token}/status").json()
    assert ready["state"] == "ready" and ready["battle"]["token"] == token
    assert len(ready["battle"]["slots"]) == 4
    assert client.get(f"/api/battles/{token}").json()["prompt"] == "two red squares"
    page = client.get(f"/battle/{token}", headers={"accept": "text/html"})
    assert len(set(re.findall(rf"/b/{token}/(\d)", page.text))) == 4
    # The same prompt again: the stored outputs are reused. Four of the six models are picked
    # each time, so at least two already have theirs; with all four stored it opens at once.
    again = client.post("/api/battles", json={"arena": "demo", "prompt": "two red squares"})
    if again.status_code == 202:
        assert 2 <= again.json()["done"] < 4
    else:
        assert again.status_code == 201 and again.json()["token"] != token


def test_status_of_unknown_or_malformed_tokens_is_a_clean_4xx(make_app: AppFactory) -> None:
    client = make_app(web_generation_threads=0).client
    missing = client.get("/api/battles/nosuchtoken/status")
    assert missing.status_code == 404 and missing.json()["error"] == "unknown battle"
    bad = client.get("/api/battles/bad%20token!/status")
    assert bad.status_code == 422
    page = client.get("/battle/nosuchtoken", headers={"accept": "text/html"})
    assert page.status_code == 404 and "Traceback" not in page.text


def test_web_threads_run_the_jobs_when_no_worker_is_started(make_app: AppFactory) -> None:
    from tests.web.conftest import wait_for_battle

    client = make_app(web_generation_threads=1).client
    created = client.post("/api/battles", json={"arena": "demo", "prompt": "one blue star"})
    assert created.status_code == 202
    assert wait_for_battle(client, created.json()["token"])["state"] == "ready"
