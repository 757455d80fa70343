"""Loaders: Pick-a-Pic v2 schema, HPD v3 style, arena votes, aggregated counts (synthetic files)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from karena.errors import InvalidInput
from karena.rating.types import BestOfK, Ranking, Vote
from karena.reward.loaders import (
    load_chatbot_arena_counts,
    load_hpd,
    load_pairs,
    load_pickapic,
    pairs_from_votes,
)

PICKAPIC_ROWS = [
    # caption, uid0, uid1, label_0, label_1, best, model_0, model_1
    ("a cat", "u0", "u1", 1.0, 0.0, "u0", "sdxl", "sd15"),
    ("a dog", "u2", "u3", 0.0, 1.0, "u3", "sdxl", "sd15"),
    ("a cow", "u4", "u5", 0.5, 0.5, "", "sd21", "sdxl"),
    ("a fox", "u6", "u7", 0.0, 1.0, "u7", "sd21", "sd21"),
]


def _pickapic_dicts(with_labels: bool = True) -> list[dict[str, object]]:
    out = []
    for i, (cap, u0, u1, l0, l1, best, m0, m1) in enumerate(PICKAPIC_ROWS):
        row: dict[str, object] = {
            "ranking_id": 100 + i, "caption": cap, "image_0_uid": u0, "image_1_uid": u1,
            "best_image_uid": best, "model_0": m0, "model_1": m1, "has_label": True,
        }  # fmt: skip
        if with_labels:
            row |= {"label_0": l0, "label_1": l1}
        out.append(row)
    out.append(dict(out[0], has_label=False, ranking_id=999))  # skipped
    return out


def _check_pickapic(pairs_path: Path) -> None:
    pairs = load_pickapic(pairs_path)
    assert len(pairs) == 4
    names = [
        (pairs.models[w], pairs.models[lo]) for w, lo in zip(pairs.winner, pairs.loser, strict=True)
    ]
    assert names == [("sdxl", "sd15"), ("sd15", "sdxl"), ("sd21", "sdxl"), ("sd21", "sd21")]
    assert pairs.tie.tolist() == [False, False, True, False]
    assert pairs.meta["image_w"].tolist() == ["u0", "u3", "u4", "u7"]
    assert pairs.meta["image_l"].tolist() == ["u1", "u2", "u5", "u6"]
    assert pairs.meta["caption"].tolist() == ["a cat", "a dog", "a cow", "a fox"]
    assert pairs.meta["source_id"].tolist() == [100, 101, 102, 103]


def test_pickapic_parquet_with_labels_and_image_bytes_column(tmp_path: Path) -> None:
    rows = _pickapic_dicts()
    table = pa.Table.from_pylist(rows).append_column("jpg_0", pa.array([b"\xff\xd8"] * len(rows)))
    path = tmp_path / "pap.parquet"
    pq.write_table(table, path)
    _check_pickapic(path)
    assert load_pairs(path).models == load_pickapic(path).models  # auto-detected


def test_pickapic_jsonl_with_best_image_uid_only(tmp_path: Path) -> None:
    path = tmp_path / "pap.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in _pickapic_dicts(with_labels=False)) + "\n")
    _check_pickapic(path)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"model_0": "a", "model_1": "b", "label_0": 0.7, "label_1": 0.3}, "labels must be"),
        ({"model_0": "a", "model_1": "b"}, "label_0/label_1 or best_image_uid"),
        ({"model_0": "", "model_1": "b", "label_0": 1, "label_1": 0}, "model_0"),
        ({"model_0": "a", "model_1": "b", "label_0": "x", "label_1": 0}, "label_0 must be"),
        (
            {
                "model_0": "a",
                "model_1": "b",
                "image_0_uid": "p",
                "image_1_uid": "q",
                "best_image_uid": "zz",
            },
            "matches neither",
        ),
    ],
)
def test_pickapic_bad_rows_name_the_row(tmp_path: Path, row: dict, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(InvalidInput, match=message) as exc:
        load_pickapic(path)
    assert "row 0" in exc.value.message


def test_unreadable_inputs_raise_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no such file"):
        load_pairs(tmp_path / "missing.parquet")
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(InvalidInput, match="unsupported file type"):
        load_pickapic(tmp_path / "x.csv")
    (tmp_path / "broken.jsonl").write_text('{"model_0": "a"\n')
    with pytest.raises(InvalidInput, match=r"broken\.jsonl:1"):
        load_pickapic(tmp_path / "broken.jsonl")
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(InvalidInput, match="Parquet"):
        load_pickapic(tmp_path / "broken.parquet")
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(InvalidInput, match="no rows"):
        load_pairs(tmp_path / "empty.jsonl")
    (tmp_path / "other.jsonl").write_text('{"foo": 1}\n')
    with pytest.raises(InvalidInput, match="--format"):
        load_pairs(tmp_path / "other.jsonl")


def test_hpd_pairs_and_rankings(tmp_path: Path) -> None:
    rows = [
        {"prompt": "p0", "path1": "a.png", "path2": "b.png", "model1": "flux", "model2": "sd3"},
        {
            "prompt": "p1",
            "image_paths": ["x.png", "y.png", "z.png"],
            "models": ["flux", "sd3", "kolors"],
            "rank": [2, 1, 2],
        },
    ]
    keys = {k for r in rows for k in r}
    path = tmp_path / "hpd.parquet"
    pq.write_table(pa.Table.from_pylist([{k: r.get(k) for k in sorted(keys)} for r in rows]), path)
    pairs = load_pairs(path)
    names = [
        (pairs.models[w], pairs.models[lo]) for w, lo in zip(pairs.winner, pairs.loser, strict=True)
    ]
    assert names == [("flux", "sd3"), ("sd3", "flux"), ("flux", "kolors"), ("sd3", "kolors")]
    assert pairs.tie.tolist() == [False, False, True, False]
    assert pairs.meta["image_w"].tolist() == ["a.png", "y.png", "x.png", "y.png"]
    assert pairs.meta["caption"].tolist() == ["p0", "p1", "p1", "p1"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"models": ["a", "b"], "rank": [1, 5]}) + "\n")
    with pytest.raises(InvalidInput, match="rank of position 1"):
        load_hpd(bad)


def test_votes_expand_k_wise_to_pairs() -> None:
    votes = [
        Vote(("a", "b", "c", "d"), Ranking((1, 3, 2, 2))),
        Vote(("b", "c", "d", "a"), BestOfK(4, 2)),
    ]
    pairs = pairs_from_votes(votes)
    assert len(pairs) == 6 + 3
    assert int(pairs.tie.sum()) == 1
    assert pairs.meta["source_id"].tolist() == [0] * 6 + [1] * 3
    d = pairs.models.index("d")
    assert (pairs.winner[6:] == d).all()


def test_aggregated_counts_expand_in_documented_order(tmp_path: Path) -> None:
    path = tmp_path / "counts.json"
    path.write_text(json.dumps({"models": ["x", "y", "z"], "X": [[0, 1], [2, 1]],
                                "Y": [[2, 1, 1, 1], [0, 3, 0, 0]]}))  # fmt: skip
    pairs = load_chatbot_arena_counts(path)
    assert pairs.winner.tolist() == [0, 0, 1, 0, 0, 1, 1, 1]
    assert pairs.loser.tolist() == [1, 1, 0, 1, 1, 2, 2, 2]
    assert pairs.tie.tolist() == [False, False, False, True, True, False, False, False]
    assert load_pairs(path).models == ("x", "y", "z")
    path.write_text(json.dumps({"models": ["x"], "X": [[0, 3]], "Y": [[1, 0, 0, 0]]}))
    with pytest.raises(InvalidInput, match="out of range"):
        load_chatbot_arena_counts(path)
    assert np.asarray(pairs.winner).dtype == np.int64
