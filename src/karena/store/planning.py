"""Planning a battle: K contestants from the arena's matchmaker and a prompt all K can show.

Pure functions of a cached :class:`~karena.store.arena_cache.ArenaCatalog` and a
:class:`~karena.matchmaking.base.MatchState`: no database access, so opening a battle costs one
version check and two inserts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from karena.errors import InvalidInput, NotFound
from karena.matchmaking.base import MatchState
from karena.matchmaking.registry import matchmaker
from karena.store.arena_cache import ArenaCatalog, ModelRow

__all__ = ["BattlePlan", "pick_models", "plan_battle", "plan_for_prompt"]

#: Attempts at finding a prompt for a fresh selection before giving up.
MAX_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class BattlePlan:
    """What a new battle will show: the prompt and, in display order, models and outputs."""

    arena_id: int
    arena_slug: str
    prompt_id: int
    prompt_text: str
    model_ids: tuple[int, ...]
    output_ids: tuple[int, ...]
    content_types: tuple[str, ...]
    kinds: tuple[str, ...]


def _select(catalog: ArenaCatalog, state: MatchState, rng: np.random.Generator) -> list[int]:
    mm = matchmaker(catalog.matchmaker, catalog.matchmaker_params)
    try:
        chosen = mm.select(state, catalog.k, rng)
    except InvalidInput:
        if not state.busy:
            raise
        # Every enabled model is in a running battle: ignore "busy" rather than refuse to serve.
        relaxed = MatchState(
            state.ratings, state.pair_counts, frozenset(), state.disabled, state.paired
        )
        chosen = mm.select(relaxed, catalog.k, rng)
    return [catalog.models[i].id for i in chosen]


def pick_models(
    catalog: ArenaCatalog, state: MatchState, *, rng: np.random.Generator, only: set[str]
) -> list[ModelRow]:
    """K models chosen by the matchmaker among the enabled ones named in ``only``."""
    restricted = MatchState(
        state.ratings,
        state.pair_counts,
        state.busy,
        state.disabled | frozenset(j for j, m in enumerate(catalog.models) if m.name not in only),
        state.paired,
    )
    if restricted.n_available < catalog.k:
        raise InvalidInput(f"need K={catalog.k} enabled models with generators")
    by_id = {m.id: m for m in catalog.models}
    return [by_id[m] for m in _select(catalog, restricted, rng)]


def plan_for_prompt(
    catalog: ArenaCatalog, prompt_id: int, model_ids: Sequence[int], rng: np.random.Generator
) -> BattlePlan:
    """Fix the display order (shuffled, so the pivot is not always A) and look up the outputs."""
    missing = [m for m in model_ids if (prompt_id, m) not in catalog.outputs]
    if missing:
        raise NotFound(f"outputs missing for models {missing} on prompt {prompt_id}")
    order = [int(model_ids[int(i)]) for i in rng.permutation(len(model_ids))]
    refs = [catalog.outputs[(prompt_id, m)] for m in order]
    return BattlePlan(
        arena_id=catalog.id,
        arena_slug=catalog.slug,
        prompt_id=prompt_id,
        prompt_text=catalog.prompt_texts[prompt_id],
        model_ids=tuple(order),
        output_ids=tuple(r.id for r in refs),
        content_types=tuple(r.content_type for r in refs),
        kinds=tuple(r.kind for r in refs),
    )


def plan_battle(
    catalog: ArenaCatalog, state: MatchState, *, rng: np.random.Generator
) -> BattlePlan:
    """The matchmaker's K models and a random prompt all of them have an output for.

    When no prompt covers the matchmaker's choice, a prompt is drawn first and the matchmaker
    chooses again among the models that have an output for it.
    """
    k = catalog.k
    if state.n_available < k:
        raise NotFound(
            f"arena {catalog.slug!r} has {state.n_available} enabled models; a battle needs K={k}"
        )
    chosen = _select(catalog, state, rng)
    columns = [catalog.index[m] for m in chosen]
    complete = catalog.prompt_ids[catalog.coverage[:, columns].all(axis=1)]
    if complete.size:
        prompt_id = int(complete[int(rng.integers(complete.size))])
        return plan_for_prompt(catalog, prompt_id, chosen, rng)
    enabled = np.ones(len(catalog.models), dtype=np.bool_)
    enabled[list(state.disabled)] = False
    rows = np.flatnonzero((catalog.coverage & enabled).sum(axis=1) >= k)
    if rows.size == 0:
        raise NotFound(
            f"arena {catalog.slug!r} has no prompt with outputs from K={k} enabled models"
        )
    for _ in range(MAX_ATTEMPTS):
        row = int(rows[int(rng.integers(rows.size))])
        lacking = frozenset(np.flatnonzero(~catalog.coverage[row]).tolist())
        restricted = MatchState(
            state.ratings, state.pair_counts, state.busy, state.disabled | lacking, state.paired
        )
        if restricted.n_available < k:
            continue
        chosen = _select(catalog, restricted, rng)
        return plan_for_prompt(catalog, int(catalog.prompt_ids[row]), chosen, rng)
    raise NotFound(f"arena {catalog.slug!r}: no prompt found with outputs from K={k} models")
