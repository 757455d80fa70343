"""Live generators: models whose outputs are made on demand, for battles on typed prompts.

A model gets a live generator in one of two ways: a JSON config stored with it (checked here
by :meth:`LiveGenerators.add_model`, built by :mod:`karena.generators.registry` when needed),
or a Python object attached in this process with :meth:`LiveGenerators.register_generator`.
The store keeps the config as data and never imports a generator; this layer sits above both.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping

import numpy as np

from karena.errors import Conflict
from karena.generators.base import Generator
from karena.generators.registry import build_generator, check_generator_config
from karena.services.categories import classifier_from_settings, safe_category
from karena.store.api import Store
from karena.store.arena_cache import ModelRow
from karena.store.lookups import prompt_key_for
from karena.store.text import clean_prompt
from karena.store.types import BattleView, ModelInfo, PromptInfo

__all__ = ["LiveGenerators"]


class LiveGenerators:
    """A store's live generators: the in-process registry and typed-prompt battles.

    One per store and process: the web app keeps one in ``app.state.live``, and whoever
    attaches in-process generators passes it to :func:`karena.web.app.create_app`.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._generators: dict[tuple[int, str], Generator] = {}
        # Typed prompts get a category (services/categories.py); a bad setting fails here, at
        # startup, not on a voter's first prompt.
        self.classify = classifier_from_settings(store.settings)
        self._built: dict[str, Generator] = {}

    def add_model(
        self,
        *,
        arena: str,
        name: str,
        organization: str = "",
        link: str = "",
        enabled: bool = True,
        generator: Mapping[str, object] | None = None,
        exist_ok: bool = False,
    ) -> ModelInfo:
        """``store.catalog.add_model``, after checking ``generator`` is a config we can build."""
        if generator is not None:
            check_generator_config(generator)
        return self.store.catalog.add_model(
            arena=arena,
            name=name,
            organization=organization,
            link=link,
            enabled=enabled,
            generator=generator,
            exist_ok=exist_ok,
        )

    def register_generator(self, *, arena: str, model: str, generator: Generator) -> None:
        """Attach an in-process live generator (e.g. a Python callable) to a model."""
        info = self.store.catalog.get_model(arena=arena, name=model)
        self._generators[(info.arena_id, info.name)] = generator

    def plan_typed(
        self,
        *,
        arena: str,
        prompt_text: str,
        rng: np.random.Generator,
        voter_id: str | None = None,
        address_id: str | None = None,
    ) -> tuple[PromptInfo, list[ModelRow], list[int]]:
        """The stored prompt, the K models (with a live generator) a typed prompt gets, and the
        ids of those that have no output for it yet (read once, before the prompt is stored).

        A prompt that needs any generation first takes one event from the cost guard's hourly
        budgets (per voter, per ``address_id`` and for everyone: ``store.limits.live_generation``)
        and raises RateLimited when one is spent, before the prompt is stored; a prompt whose
        outputs all exist costs nothing and takes nothing.
        """
        text = clean_prompt(prompt_text)
        catalog = self.store.battles.arena_catalog(arena=arena)
        attached = {name for arena_id, name in self._generators if arena_id == catalog.id}
        live = {
            m.name
            for m in catalog.models
            if m.enabled and (m.generator is not None or m.name in attached)
        }
        if len(live) < catalog.k:
            # 409: the request is valid; the arena's state (too few live models) refuses it.
            raise Conflict(
                f"arena {arena!r} has {len(live)} models with a live generator; typed "
                f"prompts need K={catalog.k}"
            )
        picked = self.store.battles.pick_models(catalog, only=live, rng=rng)
        key = prompt_key_for(text)
        missing = [
            m.id
            for m in picked
            if self.store.catalog.find_output(arena=arena, model=m.name, prompt_key=key) is None
        ]
        if missing:
            self.store.limits.live_generation(voter_id=voter_id, address_id=address_id)
        category = safe_category(self.classify, text)
        prompt = self.store.catalog.add_prompt(
            arena=arena, text=text, source="user", category=category
        )
        return prompt, picked, missing

    def generator_for(
        self, arena_id: int, model: str, config: Mapping[str, object] | None
    ) -> Generator:
        """The model's in-process generator, else one built from its stored config.

        Built generators are kept per config, so a local pipeline loads once per process.
        """
        gen = self._generators.get((arena_id, model))
        if gen is not None:
            return gen
        key = json.dumps(config or {}, sort_keys=True, default=str)
        built = self._built.get(key)
        if built is None:
            timeout = self.store.settings.generator_timeout_seconds
            built = self._built.setdefault(key, build_generator(config or {}, timeout=timeout))
        return built

    def has_attached(self, arena_id: int, model: str) -> bool:
        """Whether a generator for this model was attached in this process."""
        return (arena_id, model) in self._generators

    def create_battle(
        self,
        *,
        arena: str,
        prompt_text: str,
        voter_id: str | None = None,
        address_id: str | None = None,
        seed: int | None = None,
    ) -> BattleView:
        """Open a battle on a user-typed prompt among the models with a live generator.

        Missing outputs are generated (and stored, so the same prompt later costs nothing)
        before the battle opens: it never shows a missing output, and a failed generation
        opens no battle. A new prompt is stored with the category the prompt classifier
        gives it (keyword rules by default; ``KARENA_PROMPT_CLASSIFIER``); one that needs any
        generation first passes the cost guard (:meth:`plan_typed`).
        """
        rng = np.random.default_rng(seed if seed is not None else secrets.randbits(64))
        prompt, picked, _ = self.plan_typed(
            arena=arena, prompt_text=prompt_text, rng=rng, voter_id=voter_id, address_id=address_id
        )
        for model in picked:
            if self.store.catalog.get_output(model_id=model.id, prompt_id=prompt.id) is not None:
                continue
            produced = self.generator_for(prompt.arena_id, model.name, model.generator).generate(
                prompt.text
            )
            self.store.catalog.add_output(
                arena=arena,
                model=model.name,
                prompt_key=prompt.key,
                data=produced.data,
                metadata=produced.metadata,
            )
        return self.store.battles.open_battle(
            arena=arena,
            prompt_id=prompt.id,
            model_ids=[m.id for m in picked],
            voter_id=voter_id,
            rng=rng,
        )
