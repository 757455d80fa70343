"""``karena eval`` end to end through Typer, against the local judge server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from karena.cli import eval as eval_cli
from tests.judge.dataset import build_dataset
from tests.judge.judge_server import Behaviour, judge_server

pytestmark = pytest.mark.timeout(120)


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """karena."""

    eval_cli.register(app)
    return app


def test_karena_eval_places_a_model_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = build_dataset(tmp_path / "data", n_models=8, n_instances=40)
    monkeypatch.setenv("KARENA_JUDGE_API_KEY_ENV", "KARENA_TEST_KEY")
    monkeypatch.setenv("KARENA_TEST_KEY", "sk-test")
    out = tmp_path / "report"
    runner = CliRunner()
    with judge_server(Behaviour(noise=3.0)) as (url, _log):
        args = [
            "eval", "--model", "newcomer", "--reference", str(ds.root),
            "--outputs", str(ds.outputs), "--judge-url", url, "--judge-model", "t",
            "--out", str(out), "--max-runs", "6",
        ]  # fmt: skip
        first = runner.invoke(_app(), args)
        assert first.exit_code == 0, first.output
        assert True
        assert "rank" in first.output and "journal" in first.output
        again = runner.invoke(_app(), [*args[:-1], "9", "--resume"])
        assert again.exit_code == 1  # a different --max-runs is a different evaluation
        resumed = runner.invoke(_app(), [*args, "--resume", "--write-leaderboard-entry"])
        assert resumed.exit_code == 0, resumed.output
    entry = json.loads((out / "leaderboard_entry.json").read_text())
    assert entry["placed_by"] == "judge" and entry["runs"] == 6
    assert json.loads((out / "report.json").read_text())["runs"] == 6


def test_print_rules_and_bad_arguments() -> None:
    runner = CliRunner()
    shown = runner.invoke(_app(), ["eval", "--model", "m", "--print-rules", "--modality", "video"])
    assert shown.exit_code == 0 and json.loads(shown.output)["label"] == "Video"
    both = runner.invoke(_app(), ["eval", "--model", "m"])
    assert both.exit_code != 0 and "exactly one of --reference" in str(both.exception)


def test_karena_eval_with_a_live_images_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = build_dataset(tmp_path / "data", n_models=8, n_instances=20)
    monkeypatch.delenv("KARENA_TEST_IMAGES_KEY", raising=False)
    runner = CliRunner()
    with judge_server(Behaviour(noise=2.0)) as (url, log):
        base = [
            "eval", "--model", "live", "--reference", str(ds.root), "--generator-url", url,
            "--generator-model", "img", "--judge-url", url, "--max-runs", "5",
        ]  # fmt: skip
        missing_key = runner.invoke(
            _app(),
            [*base, "--generator-key-env", "KARENA_TEST_IMAGES_KEY", "--out", str(tmp_path / "a")],
        )
        assert "KARENA_TEST_IMAGES_KEY" in str(missing_key.exception)  # stops at once, no skips
        result = runner.invoke(
            _app(), [*base, "--generator-key-env", "", "--out", str(tmp_path / "b")]
        )
        assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "b" / "report.json").read_text())
    assert report["scored_runs"] == 5 and report["skipped_runs"] == 0
    assert log.good == 5


@pytest.mark.parametrize("method", ["paper", "output"])
def test_karena_eval_method_choice_with_a_python_judge(tmp_path: Path, method: str) -> None:
    ds = build_dataset(tmp_path / "data", n_models=8, n_instances=40)
    out = tmp_path / "report"
    args = [
        "eval", "--model", "newcomer", "--reference", str(ds.root), "--outputs", str(ds.outputs),
        "--judge-callable", "tests.judge.rank_functions:by_red", "--out", str(out),
        "--method", method, "--max-runs", "12",
    ]  # fmt: skip
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 0, result.output
    assert f"method {method}" in result.output and "90% interval" in result.output
    report = json.loads((out / "report.json").read_text())
    assert report["method"] == method and report["config"]["method"] == method
    stop = report["config"]["stop_sigma"]
    assert stop == (0.75 if method == "paper" else 1.4)  # each method's own default
    assert report["judge"]["name"] == "python:tests.judge.rank_functions:by_red"
    iv = report["rank_interval"]
    assert 1 <= iv["low"] <= report["predicted_rank"] <= iv["high"] <= report["board_size"] + 1


def test_karena_eval_place_puts_the_model_on_the_arena_board(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from karena.store.api import Store
    from tests.judge.test_store_source import _arena

    settings, outputs = _arena(tmp_path)
    monkeypatch.setenv("KARENA_DATA_DIR", str(settings.data_dir))
    runner = CliRunner()
    base = [
        "eval", "--model", "newcomer", "--outputs", str(outputs), "--max-runs", "30",
        "--judge-callable", "tests.judge.rank_functions:by_red", "--out", str(tmp_path / "r"),
    ]  # fmt: skip
    refused = runner.invoke(_app(), [*base, "--reference", str(tmp_path), "--place"])
    assert refused.exit_code != 0 and "--place" in str(refused.exception)
    with Store.open(settings) as store:
        votes = store.catalog.get_arena(slug="img").vote_count
    result = runner.invoke(_app(), [*base, "--arena", "img", "--place"])
    assert result.exit_code == 0, result.output
    assert "added model newcomer" in result.output and "placed newcomer" in result.output
    with Store.open(settings) as store:
        rows = {r.model_name: r for r in store.boards.leaderboard(arena="img")}
        assert store.catalog.get_arena(slug="img").vote_count == votes  # no vote was added
    row = rows["newcomer"]
    assert row.placed_by_judge and row.votes == 0 and row.judge_rank_interval is not None
    # The newcomer's outputs look exactly like M4's: it sits by M4 on the board (within 2: the
    # output-level model assumes outputs vary by β_o ≈ 3 around their model; here they do not).
    assert abs(row.rank - rows["M4"].rank) <= 2
    entry = json.loads((tmp_path / "r" / "report.json").read_text())
    assert entry["rank_interval"]["low"] <= row.rank <= entry["rank_interval"]["high"]
