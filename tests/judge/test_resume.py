"""Kill an evaluation with SIGKILL midway; --resume must repeat no run and end where an
uninterrupted evaluation ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from karena.judge.journal import Journal
from tests.judge.dataset import Dataset, build_dataset
from tests.judge.eval_child import main as run_child_inline
from tests.judge.judge_server import Behaviour, judge_server

pytestmark = pytest.mark.timeout(180)
REPO = Path(__file__).resolve().parents[2]


def _entries(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()[1:]]


def _spawn(ds: Dataset, url: str, out: Path, resume: bool) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.judge.eval_child",
            str(ds.root),
            url,
            str(out),
            "1" if resume else "0",
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_kill_then_resume_repeats_no_run(tmp_path: Path) -> None:
    ds = build_dataset(tmp_path / "data", n_instances=60, seed=3)
    behaviour = Behaviour(noise=6.0, p_malformed=0.1, p_429=0.05, delay=0.03)
    killed_out, clean_out = tmp_path / "killed", tmp_path / "clean"
    with judge_server(behaviour) as (url, _log):
        child = _spawn(ds, url, killed_out, resume=False)
        journal = killed_out / "journal.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if journal.exists() and journal.read_text().count("\n") >= 8:
                break
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        before = _entries(journal)
        assert 7 <= len(before) < 40, "the kill must land mid-evaluation"
        # Simulate the worst kill: a torn, half-written last line.
        with open(journal, "ab") as fh:
            fh.write(b'{"run": 999, "type": "run", "instan')
        resumed = _spawn(ds, url, killed_out, resume=True)
        assert resumed.wait(timeout=120) == 0, (
            resumed.stderr.read().decode() if resumed.stderr else ""
        )
        run_child_inline(str(ds.root), url, str(clean_out), "0")
    after = _entries(killed_out / "journal.jsonl")
    clean = _entries(clean_out / "journal.jsonl")
    assert after[: len(before)] == before  # nothing already journaled was rewritten
    assert [e["run"] for e in after] == list(range(len(after)))
    assert len({e["instance"] for e in after}) == len(after)  # no instance judged twice
    # Resuming lands exactly where an uninterrupted evaluation lands.
    key = [(e["instance"], e["type"], e.get("ranks"), e["mu"], e["sigma"]) for e in after]
    assert key == [(e["instance"], e["type"], e.get("ranks"), e["mu"], e["sigma"]) for e in clean]
    report = json.loads((killed_out / "report.json").read_text())
    assert report["runs"] == len(after)


def test_a_journal_in_use_cannot_be_opened_twice(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    header = {"model": "m"}
    with Journal.open(path, header, resume=False), pytest.raises(Exception, match="in use"):
        Journal.open(path, header, resume=True)
    with Journal.open(path, header, resume=True) as again:
        assert again.entries == []
