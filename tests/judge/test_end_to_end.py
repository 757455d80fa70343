"""K-Sort Eval against a real local chat-completions server that ranks by hidden quality."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from karena.errors import Conflict, UpstreamError
from karena.judge.loop import LoopConfig
from karena.judge.outputs import FolderOutputs
from karena.judge.prompts import IMAGE_RULES, VIDEO_RULES
from karena.judge.reference import load_ksort_folder
from karena.judge.report import place
from karena.judge.run import EvalSummary, evaluate
from karena.rating.types import Rating
from karena.settings import Settings
from tests.judge.dataset import Dataset, build_dataset
from tests.judge.judge_server import Behaviour, judge_server

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return build_dataset(tmp_path_factory.mktemp("ksort"))


def _settings(url: str, *, timeout: float = 5.0, retries: int = 6) -> Settings:
    return Settings(
        judge_base_url=url,
        judge_model="test-judge",
        judge_api_key_env="KARENA_TEST_JUDGE_KEY_UNSET",
        judge_timeout_seconds=timeout,
        judge_max_retries=retries,
        judge_concurrency=2,
    )


def _run(ds: Dataset, url: str, out: Path, **kw: object) -> EvalSummary:
    ref, _ = load_ksort_folder(ds.root)
    settings = kw.pop("settings", None) or _settings(url)
    return evaluate(
        reference=ref,
        outputs=FolderOutputs(ds.outputs),
        model_name="newcomer",
        rules=IMAGE_RULES,
        settings=settings,  # type: ignore[arg-type]
        config=kw.pop("config", LoopConfig()),  # type: ignore[arg-type]
        out_dir=out,
        client_options={"backoff_base": 0.001},
        **kw,  # type: ignore[arg-type]
    )


def _true_rank(ds: Dataset) -> int:
    board = {n: Rating(m, s) for n, (m, s) in ds.board.items()}
    return place(Rating(ds.new_mu, 0.0), board).rank_paper


def test_recovers_true_rank_through_noise_malformed_replies_and_429_500(
    dataset: Dataset, tmp_path: Path
) -> None:
    behaviour = Behaviour(noise=6.0, p_malformed=0.15, p_429=0.1, p_500=0.1)
    with judge_server(behaviour) as (url, log):
        summary = _run(dataset, url, tmp_path)
    assert abs(summary.placement.rank_paper - _true_rank(dataset)) <= 1
    assert log.faults["malformed"] > 0 and log.faults["429"] > 0 and log.faults["500"] > 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["predicted_rank"] == summary.placement.rank_paper
    assert (tmp_path / "mu_sigma.png").stat().st_size > 1000
    assert "placed by judge" in (tmp_path / "report.md").read_text()
    entries = [json.loads(x) for x in (tmp_path / "journal.jsonl").read_text().splitlines()[1:]]
    instances = [e["instance"] for e in entries]
    assert len(instances) == len(set(instances)) == summary.runs
    # Every scored run was read from a well-formed reply: the parsed order is a permutation.
    for e in entries:
        if e["type"] == "run":
            assert sorted(e["judge_order"]) == list(range(5))


def test_prose_and_markdown_replies_are_read(dataset: Dataset, tmp_path: Path) -> None:
    with judge_server(Behaviour(noise=3.0, prose=True)) as (url, _log):
        summary = _run(dataset, url, tmp_path, config=LoopConfig(max_runs=20))
    assert summary.skipped == 0 and summary.scored == 20


def test_timeouts_and_slow_replies_are_retried(dataset: Dataset, tmp_path: Path) -> None:
    behaviour = Behaviour(noise=3.0, p_timeout=0.25, p_slow=0.25, timeout_seconds=1.0)
    with judge_server(behaviour) as (url, log):
        summary = _run(
            dataset,
            url,
            tmp_path,
            settings=_settings(url, timeout=0.5),
            config=LoopConfig(max_runs=15),
        )
    assert log.faults["timeout"] > 0 and log.faults["slow"] > 0
    assert summary.runs == 15 and summary.scored == 15


def test_a_judge_that_only_talks_nonsense_skips_runs_then_stops_clearly(
    dataset: Dataset, tmp_path: Path
) -> None:
    with (
        judge_server(Behaviour(always="malformed")) as (url, _log),
        pytest.raises(UpstreamError, match="skipped runs in a row"),
    ):
        _run(dataset, url, tmp_path, settings=_settings(url, retries=1))
    entries = [json.loads(x) for x in (tmp_path / "journal.jsonl").read_text().splitlines()[1:]]
    assert entries and all(e["type"] == "skip" for e in entries)
    # Skipped runs never move the rating.
    assert {(e["mu"], e["sigma"]) for e in entries} == {(25.0, 25.0 / 3.0)}


@pytest.mark.parametrize("always", ["429", "500"])
def test_a_judge_that_keeps_failing_stops_with_a_clear_message(
    dataset: Dataset, tmp_path: Path, always: str
) -> None:
    with (
        judge_server(Behaviour(always=always)) as (url, log),
        pytest.raises(UpstreamError, match=f"failed 3 times; last: HTTP {always}"),
    ):
        _run(dataset, url, tmp_path, settings=_settings(url, retries=2))
    assert log.requests == 3
    assert (tmp_path / "journal.jsonl").read_text().count("\n") == 1  # header only


def test_a_refused_api_key_is_not_retried(dataset: Dataset, tmp_path: Path) -> None:
    with (
        judge_server(Behaviour(always="401")) as (url, log),
        pytest.raises(UpstreamError, match="check the API key"),
    ):
        _run(dataset, url, tmp_path)
    assert log.requests == 1


def test_a_body_that_is_not_json_is_asked_again_then_skipped(
    dataset: Dataset, tmp_path: Path
) -> None:
    with (
        judge_server(Behaviour(always="bad_json")) as (url, log),
        pytest.raises(UpstreamError, match="skipped runs in a row"),
    ):
        _run(dataset, url, tmp_path, settings=_settings(url, retries=1))
    assert log.requests == 2 * 10  # 2 replies per run, 10 runs skipped


def test_an_existing_journal_needs_resume_or_overwrite(dataset: Dataset, tmp_path: Path) -> None:
    with judge_server(Behaviour(noise=3.0)) as (url, _log):
        _run(dataset, url, tmp_path, config=LoopConfig(max_runs=3))
        with pytest.raises(Conflict, match="--resume"):
            _run(dataset, url, tmp_path, config=LoopConfig(max_runs=3))
        with pytest.raises(Conflict, match="config"):
            _run(dataset, url, tmp_path, config=LoopConfig(max_runs=5, alpha=0.1), resume=True)
        again = _run(dataset, url, tmp_path, config=LoopConfig(max_runs=3), overwrite=True)
    assert again.resumed_runs == 0 and again.runs == 3


def test_batched_judging_scores_in_order_and_never_reuses_an_instance(
    dataset: Dataset, tmp_path: Path
) -> None:
    with judge_server(Behaviour(noise=3.0, p_429=0.1)) as (url, _log):
        summary = _run(dataset, url, tmp_path, config=LoopConfig(max_runs=9), batch=3)
    entries = [json.loads(x) for x in (tmp_path / "journal.jsonl").read_text().splitlines()[1:]]
    assert summary.runs == 9 and [e["run"] for e in entries] == list(range(9))
    assert len({e["instance"] for e in entries}) == 9


def test_video_is_judged_from_sampled_frames(tmp_path: Path) -> None:
    ds = build_dataset(tmp_path / "data", n_models=8, n_instances=40, video=True)
    ref, _ = load_ksort_folder(ds.root, modality="video")
    assert ref.modality == "video" and ref.instances[0].media[0].suffix == ".gif"
    with judge_server(Behaviour(noise=3.0, label="Video")) as (url, log):
        summary = evaluate(
            reference=ref,
            outputs=FolderOutputs(ds.outputs),
            model_name="clip-model",
            rules=VIDEO_RULES,
            settings=_settings(url),
            config=LoopConfig(max_runs=40),
            out_dir=tmp_path / "out",
            video_mode="frames",
            frames=6,
            client_options={"backoff_base": 0.001},
        )
    assert summary.skipped == 0 and log.good == summary.runs
    assert abs(summary.placement.rank_paper - _true_rank(ds)) <= 1
