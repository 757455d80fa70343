"""Judge backends behind one Protocol: a local Python callable, and chat completions over HTTP;
both methods (paper, output) end to end, with their 90% rank interval in every report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from karena.errors import InvalidInput, UpstreamError
from karena.judge.backends import CallableJudge, load_judge_callable
from karena.judge.loop import LoopConfig
from karena.judge.outputs import FolderOutputs
from karena.judge.placement import PlacementConfig
from karena.judge.prompts import IMAGE_RULES
from karena.judge.reference import load_ksort_folder
from karena.judge.report import place
from karena.judge.run import EvalSummary, evaluate
from karena.rating.types import Rating
from karena.settings import Settings
from tests.judge.dataset import Dataset, build_dataset
from tests.judge.judge_server import Behaviour, judge_server
from tests.judge.rank_functions import by_red

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return build_dataset(tmp_path_factory.mktemp("ksort"), n_instances=80)


def _true_rank(ds: Dataset) -> int:
    board = {n: Rating(m, s) for n, (m, s) in ds.board.items()}
    return place(Rating(ds.new_mu, 0.0), board).rank_paper


def _run(ds: Dataset, out: Path, **kw: object) -> EvalSummary:
    ref, _ = load_ksort_folder(ds.root)
    return evaluate(
        reference=ref,
        outputs=FolderOutputs(ds.outputs),
        model_name="newcomer",
        rules=IMAGE_RULES,
        settings=kw.pop("settings", Settings()),  # type: ignore[arg-type]
        out_dir=out,
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("config", [PlacementConfig(max_runs=40), LoopConfig(max_runs=40)])
def test_a_python_function_judges_both_methods_end_to_end(
    dataset: Dataset, tmp_path: Path, config: LoopConfig | PlacementConfig
) -> None:
    judge = CallableJudge(by_red, name="python:tests.judge.rank_functions:by_red")
    summary = _run(dataset, tmp_path, config=config, judge=judge)
    method = "paper" if isinstance(config, LoopConfig) else "output"
    assert summary.method == method and summary.judge_requests == summary.runs
    assert summary.skipped == 0 and summary.scored == summary.runs
    truth = _true_rank(dataset)
    assert abs(summary.placement.rank_paper - truth) <= 1
    assert summary.interval.contains(truth) and summary.interval.low <= summary.interval.high
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["method"] == method
    assert report["rank_interval"]["low"] == summary.interval.low
    assert report["judge"]["name"] == judge.name
    assert all({"rank", "rank_low", "rank_high"} <= set(h) for h in report["history"])
    # The interval narrows as the judge's rankings come in.
    first, last = report["history"][0], report["history"][-1]
    assert last["rank_high"] - last["rank_low"] < first["rank_high"] - first["rank_low"]
    md = (tmp_path / "report.md").read_text()
    assert f"90% rank interval: {summary.interval.low}–{summary.interval.high}" in md
    header = json.loads((tmp_path / "journal.jsonl").read_text().splitlines()[0])
    assert header["method"] == method and header["judge_model"] == judge.name


def test_an_unreadable_order_skips_the_run_and_a_raising_judge_stops_resumably(
    dataset: Dataset, tmp_path: Path
) -> None:
    half = load_judge_callable("tests.judge.rank_functions:half_wrong")
    summary = _run(dataset, tmp_path / "half", config=PlacementConfig(max_runs=12), judge=half)
    assert summary.runs == 12 and 0 < summary.skipped < 12
    entries = [
        json.loads(x) for x in (tmp_path / "half" / "journal.jsonl").read_text().splitlines()[1:]
    ]
    skips = [e for e in entries if e["type"] == "skip"]
    assert skips and all("not an order of 0..4" in e["reason"] for e in skips)
    broken = load_judge_callable("tests.judge.rank_functions:broken")
    with pytest.raises(UpstreamError, match="ran out of memory"):
        _run(dataset, tmp_path / "broken", judge=broken)
    journal = (tmp_path / "broken" / "journal.jsonl").read_text()
    assert journal.count("\n") == 1  # header only: nothing was scored, --resume can continue


def test_judge_callables_are_loaded_by_name_or_refused_clearly() -> None:
    assert load_judge_callable("tests.judge.rank_functions:RedRanker").name.endswith("RedRanker")
    for bad, message in (
        ("no_colon", "package.module:function"),
        ("no.such.module:fn", "cannot import"),
        ("tests.judge.rank_functions:missing", "neither a function"),
    ):
        with pytest.raises(InvalidInput, match=message):
            load_judge_callable(bad)


def test_output_method_over_http_is_resumed_by_rescoring_the_journal(
    dataset: Dataset, tmp_path: Path
) -> None:
    """A resumed output-level evaluation rebuilds its posterior from the journal's ranks."""
    config = PlacementConfig(max_runs=10, seed=3)
    with judge_server(Behaviour(noise=4.0)) as (url, _log):
        settings = Settings(judge_base_url=url, judge_model="t", judge_api_key_env="UNSET_KEY_Y")
        opts = {"backoff_base": 0.001}
        clean = _run(dataset, tmp_path / "clean", config=config, settings=settings,
                     client_options=opts)  # fmt: skip
        # Cut the clean journal after 4 runs, as a kill would leave it, and resume from there.
        cut = tmp_path / "cut"
        cut.mkdir()
        lines = (tmp_path / "clean" / "journal.jsonl").read_text().splitlines(keepends=True)
        (cut / "journal.jsonl").write_text("".join(lines[:5]))
        resumed = _run(dataset, cut, config=config, settings=settings, client_options=opts,
                       resume=True)  # fmt: skip
    assert resumed.resumed_runs == 4 and resumed.runs == clean.runs
    a = [json.loads(x) for x in lines[1:]]
    b = [json.loads(x) for x in (cut / "journal.jsonl").read_text().splitlines()[1:]]
    keys = ("instance", "ranks", "mu", "sigma", "rank_low", "rank_high")
    assert [[e[k] for k in keys] for e in a] == [[e[k] for k in keys] for e in b]
    assert resumed.interval == clean.interval
