"""Loaders for the public rating data under ../shared/data (see its README for sources)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from karena.errors import InvalidInput, NotFound
from karena.rating.bradley_terry import PairCounts

__all__ = ["load_chatbot_arena"]


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
