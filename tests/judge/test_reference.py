"""Reference sets from a K-Sort Eval dataset folder (the released layout) and the board JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from karena.errors import InvalidInput, NotFound
from karena.judge.reference import load_ksort_folder, load_leaderboard, resolve_model_name
from karena.rating.types import Rating
from tests.judge.dataset import build_dataset


def test_loads_the_released_layout(tmp_path: Path) -> None:
    ds = build_dataset(tmp_path, n_models=6, n_instances=5)
    ref, problems = load_ksort_folder(tmp_path)
    assert problems == [] and len(ref.instances) == 5 and ref.modality == "image"
    inst = ref.instances[0]
    assert inst.prompt.startswith("prompt number 0") and inst.k == 4
    assert all(m in ds.board for m in inst.models)  # "x_M03" resolved to "M03"
    assert sorted(inst.human_ranks) == [0.0, 1.0, 2.0, 3.0]
    assert all(p.suffix == ".jpg" and p.is_file() for p in inst.media)
    assert ref.board["M00"] == Rating(15.0, 0.8)
    assert ref.fingerprint() == load_ksort_folder(tmp_path)[0].fingerprint()


def test_agreement_filter(tmp_path: Path) -> None:
    build_dataset(tmp_path, n_models=6, n_instances=30, noise=6.0)
    everything, _ = load_ksort_folder(tmp_path)
    agreeing, _ = load_ksort_folder(tmp_path, min_agreement=0.75)
    assert 0 < len(agreeing.instances) < len(everything.instances)


def test_broken_instance_folders_are_named_or_skipped(tmp_path: Path) -> None:
    build_dataset(tmp_path, n_models=6, n_instances=4)
    (tmp_path / "Image" / "0001" / "2.jpg").unlink()
    bad = tmp_path / "Image" / "0002" / "result.json"
    bad.write_text(
        json.dumps({"prompt": ["p"], "img_rank": [0, 1, 2, 3], "models_name": ["a", "b", "c", "d"]})
    )
    with pytest.raises(InvalidInput, match="2 bad instance folder") as info:
        load_ksort_folder(tmp_path)
    assert (
        "0001: output file 2.jpg" in info.value.message
        and "'a' is not on the leaderboard" in info.value.message
    )
    ref, problems = load_ksort_folder(tmp_path, skip_bad=True)
    assert len(ref.instances) == 2 and len(problems) == 2


def test_leaderboard_formats(tmp_path: Path) -> None:
    ksort = tmp_path / "a.json"
    ksort.write_text(
        json.dumps(
            {
                "sorted_score_list": [
                    {"🤖 Model": "FLUX.1-dev", "⭐ Score (μ/σ)": "26.4 (28.83/0.81)"}
                ]
            }
        )
    )
    assert load_leaderboard(ksort) == {"FLUX.1-dev": Rating(28.83, 0.81)}
    plain = tmp_path / "b.json"
    plain.write_text(json.dumps([{"name": "m", "mu": 20, "sigma": 1}]))
    assert load_leaderboard(plain) == {"m": Rating(20.0, 1.0)}
    mapping = tmp_path / "c.json"
    mapping.write_text(json.dumps({"m": {"mu": 20, "sigma": 1}}))
    assert load_leaderboard(mapping) == {"m": Rating(20.0, 1.0)}
    broken = tmp_path / "d.json"
    broken.write_text("{not json")
    with pytest.raises(InvalidInput, match="not valid JSON"):
        load_leaderboard(broken)
    with pytest.raises(NotFound):
        load_leaderboard(tmp_path / "missing.json")


def test_model_name_resolution() -> None:
    board = {n: Rating(20, 1) for n in ("LCM-v1.5", "CogVideoX-5b", "Sora (release)", "SDXL")}
    assert resolve_model_name("imagenhub_LCM", board) == "LCM-v1.5"
    assert resolve_model_name("fal_Cogvideox-5b_text2video", board) == "CogVideoX-5b"
    assert resolve_model_name("x_Sora-release", board) == "Sora (release)"
    assert resolve_model_name("SDXL", board) == "SDXL"
    assert resolve_model_name("x_unknown", board) is None


def test_missing_folder_or_leaderboard(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        load_ksort_folder(tmp_path / "nope")
    (tmp_path / "Image").mkdir()
    with pytest.raises(InvalidInput, match="--leaderboard"):
        load_ksort_folder(tmp_path)
