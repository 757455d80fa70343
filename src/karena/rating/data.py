"""Loaders for the public rating data under ../shared/data (see its README for sources)."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import Literal

import numpy as np

from karena.errors import InvalidInput, NotFound
from karena.rating.pair_counts import PairCounts

__all__ = ["load_agiqa3k_rankings", "load_chatbot_arena"]


def load_chatbot_arena(path: str | Path) -> PairCounts:
    """Read the aggregated Chatbot Arena votes (the ``leaderbot`` JSON) as :class:`PairCounts`.

    The file holds ``models``, ``X`` (one ``[i, j]`` per pair) and ``Y`` (``[wins_i, wins_j,
    ties, both_bad]`` per pair). "Both bad" is folded into ``ties``, as FastChat's leaderboard does.
    """
    file = Path(path)
    if not file.is_file():
        raise NotFound(f"Chatbot Arena data not found at {file}")
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
        models = [str(name) for name in raw["models"]]
        pairs = np.asarray(raw["X"], dtype=np.intp)
        outcomes = np.asarray(raw["Y"], dtype=np.float64)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"{file} is not a Chatbot Arena pair-count file: {exc}") from None
    if pairs.ndim != 2 or pairs.shape[1] != 2 or outcomes.shape != (len(pairs), 4):
        raise InvalidInput(
            f"{file}: expected X of shape (n, 2) and Y of shape (n, 4), "
            f"got {pairs.shape} and {outcomes.shape}"
        )
    return PairCounts(
        tuple(models),
        pairs[:, 0],
        pairs[:, 1],
        outcomes[:, 0],
        outcomes[:, 1],
        outcomes[:, 2] + outcomes[:, 3],
    )


def load_agiqa3k_rankings(
    path: str | Path,
    score: Literal["quality", "alignment"] = "quality",
    variant: str = "normal",
) -> tuple[tuple[str, ...], list[list[tuple[int, ...]]]]:
    """Read AGIQA-3K as one K-wise ranking per prompt, for :func:`fit_plackett_luce`.

    Each image is named ``<model>_<variant>_<id>``; for every prompt, the models' ``variant``
    images are ranked by their mean opinion score (``mos_quality`` or ``mos_align``), best first.
    Equal scores share a place. Prompts with fewer than two models are dropped.
    """
    file = Path(path)
    if not file.is_file():
        raise NotFound(f"AGIQA-3K data not found at {file}")
    if score not in ("quality", "alignment"):
        raise InvalidInput(f"score must be 'quality' or 'alignment', got {score!r}")
    column = "mos_quality" if score == "quality" else "mos_align"
    by_prompt: dict[str, dict[str, float]] = defaultdict(dict)
    try:
        with file.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                model, kind, _ = row["name"].rsplit("_", 2)
                if kind == variant:
                    by_prompt[row["prompt"]][model] = float(row[column])
    except (OSError, ValueError, KeyError) as exc:
        raise InvalidInput(f"{file} is not an AGIQA-3K table: {exc}") from None
    models = tuple(sorted({m for scores in by_prompt.values() for m in scores}))
    index = {m: k for k, m in enumerate(models)}
    rankings: list[list[tuple[int, ...]]] = []
    for scores in by_prompt.values():
        if len(scores) < 2:
            continue
        levels = sorted(set(scores.values()), reverse=True)
        rankings.append(
            [tuple(index[m] for m, v in sorted(scores.items()) if v == level) for level in levels]
        )
    if not rankings:
        raise InvalidInput(f"{file} holds no prompt with two or more {variant!r} images")
    return models, rankings
