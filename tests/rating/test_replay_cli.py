"""``karena replay``: a JSONL vote log in, a leaderboard out; malformed lines name their number."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from karena.cli.main import build_app, run
from karena.errors import InvalidVote
from karena.rating.models.elo import Elo
from karena.rating.models.factor_graph import FactorGraphFFA
from karena.rating.models.thurstone import ThurstoneK
from karena.rating.types import BestOfK, Ranking, Tie, Vote, pairwise
from karena.rating.vote_log import read_vote_log

LOG = [
    {"models": ["a", "b", "c", "d"], "ranking": [2, 1, 4, 3]},
    {"models": ["a", "c"], "result": "both_bad"},
    {"models": ["b", "c", "d", "e"], "winner": "e"},
    {"models": ["b", "c", "d", "e"], "winner": 1},
    {"models": ["a", "b", "c", "d"], "winner": None},
]
VOTES = [
    Vote(("a", "b", "c", "d"), Ranking((2, 1, 4, 3))),
    Vote(("a", "c"), pairwise("both_bad")),
    Vote(("b", "c", "d", "e"), BestOfK(4, 3)),
    Vote(("b", "c", "d", "e"), BestOfK(4, 1)),
    Vote(("a", "b", "c", "d"), Tie(4)),
]


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "votes.jsonl"
    lines = [json.dumps(r) for r in LOG]
    path.write_text("# a comment\n" + "\n".join(lines[:2]) + "\n\n" + "\n".join(lines[2:]) + "\n")
    return path


def test_reader_parses_every_vote_kind(log_file: Path) -> None:
    assert list(read_vote_log(log_file.read_text().splitlines())) == VOTES


@pytest.mark.parametrize(
    ("name", "model"),
    [("thurstone", ThurstoneK()), ("factor-graph", FactorGraphFFA()), ("elo", Elo())],
)
def test_json_output_is_the_leaderboard_of_the_replayed_ratings(
    log_file: Path, name: str, model: ThurstoneK
) -> None:
    result = CliRunner().invoke(build_app(), ["replay", str(log_file), "--model", name, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    want = model.replay(VOTES)
    rows = payload["leaderboard"]
    assert payload["votes"] == 5 and payload["model"] == name
    assert {row["model"] for row in rows} == {"a", "b", "c", "d", "e"}
    for row in rows:
        assert row["mu"] == pytest.approx(want[row["model"]].mu, abs=1e-9)
        assert row["sigma"] == pytest.approx(want[row["model"]].sigma, abs=1e-9)
    scores = [row["score"] for row in rows]
    assert scores == sorted(scores, reverse=True)
    assert {row["model"]: row["votes"] for row in rows} == {"a": 3, "b": 4, "c": 5, "d": 4, "e": 2}


def test_table_output_and_top(log_file: Path) -> None:
    result = CliRunner().invoke(build_app(), ["replay", str(log_file), "--top", "2"])
    assert result.exit_code == 0, result.output
    assert "thurstone leaderboard from 5 votes" in result.output
    assert "Rank" in result.output and "95% interval" in result.output


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 2: not valid JSON"),
        ('{"models": ["a", "a"], "ranking": [1, 2]}', "line 2: duplicate models"),
        ('{"models": ["a", "b"], "ranking": [1, 2, 3]}', "line 2: outcome is for K=3"),
        ('{"models": ["a", "b"], "ranking": [1, NaN]}', "line 2: rank of position 1 is NaN"),
        ('{"models": ["a", "b"]}', "line 2: a vote needs exactly one of"),
        ('{"models": ["a", "b"], "winner": "z"}', "line 2: \"winner\" 'z'"),
        ('{"models": ["a", "b"], "result": "draw"}', 'line 2: "result" must be one of'),
        ('["a", "b"]', "line 2: a vote must be a JSON object"),
    ],
)
def test_malformed_lines_name_their_line_number(line: str, message: str) -> None:
    with pytest.raises(InvalidVote, match=message.replace("(", r"\(")):
        list(read_vote_log(['{"models": ["a", "b"], "ranking": [1, 2]}', line]))


def test_cli_reports_a_bad_line_in_one_line_with_exit_code_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.jsonl"
    good, bad = '{"models": ["a", "b"], "ranking": [1, 2]}', '{"models": ["a"], "ranking": [1]}'
    path.write_text(f"{good}\n{bad}\n")
    for argv, message in [
        ([str(path)], "error: line 2: a vote needs K >= 2 contestants, got 1"),
        ([str(tmp_path / "none.jsonl")], f"error: no vote log at {tmp_path / 'none.jsonl'}"),
        (
            [str(path), "--provisional-sigma", "0"],
            "error: --provisional-sigma must be > 0, got 0.0",
        ),
    ]:
        monkeypatch.setattr(sys, "argv", ["karena", "replay", *argv])
        with pytest.raises(SystemExit) as exit_info:
            run()
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert err.strip() == message
        assert "Traceback" not in err


def test_default_model_follows_karena_rating_model(log_file: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        build_app(), ["replay", str(log_file), "--json"], env={"KARENA_RATING_MODEL": "elo"}
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["model"] == "elo"
    bad = runner.invoke(
        build_app(), ["replay", str(log_file)], env={"KARENA_RATING_MODEL": "bradley-terry"}
    )
    assert bad.exit_code != 0
    assert "unknown rating model 'bradley-terry'; choose one of elo, factor-graph, thurstone" in (
        str(bad.exception)
    )
