"""The compiled vote-log scanner agrees with the reference reader, or hands over to it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from karena.errors import InvalidVote
from karena.rating.replay import encode_votes
from karena.rating.vote_log import read_vote_arrays, read_vote_log
from karena.rating.vote_scan import scan

NAMES = ["a", "b", "model-3", "Ünïcode", "x y", "日本", "m\u00e9"]


def _reference(text: str) -> tuple[list[list[int]], list[list[int]], tuple[object, ...]]:
    arrays = encode_votes(read_vote_log(text.split("\n")))
    return arrays.models.tolist(), arrays.ranks.tolist(), arrays.ids


@st.composite
def records(draw: st.DrawFn) -> dict[str, object]:
    k = draw(st.integers(2, 6))
    models = draw(st.permutations(NAMES))[:k]
    form = draw(st.sampled_from(["ranking", "mode", "winner", "result", "extra"]))
    record: dict[str, object] = {"models": models}
    ranks = draw(st.lists(st.integers(1, k), min_size=k, max_size=k))
    if form == "ranking":
        record["ranking"] = ranks
    elif form == "mode":
        kind = draw(st.sampled_from(["rank", "best", "tie", "all_bad"]))
        if kind == "best":
            w = draw(st.integers(0, k - 1))
            ranks = [1 if i == w else 2 for i in range(k)]
        record.update(mode=kind, ranks=ranks)
        record["counted"] = draw(st.booleans())
        record["seq"] = draw(st.integers(1, 10**6))
        record["client"] = json.dumps({"ua": 'x"y'})
        record["output_sha256"] = ["ab", "cd"]
    elif form == "winner":
        record["winner"] = draw(
            st.one_of(st.none(), st.integers(0, k - 1), st.sampled_from(models))
        )
    elif form == "result":
        record["models"] = models[:2]
        record["result"] = draw(st.sampled_from(["win", "loss", "tie", "both_bad"]))
    else:
        record["ranking"] = ranks
        record["prompt"] = draw(st.text(max_size=20).filter(lambda t: "\n" not in t))
        record["score"] = draw(st.floats(allow_nan=False, allow_infinity=False))
        record["flag"] = draw(st.sampled_from([True, False, None]))
    return record


@settings(max_examples=200, deadline=None)
@given(log=st.lists(records(), min_size=1, max_size=30), ascii_only=st.booleans())
def test_scanner_equals_the_reference_reader(
    log: list[dict[str, object]], ascii_only: bool
) -> None:
    text = "\n".join(json.dumps(r, ensure_ascii=ascii_only) for r in log) + "\n"
    data = text.encode("utf-8")
    got = read_vote_arrays(data)
    want_models, want_ranks, want_ids = _reference(text)
    assert got.ids == want_ids
    assert got.models.tolist() == want_models
    assert got.ranks.tolist() == want_ranks


def test_scanner_reads_the_common_shapes_itself() -> None:
    """Plain logs must take the compiled path, or replay loses its speed."""
    lines = [
        {"models": ["a", "b", "c", "d"], "ranking": [2, 1, 4, 3]},
        {"models": ["a", "b", "c", "d"], "winner": "c"},
        {"models": ["a", "b"], "result": "both_bad"},
        {"seq": 3, "mode": "best", "ranks": [2, 1, 2], "models": ["b", "c", "e"], "k": 3,
         "counted": True, "client": "{}", "output_sha256": ["x", "y", "z"]},
        {"models": ["a", "e"], "mode": "rank", "ranks": [1, 2], "counted": False},
    ]  # fmt: skip
    data = ("# a comment\n\n" + "\n".join(json.dumps(r) for r in lines)).encode()
    scanned = scan(data)
    assert not isinstance(scanned, int)
    models, ranks, ids = scanned
    assert ids == ("a", "b", "c", "d", "e")
    assert models.tolist() == [[0, 1, 2, 3], [0, 1, 2, 3], [0, 1, -1, -1], [1, 2, 4, -1]]
    assert ranks.tolist() == [[2, 1, 4, 3], [0, 0, 1, 0], [1, 1, 0, 0], [0, 1, 0, 0]]


@pytest.mark.parametrize(
    "line",
    [
        '{"models": ["a", "b"], "ranking": [1.0, 2]}',  # integral floats: the reference accepts
        '{"models": ["a\\u0062", "b"], "ranking": [1, 2]}',  # an escape inside a name
        '{"mod\\u0065ls": ["a", "b"], "ranking": [1, 2]}',  # an escaped key
        '{"models": ["a", "b"], "ranking": [1, 2], "extra": {"nested": [1]}}',
        '{"models": [1, 2], "ranking": [1, 2]}',  # integer model ids
        '{"models": ["a", "b"], "ranking": [1, 2], "x": NaN}',
    ],
)
def test_unusual_lines_go_to_the_reference_reader(line: str) -> None:
    data = (line + "\n").encode()
    assert isinstance(scan(data), int)
    want = encode_votes(read_vote_log([line]))
    got = read_vote_arrays(data)
    assert got.ids == want.ids and np.array_equal(got.models, want.models)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"models": ["a", "b"], "ranking": [1, 3]}', "line 2: rank of position 1 must be in 1..2"),
        ('{"models": ["a", "a"], "ranking": [1, 2]}', "line 2: duplicate models"),
        ('{"models": ["a", "b"], "ranking": [1, 2],}', "line 2: not valid JSON"),
        ('{"models": ["a", "b"], "ranking": [1, 2], "x": tru}', "line 2: not valid JSON"),
        ('{"models": ["a", "b"], "winner": "c"}', "line 2: \"winner\" 'c' is neither"),
        ('{"models": ["a", "b", "c"], "result": "win"}', "line 2: outcome is for K=2"),
        ('{"models": ["a", "b"], "ranking": [1, 2], "winner": 0}', "line 2: a vote needs exactly"),
    ],
)
def test_bad_lines_get_the_reference_error(line: str, message: str) -> None:
    data = ('{"models": ["a", "b"], "ranking": [1, 2]}\n' + line + "\n").encode()
    assert scan(data) == 2
    with pytest.raises(InvalidVote, match=message.replace("(", r"\(").replace(".", r"\.")):
        read_vote_arrays(data)
