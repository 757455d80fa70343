"""The storage commands, end to end on a SQLite file (and one real subprocess for error output)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from karena.cli.main import build_app
from karena.store.db import head_revision
from tests.generators.test_gallery import make_folder_gallery


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "KARENA_DATA_DIR": str(tmp_path / "data"),
        "KARENA_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
    }


def run(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(build_app(), list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_admin_import_export_recompute_flow(env: dict[str, str], tmp_path: Path) -> None:
    assert f"schema at revision {head_revision()}" in run(env, "migrate")
    assert "created arena gal" in run(env, "arena", "add", "gal", "--k", "4")
    make_folder_gallery(tmp_path / "gal")
    out = run(env, "import", str(tmp_path / "gal"), "--arena", "gal")
    assert "8 outputs added" in out and "4 new models" in out
    run(env, "model", "add", "gal", "extra", "--organization", "Lab")
    run(env, "model", "disable", "gal", "extra")
    run(env, "prompt", "add", "gal", "a lone prompt", "--key", "lone")
    assert "gal\timage\tK=4" in run(env, "arena", "list")

    from karena.settings import Settings
    from karena.store import Store

    settings = Settings(
        data_dir=Path(env["KARENA_DATA_DIR"]),
        database_url=env["KARENA_DATABASE_URL"],
        min_vote_seconds=0,
    )
    with Store.open(settings) as store:
        for i in range(3):
            b = store.battles.create_battle(arena="gal", seed=i)
            store.voting.submit_vote(
                token=b.token, mode="rank", ranks=[4, 3, 2, 1], voter_id=f"v{i}"
            )
        voter = store.voting.voter_hash("v0")
    assert "replayed 3 votes; largest change |Δμ|+|Δσ| = 0" in run(env, "recompute")
    board = run(env, "leaderboard", "--arena", "gal")
    assert "alpha" in board and "extra" in board
    out_file = tmp_path / "votes.jsonl"
    assert "wrote 3 votes" in run(env, "export", "--arena", "gal", "-o", str(out_file))
    assert len(out_file.read_text().splitlines()) == 3
    assert "1 earlier votes discounted" in run(env, "voter", "ban", voter)
    assert "replayed 2 votes" in run(env, "recompute", "--arena", "gal")
    run(env, "voter", "unban", voter)
    rows = [json.loads(x) for x in out_file.read_text().splitlines()]
    assert {r["voter_hash"] for r in rows} >= {voter}


def test_errors_are_one_line_and_exit_2(env: dict[str, str], tmp_path: Path) -> None:
    run(env, "migrate")
    full_env = {**os.environ, **env}
    proc = subprocess.run(
        [sys.executable, "-m", "karena.cli.main", "export", "--arena", "missing", "-o",
         str(tmp_path / "x.jsonl")],
        capture_output=True, text=True, env=full_env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: no arena 'missing'"
    assert "Traceback" not in proc.stderr
