"""Reward export (Parquet, JSONL, summary) and the ``karena rewards`` command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from karena.cli.main import build_app
from karena.errors import InvalidInput
from karena.reward.capabilities import fit_capabilities
from karena.reward.export import (
    REWARD_COLUMNS,
    compute_rewards,
    read_rewards,
    write_jsonl,
    write_parquet,
    write_summary,
)
from karena.reward.gaps import truncated_gap_moments
from karena.reward.pairs import PairSet


def _pairs() -> PairSet:
    rng = np.random.default_rng(0)
    n = 300
    w = rng.integers(0, 4, n)
    lo = (w + rng.integers(1, 4, n)) % 4
    w = np.where(rng.random(n) < 0.8, np.minimum(w, lo), w)  # lower index wins more often
    lo2 = np.where(w == lo, (w + 1) % 4, lo)
    meta = {
        "caption": np.array([f"prompt {i}" for i in range(n)], dtype=object),
        "image_w": np.array([f"w{i}.png" for i in range(n)], dtype=object),
        "image_l": np.array([f"l{i}.png" for i in range(n)], dtype=object),
    }
    return PairSet(("A", "B", "C", "D"), w, lo2, rng.random(n) < 0.1, meta)


def test_rewards_are_the_gap_moments_of_the_fitted_capabilities(tmp_path: Path) -> None:
    pairs = _pairs()
    caps = fit_capabilities(pairs, passes=2, rng=np.random.default_rng(1))
    table = compute_rewards(pairs, caps)
    i = int(np.flatnonzero(~pairs.tie)[0])
    a, b = pairs.winner[i], pairs.loser[i]
    s = np.sqrt(caps.sigma[a] ** 2 + caps.sigma[b] ** 2 + 2 * caps.beta**2)
    expected = truncated_gap_moments([caps.mu[a] - caps.mu[b]], [s])
    assert table.columns["gap_mean"][i] == pytest.approx(expected.mean[0], rel=1e-14)
    assert table.columns["gap_var"][i] == pytest.approx(expected.var[0], rel=1e-14)
    assert table.columns["gap_s"][i] == pytest.approx(s, rel=1e-14)
    untied = ~pairs.tie
    assert table.columns["gap_norm"][untied].mean() == pytest.approx(1.0)
    assert (table.columns["gap_mean"][pairs.tie] == 0).all()

    pq_path = write_parquet(table, tmp_path / "r.parquet")
    js_path = write_jsonl(table, tmp_path / "r.jsonl", chunk=64)
    for back in (read_rewards(pq_path), read_rewards(js_path)):
        assert list(back.columns)[: len(REWARD_COLUMNS)] == list(REWARD_COLUMNS)
        np.testing.assert_array_equal(back.columns["gap_norm"], table.columns["gap_norm"])
        assert back.columns["image_w"].tolist() == table.columns["image_w"].tolist()
    first = json.loads(js_path.read_text().splitlines()[0])
    assert first["pair"] == 0 and first["caption"] == "prompt 0"

    files = write_summary(caps, table, tmp_path / "summary")
    names = {p.name for p in files}
    assert names == {"capabilities.csv", "capabilities.md", "gaps_hist.png", "summary.json"}
    assert (tmp_path / "summary" / "gaps_hist.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((tmp_path / "summary" / "summary.json").read_text())
    assert summary["pairs"] == 300 and summary["ties"] == int(pairs.tie.sum())
    assert "| 1 | A |" in (tmp_path / "summary" / "capabilities.md").read_text()


def test_read_rewards_rejects_other_files(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n')
    with pytest.raises(InvalidInput, match="not a karena rewards file"):
        read_rewards(path)


def _write_pickapic(path: Path) -> None:
    rng = np.random.default_rng(3)
    rows = []
    models = ["sdxl", "sd15", "sd21", "dalle"]
    for i in range(200):
        m0, m1 = rng.choice(4, 2, replace=False)
        label = [(1.0, 0.0), (0.0, 1.0), (0.5, 0.5)][int(rng.integers(0, 3))]
        rows.append({"caption": f"c{i}", "image_0_uid": f"a{i}", "image_1_uid": f"b{i}",
                     "label_0": label[0], "label_1": label[1],
                     "model_0": models[m0], "model_1": models[m1]})  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def test_cli_rewards_writes_every_output(tmp_path: Path) -> None:
    src = tmp_path / "pap.jsonl"
    _write_pickapic(src)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        build_app(), ["rewards", str(src), "--out", str(out), "--passes", "2", "--seed", "7"]
    )
    assert result.exit_code == 0, result.output
    for name in ("rewards.parquet", "rewards.jsonl", "capabilities.csv", "gaps_hist.png"):
        assert (out / name).is_file()
    table = pq.read_table(out / "rewards.parquet")
    assert table.num_rows == 200
    assert set(REWARD_COLUMNS) <= set(table.column_names)


def test_cli_rewards_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"model_0": "a", "model_1": "b", "label_0": 3, "label_1": 0}\n')
    proc = subprocess.run(
        [sys.executable, "-m", "karena.cli.main", "rewards", str(bad), "-o", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "labels must be" in proc.stderr
