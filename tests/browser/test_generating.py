"""A typed prompt in headless Chromium: "generating…", then the battle; a failure, a new battle.

A real ``karena serve`` (its own worker threads off), a real ``karena worker`` process and a
local provider that takes 1.5 s per image, all on 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from karena.store.api import Store
from tests.browser.test_vote_flow import browser  # noqa: F401  (the fixture)
from tests.conftest import png_bytes
from tests.web.conftest import make_settings
from tests.web.server import KarenaServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[KarenaServer, int]]:
    here = Path(__file__).resolve().parents[2]
    provider = subprocess.Popen(
        [sys.executable, "-m", "tests.generators.fake_providers", "1.5"],
        cwd=here, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert provider.stdout is not None
    port = int(provider.stdout.readline())
    url = f"sqlite:///{tmp_path / 'karena.db'}"
    with Store.open(make_settings(tmp_path, url)) as store:
        store.catalog.create_arena(slug="live", k=2)
        for i in range(2):
            config = {"kind": "hf-inference", "base_url": f"http://127.0.0.1:{port}/hf",
                      "model": f"m{i}", "retries": 0}  # fmt: skip
            store.catalog.add_model(arena="live", name=f"model-{i}", generator=config)
        for j in range(2):  # a small gallery, for the battle offered after a failure
            store.catalog.add_prompt(arena="live", text=f"gallery prompt {j}", key=f"g{j}")
            for i in range(2):
                store.catalog.add_output(arena="live", model=f"model-{i}", prompt_key=f"g{j}",
                                         data=png_bytes((90 * i, 40 * j, 200)))  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("KARENA_")}
    env.update(KARENA_DATA_DIR=str(tmp_path), KARENA_DATABASE_URL=url,
               KARENA_WORKER_POLL_SECONDS="0.1")  # fmt: skip
    karena = str(Path(sys.executable).with_name("karena"))
    worker = subprocess.Popen(
        [karena, "worker", "-j", "2"], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        with KarenaServer(database_url=url, data_dir=tmp_path,
                          env={"KARENA_WEB_GENERATION_THREADS": "0"}) as server:  # fmt: skip
            yield server, port
    finally:
        worker.terminate()
        worker.wait(30)
        provider.kill()
        provider.wait(10)


def _type_prompt(page: Any, base: str, text: str) -> str:
    page.goto(f"{base}/?arena=live")
    page.fill("#own-prompt", text)
    page.click(".prompt-form button[type=submit]")
    page.wait_for_url(f"{base}/battle/**")
    return str(page.url.rsplit("/", 1)[1])


def test_typed_prompt_shows_generating_then_the_whole_battle(
    stack: tuple[KarenaServer, int],
    browser: Any,  # noqa: F811
) -> None:
    server, _ = stack
    page = browser.new_page()
    token = _type_prompt(page, server.base_url, "a lighthouse at dawn")
    assert page.locator("h1").inner_text() == "Generating…"
    assert page.locator("#prompt-text").inner_text() == "a lighthouse at dawn"
    assert page.locator("#outputs img").count() == 0
    # Until both outputs are stored there is no battle to show, by page or by API.
    assert httpx.get(f"{server.base_url}/api/battles/{token}").status_code == 404
    page.locator("#outputs img").first.wait_for(state="visible", timeout=30_000)
    assert page.url.endswith(f"/battle/{token}")
    images = page.locator("#outputs img")
    assert images.count() == 2
    page.wait_for_function(
        "Array.from(document.querySelectorAll('#outputs img'))"
        ".every((img) => img.complete && img.naturalWidth > 0)",
        timeout=10_000,
    )
    page.click("#mode-best")
    page.click("#outputs .output:first-child .best-button")
    page.locator(".reveal .model-name").first.wait_for(state="visible", timeout=10_000)


def test_a_failed_generation_gives_a_clear_message_and_a_new_battle(
    stack: tuple[KarenaServer, int],
    browser: Any,  # noqa: F811
) -> None:
    server, _ = stack
    page = browser.new_page()
    token = _type_prompt(page, server.base_url, "a forbidden thing")
    message = page.locator("#generating-message[role=alert]")
    message.wait_for(state="visible", timeout=30_000)
    text = message.inner_text()
    assert "could not generate" in text and "safety filter" in text and "new battle" in text
    assert "127.0.0.1" not in text and "/hf/models" not in text  # no endpoint is shown
    page.click("#new-battle")
    page.locator("#outputs img").first.wait_for(state="visible", timeout=10_000)
    assert page.locator("#outputs img").count() == 2
    assert not page.url.endswith(token)
    assert page.locator("#prompt-text").inner_text().startswith("gallery prompt")
