"""The judge (``karena eval``) against a local server that fails in every way a real one does.

429s, 500/503s, timeouts, slow replies, malformed and empty replies: the run finishes with every
run scored from the true ranking, or stops with one clear line; a SIGKILL then ``--resume``
repeats no run and ends exactly where an uninterrupted evaluation ends.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.reliability.fake_judge import FAULTS, JudgeBehaviour, fake_judge
from tests.reliability.judge_data import ReferenceData, build_reference, true_judge_order

RUNS = 8
#: One script per distinct request (= per run), in arrival order: every fault is met, several
#: in a row, mixing transport failures (retried) with unreadable replies (asked again).
ROTATION: tuple[tuple[str, ...], ...] = (
    ("429", "malformed_prose"),
    ("500", "malformed_duplicate"),
    ("503", "malformed_out_of_range"),
    ("timeout", "malformed_partial"),
    ("slow",),
    ("empty_body", "empty_choices"),
    ("empty_content", "not_json"),
    ("429", "malformed_prose", "500", "empty_body", "timeout", "not_json"),
)


def _eval_command(data: ReferenceData, url: str, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "karena.cli.main", "eval",
        "--model", "NewModel",
        "--reference", str(data.reference),
        "--leaderboard", str(data.leaderboard),
        "--outputs", str(data.outputs),
        "--out", str(out),
        "--judge-url", url,
        "--judge-model", "fake-judge",
        "--timeout", "1",
        "--concurrency", "1",
        "--max-runs", str(RUNS),
        "--stop-sigma", "0.01",
        "--seed", "7",
        *extra,
    ]  # fmt: skip


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KARENA_")}
    env["KARENA_DATA_DIR"] = str(tmp_path / "karena-data")
    env.pop("OPENAI_API_KEY", None)
    return env


def _run_eval(
    command: list[str], tmp_path: Path, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=_env(tmp_path), check=False
    )


def _entries(out: Path) -> list[dict[str, object]]:
    lines = (out / "journal.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[1:]]


def _trace(entries: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [(e["instance"], e["type"], e.get("ranks"), e["mu"], e["sigma"]) for e in entries]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> ReferenceData:
    return build_reference(tmp_path_factory.mktemp("ref"), instances=16)


@pytest.fixture(scope="module")
def clean_trace(
    data: ReferenceData, tmp_path_factory: pytest.TempPathFactory
) -> list[tuple[object, ...]]:
    """The journal of an evaluation against a judge that never fails."""
    tmp = tmp_path_factory.mktemp("clean")
    with fake_judge(JudgeBehaviour()) as judge:
        done = _run_eval(
            _eval_command(data, judge.base_url, tmp / "out", "--max-retries", "2"), tmp
        )
    assert done.returncode == 0, done.stdout + done.stderr
    entries = _entries(tmp / "out")
    assert len(entries) == RUNS and all(e["type"] == "run" for e in entries)
    return _trace(entries)


@pytest.mark.slow
def test_every_fault_is_survived_and_nothing_is_misscored(
    data: ReferenceData, clean_trace: list[tuple[object, ...]], tmp_path: Path
) -> None:
    """Each run meets a fault first; every run is still scored from the true ranking."""
    behaviour = JudgeBehaviour(rotate=ROTATION, timeout_sleep=2.0, slow_sleep=0.3)
    with fake_judge(behaviour) as judge:
        done = _run_eval(
            _eval_command(data, judge.base_url, tmp_path / "out", "--max-retries", "8"), tmp_path
        )
        served = dict(judge.log.faults_served)
    assert done.returncode == 0, done.stdout + done.stderr
    assert set(served) == set(FAULTS), served  # the judge really failed in every way
    entries = _entries(tmp_path / "out")
    assert [e["type"] for e in entries] == ["run"] * RUNS
    for e in entries:
        expected = true_judge_order(data.qualities[str(e["instance"])], list(e["shown"]))
        assert e["judge_order"] == expected, e
    assert _trace(entries) == clean_trace


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["500"])
def test_judge_that_stays_down_stops_with_one_clear_line(
    data: ReferenceData, fault: str, tmp_path: Path
) -> None:
    """A judge that never answers stops the evaluation: exit 2, one line, nothing scored."""
    behaviour = JudgeBehaviour(always=fault, timeout_sleep=2.0)
    with fake_judge(behaviour) as judge:
        done = _run_eval(
            _eval_command(data, judge.base_url, tmp_path / "out", "--max-retries", "1"), tmp_path
        )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "judge" in errors[0].lower(), done.stderr
    journal = tmp_path / "out" / "journal.jsonl"
    scored = (
        [e for e in _entries(tmp_path / "out") if e["type"] == "run"] if journal.exists() else []
    )
    assert scored == []


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["malformed_partial", "empty_content"])
def test_judge_that_never_answers_readably_scores_nothing(
    data: ReferenceData, fault: str, tmp_path: Path
) -> None:
    """Unreadable replies forever: runs are skipped (never scored) and the evaluation stops."""
    behaviour = JudgeBehaviour(always=fault)
    with fake_judge(behaviour) as judge:
        done = _run_eval(
            _eval_command(data, judge.base_url, tmp_path / "out", "--max-retries", "1"), tmp_path
        )
    assert "Traceback" not in done.stderr
    entries = _entries(tmp_path / "out")
    assert entries and all(e["type"] == "skip" for e in entries)
    # The new model never moved from its prior N(25, (25/3)^2) (the default output method holds
    # it on a grid: its moments agree to 1e-3).
    beliefs = {(e["mu"], e["sigma"]) for e in entries}
    assert len(beliefs) == 1
    mu, sigma = beliefs.pop()
    assert abs(mu - 25.0) < 1e-3 and abs(sigma - 25 / 3) < 1e-2
    if done.returncode != 0:
        assert done.returncode == 2
        assert [ln for ln in done.stderr.splitlines() if ln.startswith("error:")], done.stderr


@pytest.mark.slow
def test_sigkill_then_resume_repeats_no_run(
    data: ReferenceData, clean_trace: list[tuple[object, ...]], tmp_path: Path
) -> None:
    """SIGKILL ``karena eval`` midway; ``--resume`` finishes with exactly the clean journal."""
    out = tmp_path / "out"
    behaviour = JudgeBehaviour(answer_delay=0.2)
    with fake_judge(behaviour) as judge:
        command = _eval_command(data, judge.base_url, out, "--max-retries", "2")
        child = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env(tmp_path)
        )
        journal = out / "journal.jsonl"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            if journal.exists() and journal.read_text(encoding="utf-8").count("\n") >= 4:
                break
            time.sleep(0.05)
        assert child.poll() is None, "the evaluation ended before it could be killed"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        before = _entries(out)
        assert 3 <= len(before) < RUNS
        done = _run_eval([*command, "--resume"], tmp_path)
        answers = dict(judge.log.good_answers)
    assert done.returncode == 0, done.stdout + done.stderr
    after = _entries(out)
    assert after[: len(before)] == before
    assert [e["run"] for e in after] == list(range(RUNS))
    assert len({e["instance"] for e in after}) == RUNS
    assert _trace(after) == clean_trace
    # At most the one request in flight at the kill was answered twice.
    assert sum(n - 1 for n in answers.values() if n > 1) <= 1
