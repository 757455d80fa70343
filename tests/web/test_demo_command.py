"""``karena demo`` end to end: builds a ready arena on SQLite in the data dir and serves it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from karena.generators.demo import DEMO_RENDERERS
from tests.web.conftest import wait_for_battle
from tests.web.server import free_port

pytestmark = pytest.mark.slow


def _start(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KARENA_DATABASE_URL": "postgresql://ignored@127.0.0.1:1/none"}
    env.pop("KARENA_VOTER_SALT", None)  # the demo makes its own (R-ANON-7)
    command = [sys.executable, "-m", "karena.cli.main", "demo", "--no-browser",
               "--port", str(port), "--data-dir", str(data_dir)]  # fmt: skip
    log = (data_dir.parent / "demo.log").open("ab")
    return subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _wait(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"karena demo did not start:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def test_demo_builds_serves_and_restarts_with_its_votes(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo-data"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = _start(data_dir, port)
    try:
        _wait(f"{base}/api/arenas", process, tmp_path / "demo.log")
        # It ignored KARENA_DATABASE_URL: SQLite in the data dir.
        assert (data_dir / "karena.db").exists()
        # Without KARENA_VOTER_SALT it made a random salt of its own, private to its folder.
        assert len((data_dir / "voter_salt").read_text().strip()) >= 32
        assert (data_dir / "voter_salt").stat().st_mode & 0o077 == 0
        with httpx.Client(base_url=base, timeout=60) as client:
            board = client.get("/api/leaderboard", params={"board": "online"}).json()
            assert {row["model"] for row in board["rows"]} == {r.name for r in DEMO_RENDERERS}
            assert {row["organization"] for row in board["rows"]} == {"karena demo"}
            page = client.get("/", headers={"accept": "text/html"})
            assert page.status_code == 200 and 'name="prompt"' in page.text
            typed = client.post(
                "/api/battles",
                json={"arena": "demo", "prompt": "two blue stars above a red circle"},
            )
            assert typed.status_code == 202, typed.text  # queued: the web's workers draw it
            ready = wait_for_battle(client, typed.json()["token"])
            assert ready["state"] == "ready", ready
            assert client.get(ready["battle"]["slots"][0]["url"]).status_code == 200
            time.sleep(2.1)  # the default bot guard (2 s) is on in the demo
            vote = client.post(f"/api/battles/{typed.json()['token']}/vote", json={"mode": "tie"})
            assert vote.status_code == 200, vote.text
    finally:
        _stop(process)
    process = _start(data_dir, port)
    try:
        _wait(f"{base}/api/arenas", process, tmp_path / "demo.log")
        arenas = httpx.get(f"{base}/api/arenas", timeout=30).json()
        assert [a["vote_count"] for a in arenas if a["slug"] == "demo"] == [1]
    finally:
        _stop(process)
