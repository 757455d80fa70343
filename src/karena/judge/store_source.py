"""The arena's stored battles as a K-Sort Eval reference set (through the Store API only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from karena.errors import InvalidInput
from karena.judge.reference import (
    DEFAULT_MIN_AGREEMENT,
    Instance,
    ReferenceSet,
    agreement_with_board,
)
from karena.rating.types import Rating

if TYPE_CHECKING:
    from karena.store.api import Store

__all__ = ["load_from_store"]


def load_from_store(
    store: Store,
    *,
    arena: str,
    min_agreement: float = DEFAULT_MIN_AGREEMENT,
    limit: int | None = None,
) -> tuple[ReferenceSet, dict[str, int]]:
    """Voted battles of ``arena`` whose human ranking agrees with the leaderboard.

    An instance is kept when Spearman(human ranks, board order by μ) > ``min_agreement``
    (K-Sort Eval keeps ρ > 0.75). Battles with a model no longer on the board, a missing media
    file, or an all-way tie (ρ undefined, taken as 0) are dropped. Returns the set and counts of
    what was kept and dropped.
    """
    info = store.catalog.get_arena(slug=arena)
    rows = store.boards.leaderboard(arena=arena, include_disabled=True)
    board = {r.model_name: Rating(r.mu, r.sigma) for r in rows}
    battles = store.boards.reference_battles(arena=arena, limit=limit)
    counts = {"battles": len(battles), "kept": 0, "disagree": 0, "unknown_model": 0, "no_media": 0}
    instances: list[Instance] = []
    for b in battles:
        if any(m not in board for m in b.models):
            counts["unknown_model"] += 1
            continue
        if not all(p.is_file() for p in b.media_paths):
            counts["no_media"] += 1
            continue
        ranks = tuple(float(r) for r in b.ranks)
        rho = agreement_with_board(ranks, [board[m] for m in b.models])
        if not rho > min_agreement:
            counts["disagree"] += 1
            continue
        instances.append(Instance(f"battle-{b.seq}", b.prompt_text, b.models, ranks, b.media_paths))
    counts["kept"] = len(instances)
    if not instances:
        raise InvalidInput(
            f"arena {arena!r} has no voted battle whose ranking agrees with the leaderboard"
            f" (Spearman > {min_agreement}; {counts})",
            detail=counts,
        )
    modality = info.modality if info.modality in ("image", "video") else "image"
    return ReferenceSet(tuple(instances), board, modality, f"arena:{arena}"), counts
