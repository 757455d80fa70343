"""Build a small K-Sort Eval dataset folder whose image qualities encode the models' strengths."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from karena.judge.outputs import prompt_key
from tests.judge.judge_server import quality_clip, quality_image


def red_of(x: float) -> float:
    """Map a perceived quality on the μ scale to a red value."""
    return 128.0 + 6.0 * (x - 23.0)


@dataclass(frozen=True)
class Dataset:
    root: Path
    outputs: Path
    board: dict[str, tuple[float, float]]
    new_mu: float


def build_dataset(
    root: Path,
    *,
    n_models: int = 12,
    n_instances: int = 150,
    new_mu: float = 24.3,
    noise: float = 2.0,
    seed: int = 0,
    video: bool = False,
) -> Dataset:
    """Write Image/<id>/result.json + 0..3.jpg, Image_meta/ leaderboard, and outputs/ by prompt."""
    rng = np.random.default_rng(seed)
    mus = np.linspace(15.0, 31.0, n_models)
    board = {f"M{i:02d}": (float(m), 0.8) for i, m in enumerate(mus)}
    names = list(board)
    image_dir = root / ("Video" if video else "Image")
    meta = root / ("Video_meta" if video else "Image_meta")
    make, ext = (quality_clip, ".gif") if video else (quality_image, ".jpg")
    outputs = root / "outputs"
    for d in (image_dir, meta, outputs):
        d.mkdir(parents=True)
    entries = [
        {"🤖 Model": n, "⭐ Score (μ/σ)": f"{m - 3 * s:.2f} ({m:.2f}/{s:.3f})"}
        for n, (m, s) in board.items()
    ]
    (meta / f"Arena-Leaderboard-{'Video' if video else 'Image'}.json").write_text(
        json.dumps({"sorted_score_list": entries}), encoding="utf-8"
    )
    for i in range(n_instances):
        pick = rng.choice(n_models, size=4, replace=False)
        seen = [board[names[j]][0] + rng.normal(0.0, noise) for j in pick]
        ranks = [int(r) for r in np.argsort(np.argsort(-np.array(seen)))]  # 0 = best
        prompt = f"prompt number {i}: a red square"
        folder = image_dir / f"{i:04d}"
        folder.mkdir()
        result = {
            "prompt": [prompt],
            "img_rank": ranks,
            "models_name": [f"x_{names[j]}" for j in pick],
        }
        (folder / "result.json").write_text(json.dumps(result), encoding="utf-8")
        for slot, x in enumerate(seen):
            (folder / f"{slot}{ext}").write_bytes(make(red_of(x)))
        new_seen = new_mu + rng.normal(0.0, noise)
        (outputs / f"{prompt_key(prompt)}{ext}").write_bytes(make(red_of(new_seen)))
    return Dataset(root, outputs, board, new_mu)
