"""Choosing a battle: K contestants from the arena's matchmaker and a prompt all K can show."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from karena.errors import InvalidInput, NotFound
from karena.matchmaking.base import MatchState
from karena.rating.types import Rating
from karena.store.models import Arena, Battle, BattleSlot, Model, Output, Prompt, RatingRow
from karena.store.ratings import load_pair_counts, model_for_arena
from karena.store.registry import matchmaker

__all__ = ["BattlePlan", "pick_models", "plan_battle", "plan_for_prompt", "slots_of"]

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


def slots_of(s: Session, battle_id: int) -> list[BattleSlot]:
    """A battle's slots in display order."""
    return list(
        s.scalars(
            select(BattleSlot)
            .where(BattleSlot.battle_id == battle_id)
            .order_by(BattleSlot.position)
        )
    )


def _match_state(
    s: Session, arena: Arena, models: list[ModelRow], now: datetime, only: set[str] | None
) -> MatchState:
    index = {m.id: i for i, m in enumerate(models)}
    ratings = {
        int(mid): Rating(mu, sigma)
        for mid, mu, sigma in s.connection().execute(
            select(RatingRow.model_id, RatingRow.mu, RatingRow.sigma).where(
                RatingRow.arena_id == arena.id
            )
        )
    }
    prior = model_for_arena(arena).initial()
    busy_ids = set(
        s.connection().scalars(
            select(BattleSlot.model_id)
            .join(Battle, Battle.id == BattleSlot.battle_id)
            .where(Battle.arena_id == arena.id, Battle.state == "open", Battle.expires_at > now)
            .distinct()
        )
    )
    disabled = {
        i
        for i, m in enumerate(models)
        if not m.enabled or (only is not None and m.name not in only)
    }
    return MatchState(
        ratings=tuple(ratings.get(m.id, prior) for m in models),
        pair_counts=load_pair_counts(s, arena.id, index),
        busy=frozenset(index[mid] for mid in busy_ids if mid in index),
        disabled=frozenset(disabled),
    )


def _select(arena: Arena, state: MatchState, rng: np.random.Generator) -> tuple[int, ...]:
    mm = matchmaker(arena.matchmaker, arena.matchmaker_params)
    try:
        return mm.select(state, arena.k, rng)
    except InvalidInput:
        if not state.busy:
            raise
        # Every enabled model is in a running battle: ignore "busy" rather than refuse to serve.
        relaxed = MatchState(state.ratings, state.pair_counts, frozenset(), state.disabled)
        return mm.select(relaxed, arena.k, rng)


class ModelRow(NamedTuple):
    """The model columns matchmaking needs (plain tuples: cheaper than ORM objects)."""

    id: int
    name: str
    enabled: bool
    generator: dict[str, object] | None


def _arena_models(s: Session, arena: Arena) -> list[ModelRow]:
    rows = (
        s.connection()
        .execute(
            select(Model.id, Model.name, Model.enabled, Model.generator)
            .where(Model.arena_id == arena.id)
            .order_by(Model.id)
        )
        .all()
    )
    return [ModelRow(int(i), str(n), bool(e), g) for i, n, e, g in rows]


def pick_models(
    s: Session, arena: Arena, *, rng: np.random.Generator, now: datetime, only: set[str]
) -> list[tuple[int, str, dict[str, object] | None]]:
    """K models (id, name, generator config) chosen by the matchmaker among ``only``."""
    models = _arena_models(s, arena)
    state = _match_state(s, arena, models, now, only)
    if len(state.available()) < arena.k:
        raise InvalidInput(f"need K={arena.k} enabled models with generators")
    return [(models[i].id, models[i].name, models[i].generator) for i in _select(arena, state, rng)]


def plan_for_prompt(
    s: Session, arena_id: int, prompt_id: int, model_ids: Sequence[int], rng: np.random.Generator
) -> BattlePlan:
    """Fix the display order (shuffled, so the pivot is not always A) and look up the outputs."""
    rows = (
        s.connection()
        .execute(
            select(Output.model_id, Output.id, Output.content_type, Output.kind).where(
                Output.prompt_id == prompt_id, Output.model_id.in_(list(model_ids))
            )
        )
        .all()
    )
    outputs = {int(mid): (int(oid), str(ct), str(kind)) for mid, oid, ct, kind in rows}
    missing = [m for m in model_ids if m not in outputs]
    if missing:
        raise NotFound(f"outputs missing for models {missing} on prompt {prompt_id}")
    slug, text = (
        s.connection()
        .execute(
            select(Arena.slug, Prompt.text)
            .join(Prompt, Prompt.arena_id == Arena.id)
            .where(Prompt.id == prompt_id, Arena.id == arena_id)
        )
        .one()
    )
    order = [int(model_ids[int(i)]) for i in rng.permutation(len(model_ids))]
    return BattlePlan(
        arena_id=arena_id,
        arena_slug=str(slug),
        prompt_id=prompt_id,
        prompt_text=str(text),
        model_ids=tuple(order),
        output_ids=tuple(outputs[m][0] for m in order),
        content_types=tuple(outputs[m][1] for m in order),
        kinds=tuple(outputs[m][2] for m in order),
    )


def _complete_prompts(s: Session, model_ids: Sequence[int]) -> list[int]:
    return list(
        s.connection().scalars(
            select(Output.prompt_id)
            .where(Output.model_id.in_(list(model_ids)))
            .group_by(Output.prompt_id)
            .having(func.count(Output.model_id) == len(model_ids))
            .order_by(Output.prompt_id)
        )
    )


def plan_battle(s: Session, arena: Arena, *, rng: np.random.Generator, now: datetime) -> BattlePlan:
    """The matchmaker's K models and a random prompt all of them have an output for.

    When no prompt covers the matchmaker's choice, a prompt is drawn first and the matchmaker
    chooses again among the models that have an output for it.
    """
    models = _arena_models(s, arena)
    state = _match_state(s, arena, models, now, None)
    if len(state.available()) < arena.k:
        raise NotFound(
            f"arena {arena.slug!r} has {len(state.available())} enabled models; a battle needs "
            f"K={arena.k}"
        )
    chosen = [models[i].id for i in _select(arena, state, rng)]
    prompts = _complete_prompts(s, chosen)
    if prompts:
        return plan_for_prompt(s, arena.id, prompts[int(rng.integers(len(prompts)))], chosen, rng)
    enabled_ids = [m.id for i, m in enumerate(models) if i not in state.disabled]
    candidates = list(
        s.scalars(
            select(Output.prompt_id)
            .where(Output.model_id.in_(enabled_ids))
            .group_by(Output.prompt_id)
            .having(func.count(Output.model_id) >= arena.k)
            .order_by(Output.prompt_id)
        )
    )
    if not candidates:
        raise NotFound(
            f"arena {arena.slug!r} has no prompt with outputs from K={arena.k} enabled models"
        )
    index = {m.id: i for i, m in enumerate(models)}
    for _ in range(MAX_ATTEMPTS):
        prompt_id = candidates[int(rng.integers(len(candidates)))]
        have = set(s.scalars(select(Output.model_id).where(Output.prompt_id == prompt_id)))
        lacking = {i for mid, i in index.items() if mid not in have}
        restricted = MatchState(
            state.ratings, state.pair_counts, state.busy, state.disabled | frozenset(lacking)
        )
        if len(restricted.available()) < arena.k:
            continue
        chosen = [models[i].id for i in _select(arena, restricted, rng)]
        return plan_for_prompt(s, arena.id, prompt_id, chosen, rng)
    raise NotFound(f"arena {arena.slug!r}: no prompt found with outputs from K={arena.k} models")
