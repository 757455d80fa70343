"""A small K-Sort Eval reference folder whose hidden image qualities make the true order known."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.reliability.fake_judge import quality_image

N_MODELS = 8


@dataclass(frozen=True, slots=True)
class ReferenceData:
    """Paths for ``karena eval`` and the hidden quality of every image, by instance id."""

    reference: Path
    leaderboard: Path
    outputs: Path
    #: instance id -> qualities of outputs 0..K-1, then the new model's output last.
    qualities: dict[str, tuple[int, ...]]


def build_reference(root: Path, *, instances: int = 24, seed: int = 0) -> ReferenceData:
    """Write ``Image/<id>/result.json`` + ``0..3.jpg``, a leaderboard and the new model's outputs.

    Model ``i`` has μ = 15 + 2i and renders at red = 40 + 20i; the new model sits between
    models 3 and 4 (red 110), so every image in a run has a distinct quality.
    """
    from karena.judge.outputs import prompt_key

    rng = np.random.default_rng(seed)
    reference, outputs = root / "Image", root / "outputs"
    reference.mkdir(parents=True)
    outputs.mkdir(parents=True)
    board = [{"name": f"M{i}", "mu": 15.0 + 2.0 * i, "sigma": 0.8} for i in range(N_MODELS)]
    leaderboard = root / "leaderboard.json"
    leaderboard.write_text(json.dumps(board), encoding="utf-8")
    qualities: dict[str, tuple[int, ...]] = {}
    for n in range(instances):
        picked = sorted(int(i) for i in rng.choice(N_MODELS, size=4, replace=False))
        reds = [40 + 20 * i for i in picked]
        ranks = [int(r) for r in np.argsort(np.argsort(-np.array(reds)))]  # 0 = best
        prompt = f"reliability prompt {n}: {len(picked)} blue cubes"
        folder = reference / f"{n:04d}"
        folder.mkdir()
        result = {"prompt": [prompt], "img_rank": ranks, "models_name": [f"M{i}" for i in picked]}
        (folder / "result.json").write_text(json.dumps(result), encoding="utf-8")
        for slot, red in enumerate(reds):
            (folder / f"{slot}.jpg").write_bytes(quality_image(red))
        (outputs / f"{prompt_key(prompt)}.jpg").write_bytes(quality_image(110))
        qualities[folder.name] = (*reds, 110)
    return ReferenceData(reference, leaderboard, outputs, qualities)


def true_judge_order(qualities: tuple[int, ...], shown: list[int]) -> list[int]:
    """0-based display positions, best first, for outputs shown in order ``shown``."""
    return sorted(range(len(shown)), key=lambda pos: (-qualities[shown[pos]], pos))
