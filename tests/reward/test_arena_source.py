"""The arena's own votes as ArenaPO input: the vote export file and the live store."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from karena.cli.main import build_app
from karena.errors import InvalidInput
from karena.reward.loaders import load_arena_votes, load_pairs, pairs_from_vote_records
from tests.conftest import TestClock


def test_vote_records_expand_each_mode_and_skip_uncounted() -> None:
    records = [
        {"seq": 1, "mode": "rank", "ranks": [2, 1, 3, 3], "models": ["a", "b", "c", "d"],
         "prompt": "p1", "output_sha256": ["s0", "s1", "s2", "s3"], "counted": True},
        {"seq": 2, "mode": "best", "ranks": [2, 2, 1, 2], "models": ["a", "b", "c", "d"],
         "prompt": "p2", "counted": True},
        {"seq": 3, "mode": "all_bad", "ranks": [1, 1, 1, 1], "models": ["a", "b", "c", "d"],
         "counted": True},
        {"seq": 4, "mode": "rank", "ranks": [1, 2, 3, 4], "models": ["a", "b", "c", "d"],
         "counted": False},
    ]  # fmt: skip
    pairs = pairs_from_vote_records(records)
    assert len(pairs) == 6 + 3 + 6
    assert pairs.meta["source_id"].tolist() == [1] * 6 + [2] * 3 + [3] * 6
    first = [
        (pairs.models[w], pairs.models[lo])
        for w, lo in zip(pairs.winner[:6], pairs.loser[:6], strict=True)
    ]
    assert first[0] == ("b", "a") and ("c", "d") in first
    assert pairs.tie[:6].sum() == 1 and pairs.tie[9:].all()
    assert pairs.meta["image_w"][0] == "s1" and pairs.meta["image_l"][0] == "s0"
    with pytest.raises(InvalidInput, match="mode must be one of rank, best, tie, all_bad"):
        pairs_from_vote_records([{"mode": "meh", "ranks": [1, 2], "models": ["a", "b"]}])
    with pytest.raises(InvalidInput, match="2 models but 3 ranks"):
        pairs_from_vote_records([{"mode": "rank", "ranks": [1, 2, 3], "models": ["a", "b"]}])


@pytest.mark.usefixtures("seeded")
def test_rewards_from_the_store_and_from_its_export_agree(
    store: object, clock: TestClock, tmp_path: Path, database_url: str
) -> None:
    from karena.store import Store

    assert isinstance(store, Store)
    for seed in range(8):
        battle = store.battles.create_battle(arena="img", seed=seed)
        clock.advance(5)
        ranks = [1 + (seed + i) % 4 for i in range(4)]
        store.voting.submit_vote(token=battle.token, mode="rank", ranks=ranks, voter_id=f"v{seed}")
        clock.advance(60)
    export = tmp_path / "votes.parquet"
    store.voting.export_votes(arena="img", path=export, fmt="parquet")
    from_file = load_pairs(export)
    assert len(from_file) == 8 * 6 and len(load_arena_votes(export)) == 48

    out = tmp_path / "out"
    args = ["rewards", "--from-store", "img", "--database-url", database_url, "-o", str(out)]
    result = CliRunner().invoke(build_app(), [*args, "--traversal", "data"])
    assert result.exit_code == 0, result.output
    table = pq.read_table(out / "rewards.parquet").to_pydict()
    assert table["model_w"] == [from_file.models[i] for i in from_file.winner]
    assert table["image_w"] == [str(v) for v in from_file.meta["image_w"]]
    missing = CliRunner().invoke(build_app(), ["rewards", "--from-store", "nope",
                                               "--database-url", database_url])  # fmt: skip
    assert missing.exit_code != 0 and "nope" in str(missing.exception)
    both = CliRunner().invoke(build_app(), ["rewards", str(export), "--from-store", "img"])
    assert isinstance(both.exception, InvalidInput)


def test_arena_vote_export_jsonl_is_auto_detected(tmp_path: Path) -> None:
    path = tmp_path / "votes.jsonl"
    row = {"seq": 1, "mode": "best", "ranks": [1, 2, 2], "models": ["x", "y", "z"], "counted": True}
    path.write_text(json.dumps(row) + "\n")
    pairs = load_pairs(path)
    assert len(pairs) == 2 and pairs.models[pairs.winner[0]] == "x"
